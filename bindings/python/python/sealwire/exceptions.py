"""Exceptions raised by sealwire.

Every error raised by the library is an instance of :class:`SealwireError`. Its
``code`` attribute holds the stable code string shared by every sealwire binding
(C, Node, Python), e.g. ``"ERR_SEALWIRE_TRUNCATED"``; the subclasses group related
codes so callers can catch a family of failures at once::

    SealwireError
    ├── DecodeError             (also a ValueError) malformed input
    ├── InvalidKeyError         (also a ValueError) a public key is unusable
    ├── SignatureError          a signature did not verify
    ├── DecryptionError         wrong passphrase or key, or modified data
    │   └── ReplayError         a Noise datagram was already received, or is too old
    ├── ParameterError          (also a ValueError) a caller argument is out of range,
    │                           or a Noise message is over 65535 bytes
    ├── RandomnessError         the OS random number generator failed
    ├── RemoteKeyMismatchError  the Noise peer is not the expected key or identity
    └── ProtocolError           a Noise handshake or transport used out of order

Code → class (every code is ``"ERR_SEALWIRE_" + suffix``)::

    TRUNCATED, TRAILING_BYTES, INVALID_LENGTH, BAD_MAGIC,
    UNSUPPORTED_VERSION, UNSUPPORTED_ALGORITHM, MALFORMED,
    INVALID_ENCODING                                        DecodeError
    INVALID_PUBLIC_KEY, NON_CONTRIBUTORY                    InvalidKeyError
    BAD_SIGNATURE                                           SignatureError
    DECRYPTION_FAILED                                       DecryptionError
    REPLAY                                                  ReplayError
    INVALID_PARAMETER, MESSAGE_TOO_LARGE                    ParameterError
    RANDOMNESS                                              RandomnessError
    REMOTE_KEY_MISMATCH                                     RemoteKeyMismatchError
    OUT_OF_TURN, HANDSHAKE_COMPLETE, HANDSHAKE_INCOMPLETE,
    NONCE_EXHAUSTED                                         ProtocolError

A code added to the library later and not yet listed here is raised as
:class:`SealwireError` itself, with its own ``code``.

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
    "ReplayError",
    "RemoteKeyMismatchError",
    "ProtocolError",
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


class ReplayError(DecryptionError):
    """An unordered Noise transport refused a message because its nonce was already
    accepted, or is older than the replay window. Like any other
    :class:`DecryptionError`, drop the message; the transport is unchanged.
    Code: ``ERR_SEALWIRE_REPLAY``."""


class ParameterError(SealwireError, ValueError):
    """A caller-supplied argument is out of the allowed range, or a Noise message is
    over the 65535-byte limit (a payload to encrypt that would produce one, or a
    received message that is one).

    Codes: ``ERR_SEALWIRE_INVALID_PARAMETER``, ``ERR_SEALWIRE_MESSAGE_TOO_LARGE``.
    """


class RandomnessError(SealwireError):
    """The operating system's random number generator failed.
    Code: ``ERR_SEALWIRE_RANDOMNESS``."""


class RemoteKeyMismatchError(SealwireError):
    """The Noise peer proved a static key other than the one expected: the key or
    identity given as ``remote``, to ``expect_remote_identity()``, or named by the
    identity payload passed to ``verify_identity_payload()``. The peer is not who it
    was expected to be. Code: ``ERR_SEALWIRE_REMOTE_KEY_MISMATCH``."""


class ProtocolError(SealwireError):
    """A Noise handshake or transport was used out of order; the object is unchanged.

    Codes: ``ERR_SEALWIRE_OUT_OF_TURN`` (a handshake message written or read on the
    peer's turn, or a one-way transport used in its missing direction),
    ``ERR_SEALWIRE_HANDSHAKE_COMPLETE`` (no handshake messages remain, or the
    handshake object was already turned into a transport),
    ``ERR_SEALWIRE_HANDSHAKE_INCOMPLETE`` (a transport, or the remote key, asked for
    before the handshake produced it), ``ERR_SEALWIRE_NONCE_EXHAUSTED`` (2**64 - 1
    messages in one direction: start a new session).
    """
