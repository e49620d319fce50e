"""Noise handshakes and transports between two Python peers."""

from __future__ import annotations

import os
import pickle
import random
from functools import partial
from typing import Any, Callable

import pytest

import sealwire
from conftest import VECTORS

XX = "Noise_XX_25519_ChaChaPoly_BLAKE2s"
IK = "Noise_IK_25519_ChaChaPoly_BLAKE2s"
XX_HFS = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256"
IK_HFS = "Noise_IKhfs_25519+MLKEM768_AESGCM_BLAKE2b"
NN = "Noise_NN_25519_AESGCM_SHA256"

Handshakes = tuple[sealwire.NoiseHandshake, sealwire.NoiseHandshake]
Transports = tuple[sealwire.NoiseTransport, sealwire.NoiseTransport]


@pytest.fixture(scope="module")
def alice() -> sealwire.Identity:
    v = VECTORS["identities"][0]
    return sealwire.Identity.from_secret_bytes(
        bytes.fromhex(v["ed25519_seed"]), bytes.fromhex(v["x25519_secret"])
    )


@pytest.fixture(scope="module")
def bob() -> sealwire.Identity:
    return sealwire.Identity.generate()


@pytest.fixture(scope="module")
def eve() -> sealwire.Identity:
    return sealwire.Identity.generate()


def xx_with_identities(
    name: str, a: sealwire.Identity, b: sealwire.Identity
) -> tuple[Handshakes, sealwire.PublicIdentity, sealwire.PublicIdentity]:
    """XX first contact: each side sends its identity payload and verifies the other's.

    Returns the finished handshakes and what each side learned (bob's view of alice, alice's
    view of bob)."""
    init = sealwire.NoiseHandshake(name, initiator=True, identity=a)
    resp = sealwire.NoiseHandshake(name, initiator=False, identity=b)
    assert resp.read_message(init.write_message()) == b""
    payload = init.read_message(resp.write_message(sealwire.noise_identity_payload(b)))
    learned_b = init.verify_identity_payload(payload)
    payload = resp.read_message(init.write_message(sealwire.noise_identity_payload(a)))
    learned_a = resp.verify_identity_payload(payload)
    assert init.is_finished and resp.is_finished
    return (init, resp), learned_a, learned_b


def ik(name: str, a: sealwire.Identity, b: sealwire.Identity, payload: bytes = b"") -> Handshakes:
    init = sealwire.NoiseHandshake(name, initiator=True, identity=a, remote=b.public)
    resp = sealwire.NoiseHandshake(name, initiator=False, identity=b)
    assert resp.read_message(init.write_message(payload)) == payload
    resp.expect_remote_identity(a.public)
    assert init.read_message(resp.write_message()) == b""
    return init, resp


def nn_transports(name: str = NN) -> Transports:
    init = sealwire.NoiseHandshake(name, initiator=True)
    resp = sealwire.NoiseHandshake(name, initiator=False)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    return init.into_transport(), resp.into_transport()


def nn_unordered() -> tuple[sealwire.NoiseUnorderedTransport, sealwire.NoiseUnorderedTransport]:
    init = sealwire.NoiseHandshake(NN, initiator=True)
    resp = sealwire.NoiseHandshake(NN, initiator=False)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    return init.into_unordered_transport(), resp.into_unordered_transport()


def exchange(a: sealwire.NoiseTransport, b: sealwire.NoiseTransport, count: int = 5) -> None:
    for i in range(count):
        msg = f"a->b {i}".encode()
        assert b.decrypt(a.encrypt(msg)) == msg
        msg = f"b->a {i}".encode() * (i + 1)
        assert a.decrypt(b.encrypt(msg)) == msg


# --- full handshakes with identities ----------------------------------------------------


@pytest.mark.parametrize("name", [XX, "Noise_XX_25519_AESGCM_SHA512", XX_HFS])
def test_xx_identity_payloads(name: str, alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    (init, resp), learned_alice, learned_bob = xx_with_identities(name, alice, bob)
    assert learned_alice == alice.public and learned_bob == bob.public
    assert isinstance(learned_bob, sealwire.PublicIdentity)
    assert learned_bob.did == bob.public.did
    assert init.remote_static == bob.public.x25519_key
    assert resp.remote_static == alice.public.x25519_key
    init.expect_remote_identity(bob.public)
    init.expect_remote_static(bob.public.x25519_key)
    assert init.handshake_hash == resp.handshake_hash
    assert len(init.handshake_hash) == (64 if "SHA512" in name else 32)
    assert init.protocol_name == resp.protocol_name == name
    assert init.is_initiator and not resp.is_initiator
    assert not init.is_my_turn and not resp.is_my_turn
    hh = init.handshake_hash
    a, b = init.into_transport(), resp.into_transport()
    assert a.handshake_hash == b.handshake_hash == hh
    assert a.remote_static == bob.public.x25519_key
    assert b.remote_static == alice.public.x25519_key
    assert a.is_initiator and not b.is_initiator
    exchange(a, b)
    assert a.sending_nonce == a.receiving_nonce == 5
    assert b.sending_nonce == b.receiving_nonce == 5


@pytest.mark.parametrize("name", [IK, "Noise_IK_25519_ChaChaPoly_SHA256", IK_HFS])
def test_ik(name: str, alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init, resp = ik(name, alice, bob, payload=b"0-RTT hello")
    assert resp.remote_static == alice.public.x25519_key
    assert init.remote_static == bob.public.x25519_key
    assert init.handshake_hash == resp.handshake_hash
    a, b = init.into_transport(), resp.into_transport()
    exchange(a, b, 20)


def test_ik_identity_payload_in_first_message(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    """In IK the first payload is already encrypted: the initiator can present its identity."""
    init = sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bob.public)
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob)
    payload = resp.read_message(init.write_message(sealwire.noise_identity_payload(alice)))
    assert resp.verify_identity_payload(payload) == alice.public


def test_remote_as_raw_key_equals_identity(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    prologue = b"app v1"
    for remote in (bob.public, bob.public.x25519_key, bytearray(bob.public.x25519_key)):
        init = sealwire.NoiseHandshake(
            IK, initiator=True, identity=alice, remote=remote, prologue=prologue
        )
        resp = sealwire.NoiseHandshake(
            IK, initiator=False, identity=bob, prologue=memoryview(prologue)
        )
        resp.read_message(init.write_message(b"x"))
        init.read_message(resp.write_message(b"y"))
        exchange(init.into_transport(), resp.into_transport(), 1)


def test_hfs_message_sizes(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(XX_HFS, initiator=True, identity=alice)
    resp = sealwire.NoiseHandshake(XX_HFS, initiator=False, identity=bob)
    sizes = []
    for writer, reader in ((init, resp), (resp, init), (init, resp)):
        m = writer.write_message()
        sizes.append(len(m))
        reader.read_message(m)
    assert sizes == [1216, 1200, 64]
    init = sealwire.NoiseHandshake(IK_HFS, initiator=True, identity=alice, remote=bob.public)
    resp = sealwire.NoiseHandshake(IK_HFS, initiator=False, identity=bob)
    m1 = init.write_message()
    resp.read_message(m1)
    m2 = resp.write_message()
    init.read_message(m2)
    assert (len(m1), len(m2)) == (1296, 1152)


def test_hfs_tampered_kem_ciphertext_fails(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    init = sealwire.NoiseHandshake(XX_HFS, initiator=True, identity=alice)
    resp = sealwire.NoiseHandshake(XX_HFS, initiator=False, identity=bob)
    resp.read_message(init.write_message())
    m2 = resp.write_message()
    bad = bytearray(m2)
    bad[32 + 600] ^= 0x01  # inside the encrypted ekem1
    with pytest.raises(sealwire.DecryptionError):
        init.read_message(bad)
    init.read_message(m2)  # the genuine message still works
    resp.read_message(init.write_message())
    exchange(init.into_transport(), resp.into_transport(), 1)


def test_one_way_pattern(bob: sealwire.Identity) -> None:
    name = "Noise_N_25519_ChaChaPoly_SHA256"
    init = sealwire.NoiseHandshake(name, initiator=True, remote=bob.public)
    resp = sealwire.NoiseHandshake(name, initiator=False, identity=bob)
    assert resp.read_message(init.write_message(b"sealed")) == b"sealed"
    a, b = init.into_transport(), resp.into_transport()
    assert b.decrypt(a.encrypt(b"one way")) == b"one way"
    assert a.receiving_nonce is None and b.sending_nonce is None
    assert a.remote_static == bob.public.x25519_key and b.remote_static is None
    with pytest.raises(sealwire.ProtocolError) as info:
        b.encrypt(b"back")
    assert info.value.code == "ERR_SEALWIRE_OUT_OF_TURN"
    with pytest.raises(sealwire.ProtocolError):
        a.decrypt(bytes(32))


def test_psk_patterns(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    name = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s"
    psk = os.urandom(32)
    init = sealwire.NoiseHandshake(name, initiator=True, identity=alice, psks={3: psk})
    resp = sealwire.NoiseHandshake(name, initiator=False, identity=bob, psks={3: bytearray(psk)})
    for writer, reader in ((init, resp), (resp, init), (init, resp)):
        reader.read_message(writer.write_message())
    exchange(init.into_transport(), resp.into_transport(), 1)
    # Two psks, any Mapping.
    name = "Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA512"
    psks = {0: os.urandom(32), 2: os.urandom(32)}
    init = sealwire.NoiseHandshake(name, initiator=True, psks=psks)
    resp = sealwire.NoiseHandshake(name, initiator=False, psks=dict(psks))
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    exchange(init.into_transport(), resp.into_transport(), 1)
    # A wrong psk fails authentication.
    init = sealwire.NoiseHandshake(name, initiator=True, psks=psks)
    resp = sealwire.NoiseHandshake(name, initiator=False, psks={0: psks[0], 2: bytes(32)})
    resp.read_message(init.write_message())
    with pytest.raises(sealwire.DecryptionError):
        init.read_message(resp.write_message())


def test_psk_argument_errors() -> None:
    name = "Noise_NNpsk0_25519_ChaChaPoly_SHA256"
    with pytest.raises(sealwire.ParameterError):  # missing
        sealwire.NoiseHandshake(name, initiator=True)
    with pytest.raises(sealwire.ParameterError):  # location not in the pattern
        sealwire.NoiseHandshake(name, initiator=True, psks={0: bytes(32), 1: bytes(32)})
    with pytest.raises(sealwire.ParameterError):  # not a u8
        sealwire.NoiseHandshake(name, initiator=True, psks={300: bytes(32)})
    with pytest.raises(sealwire.ParameterError):
        sealwire.NoiseHandshake(name, initiator=True, psks={-1: bytes(32)})
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.NoiseHandshake(name, initiator=True, psks={0: bytes(31)})
    assert info.value.code == "ERR_SEALWIRE_INVALID_LENGTH"
    for bad in ([bytes(32)], b"psk", {"0": bytes(32)}, {0: "text"}):
        with pytest.raises(TypeError):
            sealwire.NoiseHandshake(name, initiator=True, psks=bad)  # type: ignore[arg-type]


# --- configuration errors ----------------------------------------------------------------


def test_configuration_errors(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    cases: list[tuple[Callable[[], object], type[sealwire.SealwireError], str]] = [
        (
            lambda: sealwire.NoiseHandshake("Noise_XX", initiator=True),
            sealwire.DecodeError,
            "ERR_SEALWIRE_MALFORMED",
        ),
        (
            lambda: sealwire.NoiseHandshake("Noise_XX_448_ChaChaPoly_SHA256", initiator=True),
            sealwire.DecodeError,
            "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM",
        ),
        (
            lambda: sealwire.NoiseHandshake("Noise_X1K_25519_ChaChaPoly_SHA256", initiator=True),
            sealwire.DecodeError,
            "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM",
        ),
        (
            lambda: sealwire.NoiseHandshake(XX, initiator=True),
            sealwire.ParameterError,
            "ERR_SEALWIRE_INVALID_PARAMETER",
        ),
        (
            lambda: sealwire.NoiseHandshake(NN, initiator=True, identity=alice),
            sealwire.ParameterError,
            "ERR_SEALWIRE_INVALID_PARAMETER",
        ),
        (
            lambda: sealwire.NoiseHandshake(IK, initiator=True, identity=alice),
            sealwire.ParameterError,
            "ERR_SEALWIRE_INVALID_PARAMETER",
        ),
        (
            lambda: sealwire.NoiseHandshake(NN, initiator=True, remote=bob.public),
            sealwire.ParameterError,
            "ERR_SEALWIRE_INVALID_PARAMETER",
        ),
        (
            lambda: sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bytes(31)),
            sealwire.DecodeError,
            "ERR_SEALWIRE_INVALID_LENGTH",
        ),
        (
            lambda: sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bytes(32)),
            sealwire.InvalidKeyError,
            "ERR_SEALWIRE_INVALID_PUBLIC_KEY",
        ),
    ]
    for call, cls, code in cases:
        with pytest.raises(cls) as info:
            call()
        assert info.value.code == code


def test_argument_types(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    untyped: Any = sealwire.NoiseHandshake  # mypy versions disagree on the next error code
    with pytest.raises(TypeError):
        untyped(IK, True, identity=alice)
    with pytest.raises(TypeError):
        sealwire.NoiseHandshake(IK, identity=alice, remote=bob.public)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        sealwire.NoiseHandshake(IK, initiator=1, identity=alice)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="PublicIdentity or a bytes-like"):
        sealwire.NoiseHandshake(IK, initiator=True, remote="key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sealwire.NoiseHandshake(IK, initiator=True, identity=bob.public)  # type: ignore[arg-type]
    init, _ = ik(IK, alice, bob)
    with pytest.raises(TypeError):
        init.expect_remote_identity(bob.public.x25519_key)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        init.read_message("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sealwire.noise_identity_payload(alice.public)  # type: ignore[arg-type]


# --- bad input during the handshake -------------------------------------------------------


@pytest.mark.parametrize("name", [IK, XX_HFS, IK_HFS])
def test_truncated_first_message_then_genuine(
    name: str, alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    remote = bob.public if "IK" in name else None
    init = sealwire.NoiseHandshake(name, initiator=True, identity=alice, remote=remote)
    resp = sealwire.NoiseHandshake(name, initiator=False, identity=bob)
    m1 = init.write_message(b"payload")
    # XXhfs's first message has no key yet: its payload is in clear, unauthenticated (like
    # XX's), so only cuts before the payload are detectable there.
    end = len(m1) - len(b"payload") if "XX" in name else len(m1)
    offsets = sorted({0, 1, 31, 32, 33, 47, 48, 79, 80, end // 2, end - 17, end - 1})
    for cut in offsets:
        with pytest.raises((sealwire.DecodeError, sealwire.DecryptionError)) as info:
            resp.read_message(m1[:cut])
        assert info.value.code in {"ERR_SEALWIRE_TRUNCATED", "ERR_SEALWIRE_DECRYPTION_FAILED"}
        assert not resp.is_my_turn
    if "IK" in name:
        with pytest.raises(sealwire.DecryptionError):
            resp.read_message(m1 + b"\x00")  # one byte too many: the payload tag fails
    assert resp.read_message(m1) == b"payload"
    m2 = resp.write_message(b"reply")
    for cut in (0, 31, 32, len(m2) - 1):
        with pytest.raises((sealwire.DecodeError, sealwire.DecryptionError)):
            init.read_message(m2[:cut])
    assert init.read_message(m2) == b"reply"
    if "XX" in name:
        resp.read_message(init.write_message())
    exchange(init.into_transport(), resp.into_transport(), 1)


def test_tampered_handshake_message_then_genuine(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    init = sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bob.public)
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob)
    m1 = init.write_message(b"hi")
    hh = resp.handshake_hash
    for pos in (0, 40, len(m1) - 1):
        bad = bytearray(m1)
        bad[pos] ^= 0x80
        with pytest.raises(sealwire.SealwireError):
            resp.read_message(bad)
        assert resp.handshake_hash == hh
    assert resp.read_message(m1) == b"hi"


def test_wrong_remote_static_key(
    alice: sealwire.Identity, bob: sealwire.Identity, eve: sealwire.Identity
) -> None:
    # IK towards the wrong key: bob cannot decrypt the initiator's static key.
    init = sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=eve.public)
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob)
    with pytest.raises(sealwire.DecryptionError):
        resp.read_message(init.write_message())
    # XX expecting eve, but bob answers: the message carrying bob's key is refused.
    init = sealwire.NoiseHandshake(XX, initiator=True, identity=alice, remote=eve.public)
    resp = sealwire.NoiseHandshake(XX, initiator=False, identity=bob)
    resp.read_message(init.write_message())
    with pytest.raises(sealwire.RemoteKeyMismatchError) as info:
        init.read_message(resp.write_message())
    assert info.value.code == "ERR_SEALWIRE_REMOTE_KEY_MISMATCH"
    assert not isinstance(info.value, ValueError)
    # After IK, the responder checks who called.
    _, resp = ik(IK, alice, bob)
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        resp.expect_remote_identity(eve.public)
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        resp.expect_remote_static(eve.public.x25519_key)
    with pytest.raises(sealwire.DecodeError):
        resp.expect_remote_static(b"short")


def test_identity_payload_of_someone_else(
    alice: sealwire.Identity, bob: sealwire.Identity, eve: sealwire.Identity
) -> None:
    """Bob proves his static key but presents eve's identity: refused."""
    init = sealwire.NoiseHandshake(XX, initiator=True, identity=alice)
    resp = sealwire.NoiseHandshake(XX, initiator=False, identity=bob)
    resp.read_message(init.write_message())
    payload = init.read_message(resp.write_message(sealwire.noise_identity_payload(eve)))
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        init.verify_identity_payload(payload)
    with pytest.raises(sealwire.DecodeError):
        init.verify_identity_payload(payload[:-1])
    forged = bytearray(sealwire.noise_identity_payload(bob))
    forged[-1] ^= 1  # break the binding signature
    with pytest.raises(sealwire.SignatureError):
        init.verify_identity_payload(forged)
    assert init.verify_identity_payload(sealwire.noise_identity_payload(bob)) == bob.public


def test_remote_key_unknown_yet(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(XX, initiator=True, identity=alice)
    assert init.remote_static is None
    with pytest.raises(sealwire.ProtocolError) as info:
        init.expect_remote_identity(bob.public)
    assert info.value.code == "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE"
    with pytest.raises(sealwire.ProtocolError):
        init.verify_identity_payload(sealwire.noise_identity_payload(bob))


def test_out_of_turn(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(XX, initiator=True, identity=alice)
    resp = sealwire.NoiseHandshake(XX, initiator=False, identity=bob)
    assert init.is_my_turn and not resp.is_my_turn
    out_of_turn: list[Callable[[], object]] = [
        resp.write_message,
        lambda: init.read_message(bytes(32)),
    ]
    for call in out_of_turn:
        with pytest.raises(sealwire.ProtocolError) as info:
            call()
        assert info.value.code == "ERR_SEALWIRE_OUT_OF_TURN"
        assert "turn" in str(info.value)
    m1 = init.write_message()
    with pytest.raises(sealwire.ProtocolError):
        init.write_message()
    resp.read_message(m1)  # nothing was disturbed


def test_handshake_complete_and_incomplete(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    init = sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bob.public)
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob)
    m1 = init.write_message()
    for hs in (init, resp):
        with pytest.raises(sealwire.ProtocolError) as info:
            hs.into_transport()
        assert info.value.code == "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE"
        with pytest.raises(sealwire.ProtocolError):
            hs.into_unordered_transport()
    resp.read_message(m1)  # still usable after the refused into_transport()
    init.read_message(resp.write_message())
    for hs in (init, resp):
        assert hs.is_finished and not hs.is_my_turn
        after: list[Callable[[], object]] = [hs.write_message, partial(hs.read_message, bytes(64))]
        for call in after:
            with pytest.raises(sealwire.ProtocolError) as info:
                call()
            assert info.value.code == "ERR_SEALWIRE_HANDSHAKE_COMPLETE"
    exchange(init.into_transport(), resp.into_transport(), 1)


def test_handshake_unusable_after_into_transport(
    alice: sealwire.Identity, bob: sealwire.Identity
) -> None:
    init, resp = ik(IK, alice, bob)
    init.into_transport()
    resp.into_unordered_transport()
    calls: list[Callable[[sealwire.NoiseHandshake], object]] = [
        lambda h: h.write_message(),
        lambda h: h.read_message(b""),
        lambda h: h.is_finished,
        lambda h: h.is_my_turn,
        lambda h: h.is_initiator,
        lambda h: h.protocol_name,
        lambda h: h.handshake_hash,
        lambda h: h.remote_static,
        lambda h: h.expect_remote_identity(bob.public),
        lambda h: h.expect_remote_static(bob.public.x25519_key),
        lambda h: h.verify_identity_payload(sealwire.noise_identity_payload(bob)),
        lambda h: h.into_transport(),
        lambda h: h.into_unordered_transport(),
    ]
    for hs in (init, resp):
        for call in calls:
            with pytest.raises(sealwire.ProtocolError) as info:
                call(hs)
            assert info.value.code == "ERR_SEALWIRE_HANDSHAKE_COMPLETE"
            assert "turned into a transport" in str(info.value)
        assert repr(hs) == "<NoiseHandshake (turned into a transport)>"


def test_too_large_handshake_messages(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(XX, initiator=True, identity=alice)
    resp = sealwire.NoiseHandshake(XX, initiator=False, identity=bob)
    with pytest.raises(sealwire.ParameterError) as info:
        init.write_message(bytes(65535 - 32 + 1))
    assert info.value.code == "ERR_SEALWIRE_MESSAGE_TOO_LARGE"
    assert isinstance(info.value, ValueError)
    m1 = init.write_message(bytes(65535 - 32))  # exactly the limit
    assert len(m1) == 65535
    with pytest.raises(sealwire.ParameterError) as info:
        resp.read_message(m1 + b"\x00")
    assert info.value.code == "ERR_SEALWIRE_MESSAGE_TOO_LARGE"
    assert resp.read_message(m1) == bytes(65535 - 32)


def test_prologue_mismatch(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(
        IK, initiator=True, identity=alice, remote=bob.public, prologue=b"v1"
    )
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob, prologue=b"v2")
    with pytest.raises(sealwire.DecryptionError):
        resp.read_message(init.write_message())


def test_ephemeral_keys_are_fresh(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    a1, _ = ik(IK, alice, bob)
    a2, _ = ik(IK, alice, bob)
    assert a1.handshake_hash != a2.handshake_hash


# --- ordered transport ----------------------------------------------------------------------


def test_transport_inputs_outputs_and_limits() -> None:
    a, b = nn_transports()
    for data in (b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), b""):
        ct = a.encrypt(data)
        assert isinstance(ct, bytes) and len(ct) == len(bytes(data)) + 16
        pt = b.decrypt(bytearray(ct))
        assert isinstance(pt, bytes) and pt == bytes(data)
    assert b.decrypt(a.encrypt(bytes(65519))) == bytes(65519)
    with pytest.raises(sealwire.ParameterError) as info:
        a.encrypt(bytes(65520))
    assert info.value.code == "ERR_SEALWIRE_MESSAGE_TOO_LARGE"
    with pytest.raises(sealwire.ParameterError):
        b.decrypt(bytes(65536))
    with pytest.raises(sealwire.DecodeError) as dinfo:
        b.decrypt(bytes(15))
    assert dinfo.value.code == "ERR_SEALWIRE_TRUNCATED"
    assert a.sending_nonce == b.receiving_nonce == 5


def test_transport_failure_changes_nothing() -> None:
    a, b = nn_transports()
    c1, c2 = a.encrypt(b"first"), a.encrypt(b"second")
    with pytest.raises(sealwire.DecryptionError):
        b.decrypt(c2)  # out of order
    bad = bytearray(c1)
    bad[0] ^= 1
    with pytest.raises(sealwire.DecryptionError) as info:
        b.decrypt(bad)
    assert info.value.code == "ERR_SEALWIRE_DECRYPTION_FAILED"
    assert not isinstance(info.value, sealwire.ReplayError)
    assert b.receiving_nonce == 0
    assert b.decrypt(c1) == b"first" and b.decrypt(c2) == b"second"
    with pytest.raises(sealwire.DecryptionError):
        b.decrypt(c2)  # replay on an ordered transport: the nonce moved on


def test_framed_large_payload() -> None:
    a, b = nn_transports("Noise_NN_25519_ChaChaPoly_BLAKE2b")
    payload = os.urandom(200_000)
    framed = a.encrypt_framed(bytearray(payload))
    frames = -(-len(payload) // 65518)
    assert a.sending_nonce == frames == 4
    assert len(framed) == len(payload) + frames * (2 + 1 + 16)
    # Truncated anywhere, or extended: refused, and the receiver is unchanged.
    for cut in (0, 1, 2, 100, 65537, 65537 + 2, len(framed) - 1):
        with pytest.raises((sealwire.DecodeError, sealwire.DecryptionError)):
            b.decrypt_framed(framed[:cut])
        assert b.receiving_nonce == 0
    with pytest.raises(sealwire.DecodeError) as info:
        b.decrypt_framed(framed[: 2 + 65535])  # a whole first frame, final flag missing
    assert info.value.code == "ERR_SEALWIRE_TRUNCATED"
    with pytest.raises(sealwire.DecodeError) as info:
        b.decrypt_framed(framed + b"\x00")
    assert info.value.code == "ERR_SEALWIRE_TRAILING_BYTES"
    assert b.receiving_nonce == 0
    assert b.decrypt_framed(memoryview(framed)) == payload
    assert b.receiving_nonce == frames
    # Empty and small payloads, the other way.
    for data in (b"", b"x", os.urandom(65518), os.urandom(65519)):
        assert a.decrypt_framed(b.encrypt_framed(data)) == data
    # Plain messages continue to work on the same transports.
    exchange(a, b, 1)


def test_explicit_rekey() -> None:
    a, b = nn_transports()
    c_before = a.encrypt(b"before")
    a.rekey_outgoing()
    c_after = a.encrypt(b"after")
    assert b.decrypt(c_before) == b"before"
    with pytest.raises(sealwire.DecryptionError):
        b.decrypt(c_after)  # b has not rekeyed yet
    b.rekey_incoming()
    assert b.decrypt(c_after) == b"after"
    assert a.sending_nonce == 2  # rekeying does not reset the counter
    b.rekey_outgoing()
    a.rekey_incoming()
    exchange(a, b, 3)


def test_rekey_interval() -> None:
    a, b = nn_transports()
    a.set_rekey_interval(3)
    b.set_rekey_interval(3)
    exchange(a, b, 10)
    # Mismatched intervals break the stream after the first rekey point.
    a, b = nn_transports()
    a.set_rekey_interval(2)
    for _ in range(2):
        assert b.decrypt(a.encrypt(b"m")) == b"m"
    with pytest.raises(sealwire.DecryptionError):
        b.decrypt(a.encrypt(b"m"))
    for bad in (-1, 2**64):
        with pytest.raises(sealwire.ParameterError):
            a.set_rekey_interval(bad)
    with pytest.raises(TypeError):
        a.set_rekey_interval(1.5)  # type: ignore[arg-type]
    a.set_rekey_interval(2**64 - 1)
    a.set_rekey_interval(0)


# --- unordered transport ----------------------------------------------------------------------


def test_unordered_reordering_and_replay() -> None:
    a, b = nn_unordered()
    messages = [a.encrypt(f"datagram {i}".encode()) for i in range(200)]
    assert a.sending_nonce == 200
    assert all(int.from_bytes(m[:8], "big") == i for i, m in enumerate(messages))
    order = list(range(200))
    random.Random(7).shuffle(order)
    for i in order:
        assert b.decrypt(messages[i]) == f"datagram {i}".encode()
    for i in (0, 57, 199):
        with pytest.raises(sealwire.ReplayError) as info:
            b.decrypt(messages[i])
        assert info.value.code == "ERR_SEALWIRE_REPLAY"
        assert isinstance(info.value, sealwire.DecryptionError)
    # The other direction, and a tampered datagram (not a replay, and not recorded).
    back = b.encrypt(b"reply")
    bad = bytearray(back)
    bad[-1] ^= 1
    with pytest.raises(sealwire.DecryptionError) as dinfo:
        a.decrypt(bad)
    assert type(dinfo.value) is sealwire.DecryptionError
    bad = bytearray(back)
    bad[7] ^= 1  # the nonce is authenticated
    with pytest.raises(sealwire.DecryptionError):
        a.decrypt(bad)
    assert a.decrypt(back) == b"reply"
    with pytest.raises(sealwire.DecodeError):
        a.decrypt(back[:23])
    assert a.handshake_hash == b.handshake_hash
    assert a.remote_static is None and a.is_initiator and not b.is_initiator


def test_unordered_replay_window() -> None:
    a, b = nn_unordered()
    first = a.encrypt(b"old")
    for _ in range(1024):
        a.encrypt(b"lost")
    newest = a.encrypt(b"new")  # nonce 1025
    assert b.decrypt(newest) == b"new"
    with pytest.raises(sealwire.ReplayError, match="older"):
        b.decrypt(first)


def test_unordered_limits_and_rekey() -> None:
    a, b = nn_unordered()
    with pytest.raises(sealwire.ParameterError):
        a.encrypt(bytes(65512))
    with pytest.raises(sealwire.ParameterError):
        a.set_rekey_interval(100)  # below the replay window
    a.set_rekey_interval(1024)
    b.set_rekey_interval(1024)
    m = a.encrypt(bytes(65511))
    assert len(m) == 65535 and b.decrypt(m) == bytes(65511)
    with pytest.raises(sealwire.ParameterError):
        a.set_rekey_interval(2048)  # too late: a message was sent
    # Across epochs, in a shuffled order within the window.
    sent = [(i, a.encrypt(i.to_bytes(4, "big"))) for i in range(1, 2600)]
    rng = random.Random(3)
    for start in range(0, len(sent), 300):
        block = sent[start : start + 300]
        rng.shuffle(block)
        for i, ct in block:
            assert b.decrypt(ct) == i.to_bytes(4, "big")
    assert a.sending_nonce == 2600


# --- objects ------------------------------------------------------------------------------------


def test_repr_reveals_nothing(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init = sealwire.NoiseHandshake(IK, initiator=True, identity=alice, remote=bob.public)
    assert repr(init) == f"<NoiseHandshake {IK} initiator, in progress>"
    resp = sealwire.NoiseHandshake(IK, initiator=False, identity=bob)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    assert repr(resp) == f"<NoiseHandshake {IK} responder, finished>"
    a, b = init.into_transport(), resp.into_unordered_transport()
    assert repr(a) == "<NoiseTransport>" and repr(b) == "<NoiseUnorderedTransport>"
    for obj in (init, resp, a, b):
        text = repr(obj) + str(obj)
        for secret in (alice.public.x25519_key.hex(), bob.public.did, a.handshake_hash.hex()):
            assert secret not in text


def test_not_picklable_and_final(alice: sealwire.Identity, bob: sealwire.Identity) -> None:
    init, resp = ik(IK, alice, bob)
    t = resp.into_transport()
    for obj in (init, t):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
    for cls in (sealwire.NoiseHandshake, sealwire.NoiseTransport, sealwire.NoiseUnorderedTransport):
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})
    for cls2 in (sealwire.NoiseTransport, sealwire.NoiseUnorderedTransport):
        with pytest.raises(TypeError):
            cls2()


def test_identity_payload_is_public_identity_encoding(alice: sealwire.Identity) -> None:
    payload = sealwire.noise_identity_payload(alice)
    assert isinstance(payload, bytes)
    assert (
        payload
        == alice.public.to_bytes()
        == bytes.fromhex(VECTORS["identities"][0]["public_identity"])
    )
