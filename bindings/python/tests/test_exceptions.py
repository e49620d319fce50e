"""The exception hierarchy defined in sealwire/exceptions.py and raised from Rust."""

from __future__ import annotations

import pickle
from typing import Callable

import pytest

import sealwire
import sealwire.exceptions
from conftest import VECTORS

SUBCLASSES = [
    sealwire.DecodeError,
    sealwire.InvalidKeyError,
    sealwire.SignatureError,
    sealwire.DecryptionError,
    sealwire.ParameterError,
    sealwire.RandomnessError,
    sealwire.ReplayError,
    sealwire.RemoteKeyMismatchError,
    sealwire.ProtocolError,
]


def test_hierarchy() -> None:
    assert issubclass(sealwire.SealwireError, Exception)
    for cls in SUBCLASSES:
        assert issubclass(cls, sealwire.SealwireError)
        assert cls.__module__ == "sealwire.exceptions"
        assert getattr(sealwire, cls.__name__) is getattr(sealwire.exceptions, cls.__name__)
    for cls in (sealwire.DecodeError, sealwire.InvalidKeyError, sealwire.ParameterError):
        assert issubclass(cls, ValueError)
    for cls in (
        sealwire.SignatureError,
        sealwire.DecryptionError,
        sealwire.RandomnessError,
        sealwire.ReplayError,
        sealwire.RemoteKeyMismatchError,
        sealwire.ProtocolError,
    ):
        assert not issubclass(cls, ValueError)
    assert issubclass(sealwire.ReplayError, sealwire.DecryptionError)
    for cls in (sealwire.RemoteKeyMismatchError, sealwire.ProtocolError):
        assert cls.__bases__ == (sealwire.SealwireError,)


def test_raised_errors_are_the_python_classes() -> None:
    with pytest.raises(sealwire.SealwireError) as info:
        sealwire.PublicIdentity.from_bytes(b"")
    err = info.value
    assert type(err) is sealwire.exceptions.DecodeError
    assert err.code == "ERR_SEALWIRE_TRUNCATED"
    assert "truncated" in str(err)
    assert err.args == (str(err),)


@pytest.mark.parametrize("cls", [sealwire.SealwireError, *SUBCLASSES])
def test_pickle_keeps_code(cls: type[sealwire.SealwireError]) -> None:
    err = cls("message", "ERR_SEALWIRE_TEST")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert str(again) == "message" and again.code == "ERR_SEALWIRE_TEST"


def test_pickle_raised_error() -> None:
    with pytest.raises(sealwire.DecryptionError) as info:
        sealwire.Identity.from_encrypted(
            bytes.fromhex(VECTORS["exports"][0]["blob"]),
            "wrong",
        )
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is sealwire.DecryptionError
    assert again.code == "ERR_SEALWIRE_DECRYPTION_FAILED"


def test_public_names() -> None:
    assert set(sealwire.__all__) == {
        "__version__",
        "Identity",
        "PublicIdentity",
        "SealwireError",
        "DecodeError",
        "InvalidKeyError",
        "SignatureError",
        "DecryptionError",
        "ParameterError",
        "RandomnessError",
        "ReplayError",
        "RemoteKeyMismatchError",
        "ProtocolError",
        "NoiseHandshake",
        "NoiseTransport",
        "NoiseUnorderedTransport",
        "noise_identity_payload",
    }
    for name in sealwire.__all__:
        assert hasattr(sealwire, name)


def test_noise_codes_map_to_documented_classes() -> None:
    """Every Noise error kind, provoked for real, surfaces as the class exceptions.py lists."""
    init = sealwire.NoiseHandshake("Noise_NN_25519_ChaChaPoly_SHA256", initiator=True)
    resp = sealwire.NoiseHandshake("Noise_NN_25519_ChaChaPoly_SHA256", initiator=False)
    seen: dict[str, type[BaseException]] = {}

    def record(call: Callable[[], object]) -> None:
        with pytest.raises(sealwire.SealwireError) as info:
            call()
        seen[info.value.code] = type(info.value)

    record(resp.write_message)  # out of turn
    record(init.into_transport)  # incomplete
    record(lambda: init.write_message(bytes(65536)))  # too large
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    record(init.write_message)  # complete
    a, b = init.into_unordered_transport(), resp.into_unordered_transport()
    record(init.write_message)  # turned into a transport
    record(lambda: b.decrypt(b"\xff" * 8 + bytes(16)))  # nonce 2**64 - 1
    m = a.encrypt(b"x")
    b.decrypt(m)
    record(lambda: b.decrypt(m))  # replay
    x = sealwire.Identity.generate()
    y = sealwire.Identity.generate()
    i2 = sealwire.NoiseHandshake("Noise_XX_25519_ChaChaPoly_SHA256", initiator=True, identity=x)
    r2 = sealwire.NoiseHandshake("Noise_XX_25519_ChaChaPoly_SHA256", initiator=False, identity=y)
    r2.read_message(i2.write_message())
    i2.read_message(r2.write_message())
    record(lambda: i2.expect_remote_identity(x.public))  # mismatch
    assert seen == {
        "ERR_SEALWIRE_OUT_OF_TURN": sealwire.ProtocolError,
        "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE": sealwire.ProtocolError,
        "ERR_SEALWIRE_HANDSHAKE_COMPLETE": sealwire.ProtocolError,
        "ERR_SEALWIRE_NONCE_EXHAUSTED": sealwire.ProtocolError,
        "ERR_SEALWIRE_MESSAGE_TOO_LARGE": sealwire.ParameterError,
        "ERR_SEALWIRE_REPLAY": sealwire.ReplayError,
        "ERR_SEALWIRE_REMOTE_KEY_MISMATCH": sealwire.RemoteKeyMismatchError,
    }
