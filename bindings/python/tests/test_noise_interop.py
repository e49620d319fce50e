"""Live handshakes against `noiseprotocol` (PyPI), an independent pure-Python Noise
implementation (on pyca/cryptography): sealwire in each role against it in the other, for IK
and XX with several cipher/hash pairs. Payloads, handshake hashes and transport messages
(including after a rekey) must agree.

Skipped if `noiseprotocol` is not installed, except under run-tests.sh, which installs it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

import sealwire

# run-tests.sh installs noiseprotocol and sets this, so there the test cannot be skipped.
if os.environ.get("SEALWIRE_REQUIRE_NOISEPROTOCOL") == "1":
    connection: Any = importlib.import_module("noise.connection")
else:
    connection = pytest.importorskip("noise.connection")

NAMES = [
    f"Noise_{pattern}_25519_{suite}"
    for pattern in ("IK", "XX")
    for suite in ("ChaChaPoly_BLAKE2s", "AESGCM_SHA256", "ChaChaPoly_SHA512", "AESGCM_BLAKE2b")
]
PROLOGUE = b"sealwire interop"


def theirs(name: str, initiator: bool, private: bytes, remote_public: bytes | None) -> Any:
    conn = connection.NoiseConnection.from_name(name.encode())
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_prologue(PROLOGUE)
    conn.set_keypair_from_private_bytes(connection.Keypair.STATIC, private)
    if remote_public is not None:
        conn.set_keypair_from_public_bytes(connection.Keypair.REMOTE_STATIC, remote_public)
    conn.start_handshake()
    return conn


def raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.mark.parametrize(
    "sealwire_initiates", [True, False], ids=["sealwire-initiator", "sealwire-responder"]
)
@pytest.mark.parametrize("name", NAMES)
def test_live_handshake(name: str, sealwire_initiates: bool) -> None:
    ours_id = sealwire.Identity.generate()
    their_key = X25519PrivateKey.generate()
    their_public = raw_public(their_key)
    ik = "_IK_" in name
    if sealwire_initiates:
        ours = sealwire.NoiseHandshake(
            name,
            initiator=True,
            identity=ours_id,
            remote=their_public if ik else None,
            prologue=PROLOGUE,
        )
        peer = theirs(name, False, raw_private(their_key), None)
    else:
        ours = sealwire.NoiseHandshake(name, initiator=False, identity=ours_id, prologue=PROLOGUE)
        peer = theirs(name, True, raw_private(their_key), ours_id.public.x25519_key if ik else None)

    turn = 0
    while not ours.is_finished:
        payload = f"handshake payload {turn}".encode()
        if ours.is_my_turn:
            got = peer.read_message(ours.write_message(payload))
        else:
            got = ours.read_message(bytes(peer.write_message(payload)))
        assert bytes(got) == payload
        turn += 1
    assert peer.handshake_finished
    assert turn == (2 if ik else 3)
    assert ours.remote_static == their_public
    assert ours.handshake_hash == peer.get_handshake_hash()

    t = ours.into_transport()
    for i in range(5):
        msg = f"sealwire -> noiseprotocol {i}".encode() * (i + 1)
        assert peer.decrypt(t.encrypt(msg)) == msg
        msg = f"noiseprotocol -> sealwire {i}".encode()
        assert t.decrypt(peer.encrypt(msg)) == msg
    big = bytes(range(256)) * 255 + bytes(range(239))  # 65519 bytes: the largest plaintext
    assert peer.decrypt(t.encrypt(big)) == big
    # REKEY (§11.3) in both directions at the same point of each stream.
    t.rekey_outgoing()
    peer.rekey_inbound_cipher()
    assert peer.decrypt(t.encrypt(b"after rekey")) == b"after rekey"
    peer.rekey_outbound_cipher()
    t.rekey_incoming()
    assert t.decrypt(peer.encrypt(b"after rekey, back")) == b"after rekey, back"
    # Their tampered message is refused and changes nothing.
    ct = bytearray(peer.encrypt(b"last"))
    ct[3] ^= 1
    with pytest.raises(sealwire.DecryptionError):
        t.decrypt(bytes(ct))
    ct[3] ^= 1
    assert t.decrypt(bytes(ct)) == b"last"


def test_wrong_static_key_against_noiseprotocol() -> None:
    """IK towards a key the noiseprotocol responder does not hold: it cannot decrypt."""
    name = NAMES[0]
    ours = sealwire.NoiseHandshake(
        name,
        initiator=True,
        identity=sealwire.Identity.generate(),
        remote=sealwire.Identity.generate().public,
        prologue=PROLOGUE,
    )
    peer = theirs(name, False, raw_private(X25519PrivateKey.generate()), None)
    with pytest.raises(InvalidTag):
        peer.read_message(ours.write_message(b"hello"))
    # And the other way: noiseprotocol calls a sealwire responder with the wrong key.
    peer = theirs(
        name,
        True,
        raw_private(X25519PrivateKey.generate()),
        raw_public(X25519PrivateKey.generate()),
    )
    resp = sealwire.NoiseHandshake(
        name, initiator=False, identity=sealwire.Identity.generate(), prologue=PROLOGUE
    )
    with pytest.raises(sealwire.DecryptionError):
        resp.read_message(bytes(peer.write_message(b"hello")))
    assert not resp.is_my_turn
