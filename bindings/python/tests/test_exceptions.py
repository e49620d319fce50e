"""The exception hierarchy defined in sealwire/exceptions.py and raised from Rust."""

from __future__ import annotations

import pickle

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
]


def test_hierarchy() -> None:
    assert issubclass(sealwire.SealwireError, Exception)
    for cls in SUBCLASSES:
        assert issubclass(cls, sealwire.SealwireError)
        assert cls.__module__ == "sealwire.exceptions"
        assert getattr(sealwire, cls.__name__) is getattr(sealwire.exceptions, cls.__name__)
    for cls in (sealwire.DecodeError, sealwire.InvalidKeyError, sealwire.ParameterError):
        assert issubclass(cls, ValueError)
    for cls in (sealwire.SignatureError, sealwire.DecryptionError, sealwire.RandomnessError):
        assert not issubclass(cls, ValueError)


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
    }
    for name in sealwire.__all__:
        assert hasattr(sealwire, name)
