"""Exceptions raised by sealwire.

Every error raised by the library is an instance of :class:`SealwireError`. Its
``code`` attribute holds the stable code string shared by every sealwire binding
(C, Node, Python), e.g. ``"ERR_SEALWIRE_TRUNCATED"``; the subclasses group related
codes so callers can catch a family of failures at once::

    SealwireError
    ├── DecodeError        (also a ValueError) malformed input
    ├── InvalidKeyError    (also a ValueError) a public key is unusable
    ├── SignatureError     a signature did not verify
    ├── DecryptionError    wrong passphrase or key, or modified data
    ├── ParameterError     (also a ValueError) a caller argument is out of range
    └── RandomnessError    the OS random number generator failed

Messages never contain key material, passphrases or identities.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SealwireError",
    "DecodeError",
    "InvalidKeyError",
    "SignatureError",
    "DecryptionError",
    "ParameterError",
    "RandomnessError",
]


class SealwireError(Exception):
    """Base class of every sealwire error.

    ``code`` is the stable error code (``"ERR_SEALWIRE_..."``); match on it rather
    than on the message, which is for humans and may change.
    """

    code: str

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep ``code`` across pickling (multiprocessing, concurrent.futures).
        return (type(self), (str(self), self.code))


class DecodeError(SealwireError, ValueError):
    """Input bytes or text are not a valid encoding.

    Codes: ``ERR_SEALWIRE_TRUNCATED``, ``ERR_SEALWIRE_TRAILING_BYTES``,
    ``ERR_SEALWIRE_INVALID_LENGTH``, ``ERR_SEALWIRE_BAD_MAGIC``,
    ``ERR_SEALWIRE_UNSUPPORTED_VERSION``, ``ERR_SEALWIRE_UNSUPPORTED_ALGORITHM``,
    ``ERR_SEALWIRE_MALFORMED``, ``ERR_SEALWIRE_INVALID_ENCODING``.
    """


class InvalidKeyError(SealwireError, ValueError):
    """A public key is not a valid point, is of small order, or yields an all-zero
    Diffie-Hellman result.

    Codes: ``ERR_SEALWIRE_INVALID_PUBLIC_KEY``, ``ERR_SEALWIRE_NON_CONTRIBUTORY``.
    """


class SignatureError(SealwireError):
    """A signature did not verify. Code: ``ERR_SEALWIRE_BAD_SIGNATURE``."""


class DecryptionError(SealwireError):
    """Authenticated decryption failed: wrong passphrase or key, or the data was
    modified. Code: ``ERR_SEALWIRE_DECRYPTION_FAILED``."""


class ParameterError(SealwireError, ValueError):
    """A caller-supplied argument is out of the allowed range.
    Code: ``ERR_SEALWIRE_INVALID_PARAMETER``."""


class RandomnessError(SealwireError):
    """The operating system's random number generator failed.
    Code: ``ERR_SEALWIRE_RANDOMNESS``."""
