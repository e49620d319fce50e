"""The exception hierarchy defined in sealwire/exceptions.py and raised from Rust."""

from __future__ import annotations

import pickle
import re
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
    sealwire.ContextMismatchError,
    sealwire.KeyNotAvailableError,
    sealwire.ProviderError,
    sealwire.StorageError,
    sealwire.StaleStateError,
    sealwire.RelayError,
]


def test_hierarchy() -> None:
    assert issubclass(sealwire.SealwireError, Exception)
    for cls in SUBCLASSES:
        assert issubclass(cls, sealwire.SealwireError)
        assert cls.__module__ == "sealwire.exceptions"
        assert getattr(sealwire, cls.__name__) is getattr(sealwire.exceptions, cls.__name__)
    for cls in (sealwire.DecodeError, sealwire.InvalidKeyError, sealwire.ParameterError):
        assert issubclass(cls, ValueError)
    for cls in SUBCLASSES:
        if cls not in (sealwire.DecodeError, sealwire.InvalidKeyError, sealwire.ParameterError):
            assert not issubclass(cls, ValueError)
    assert issubclass(sealwire.ReplayError, sealwire.DecryptionError)
    assert issubclass(sealwire.KeyNotAvailableError, LookupError)
    assert issubclass(sealwire.StorageError, OSError)
    for cls in (
        sealwire.RemoteKeyMismatchError,
        sealwire.ProtocolError,
        sealwire.ContextMismatchError,
        sealwire.ProviderError,
        sealwire.StaleStateError,
        sealwire.RelayError,
    ):
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
        "ContextMismatchError",
        "KeyNotAvailableError",
        "ProviderError",
        "StorageError",
        "StaleStateError",
        "RelayError",
        "seal",
        "unseal",
        "rewrap",
        "seal_file",
        "unseal_file",
        "provider_info",
        "EnvelopeWriter",
        "EnvelopeReader",
        "EnvelopeHeader",
        "KeyProvider",
        "WrapContext",
        "Keyring",
        "KeyringKey",
        "KeyVersionInfo",
        "RootKey",
        "PrekeyBundle",
        "Messenger",
        "OutboxRecord",
        "Received",
        "InboxRecord",
        "ReceiveCommit",
        "SessionStore",
        "MemorySessionStore",
        "PrekeyStore",
        "RatchetSession",
        "XWingKeyPair",
        "XWingPublicKey",
        "KmsKey",
        "KmsStats",
        "DataKeyCache",
        "DataKeyCacheStats",
        "RelayClient",
        "RelayAgent",
        "PrekeyStatus",
        "ReceiveReport",
        "Agent",
        "AgentStats",
        "ChannelInfo",
        "ConfigFinding",
        "ConfigReport",
        "FlushReport",
        "KnownPeer",
        "MaintainReport",
        "SecurityConfig",
        "SendReport",
        "check_config",
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


def documented_table() -> dict[str, str]:
    """The "Code → class" table of sealwire/exceptions.py's docstring, parsed."""
    doc = sealwire.exceptions.__doc__
    assert doc is not None
    block = doc.split("Code → class")[1].split("::\n\n", 1)[1].split("\n\n", 1)[0]
    table: dict[str, str] = {}
    pending: list[str] = []
    for line in block.splitlines():
        words = re.findall(r"[A-Za-z_]+", line)
        if words and words[-1].endswith("Error"):
            *codes, cls = words
            for code in pending + codes:
                table["ERR_SEALWIRE_" + code] = cls
            pending = []
        else:
            pending += words
    assert not pending
    return table


def test_every_core_code_is_mapped_explicitly_and_documented() -> None:
    """The binding maps every kind core defines (ErrorKind::ALL, 35 today) to a class other
    than the SealwireError fallback, and exceptions.py documents exactly that table."""
    native = dict(sealwire._native._error_classes())
    assert len(native) == len(sealwire._native._error_classes()) >= 35
    assert "SealwireError" not in native.values()
    assert documented_table() == native
    for name in set(native.values()):
        assert issubclass(getattr(sealwire, name), sealwire.SealwireError)


@pytest.mark.parametrize("code,name", sealwire._native._error_classes())
def test_every_code_raises_its_class(code: str, name: str) -> None:
    with pytest.raises(sealwire.SealwireError) as info:
        sealwire._native._raise_error(code)
    assert type(info.value) is getattr(sealwire, name)
    assert info.value.code == code
    # Each class's docstring names each of its codes.
    assert code in (type(info.value).__doc__ or "")


def test_unknown_code_for_the_test_hook() -> None:
    with pytest.raises(ValueError):
        sealwire._native._raise_error("ERR_SEALWIRE_NOPE")


def test_storage_error_pickles_with_os_fields() -> None:
    err = sealwire.StorageError("msg", "ERR_SEALWIRE_IO")
    err.errno, err.strerror, err.filename = 2, "No such file or directory", "/x"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is sealwire.StorageError and again.code == "ERR_SEALWIRE_IO"
    assert (again.errno, again.strerror, again.filename) == (2, "No such file or directory", "/x")
    assert str(again) == str(err) == "[Errno 2] No such file or directory: '/x'"
