"""Exceptions raised by sealwire.

Every error raised by the library is an instance of :class:`SealwireError`. Its
``code`` attribute holds the stable code string shared by every sealwire binding
(C, Node, Python), e.g. ``"ERR_SEALWIRE_TRUNCATED"``; the subclasses group related
codes so callers can catch a family of failures at once::

    SealwireError
    ├── DecodeError             (also a ValueError) malformed input
    ├── InvalidKeyError         (also a ValueError) a public key is unusable
    ├── SignatureError          a signature did not verify
    ├── DecryptionError         wrong passphrase or key, or modified data (an
    │   │                       envelope's payload, header or wrapped keys)
    │   └── ReplayError         a Noise datagram or ratchet initial message was
    │                           already received, or is too old
    ├── ParameterError          (also a ValueError) a caller argument is out of range,
    │                           or a Noise message is over 65535 bytes
    ├── RandomnessError         the OS random number generator failed
    ├── RemoteKeyMismatchError  the peer is not the expected key or identity
    ├── ProtocolError           a Noise handshake or transport, or a ratchet
    │                           session, used out of order or with the wrong message
    ├── ContextMismatchError    an envelope's encryption context is not the expected one
    ├── KeyNotAvailableError    (also a LookupError) no usable key: no entry for the
    │                           supplied keys, retired key version, unknown key id
    ├── ProviderError           a key provider failed (its exception is the __cause__)
    ├── StorageError            (also an OSError) reading or writing a file or stream
    │                           failed (the file object's exception is the __cause__)
    ├── StaleStateError         a sealed state older than the last committed one
    └── RelayError              the relay refused the request or could not be reached

Code → class (every code is ``"ERR_SEALWIRE_" + suffix``)::

    TRUNCATED, TRAILING_BYTES, INVALID_LENGTH, BAD_MAGIC,
    UNSUPPORTED_VERSION, UNSUPPORTED_ALGORITHM, MALFORMED,
    INVALID_ENCODING                                        DecodeError
    INVALID_PUBLIC_KEY, NON_CONTRIBUTORY                    InvalidKeyError
    BAD_SIGNATURE                                           SignatureError
    DECRYPTION_FAILED, COMMITMENT_MISMATCH,
    HEADER_AUTH_FAILED, TOO_MANY_SKIPPED_MESSAGES           DecryptionError
    REPLAY, PREKEY_ALREADY_USED                             ReplayError
    INVALID_PARAMETER, MESSAGE_TOO_LARGE                    ParameterError
    RANDOMNESS                                              RandomnessError
    REMOTE_KEY_MISMATCH, IDENTITY_MISMATCH                  RemoteKeyMismatchError
    OUT_OF_TURN, HANDSHAKE_COMPLETE, HANDSHAKE_INCOMPLETE,
    NONCE_EXHAUSTED, SESSION_MISMATCH, NO_SESSION           ProtocolError
    CONTEXT_MISMATCH                                        ContextMismatchError
    NO_MATCHING_KEY, KEY_RETIRED, KEY_NOT_FOUND,
    UNKNOWN_PREKEY                                          KeyNotAvailableError
    PROVIDER_FAILED, KMS_AUTH_FAILED, KMS_KEY_NOT_FOUND,
    KMS_KEY_DISABLED, KMS_UNAVAILABLE, KMS_TIMEOUT,
    KMS_THROTTLED                                           ProviderError
    IO, STORAGE, STORE_CONFLICT                             StorageError
    STALE_STATE                                             StaleStateError
    RELAY_REJECTED, RELAY_AUTH_FAILED, RELAY_NOT_FOUND,
    RELAY_MAILBOX_FULL, RELAY_UNAVAILABLE, RELAY_TIMEOUT    RelayError

A code added to the library later and not yet listed here is raised as
:class:`SealwireError` itself, with its own ``code``.

Where Python code of yours runs inside a sealwire call (a key provider's ``wrap`` /
``unwrap``, a file object's ``read`` / ``write``, a :class:`sealwire.SessionStore`'s
methods), the exception it raised is chained as ``__cause__`` of the
:class:`ProviderError` / :class:`StorageError`; a ``KeyboardInterrupt`` or
``SystemExit`` is re-raised unchanged.

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
    "ContextMismatchError",
    "KeyNotAvailableError",
    "ProviderError",
    "StorageError",
    "StaleStateError",
    "RelayError",
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
    modified.

    Codes: ``ERR_SEALWIRE_DECRYPTION_FAILED`` (an AEAD tag did not verify: a modified,
    reordered, duplicated or extended envelope payload, a wrong passphrase, ...),
    ``ERR_SEALWIRE_COMMITMENT_MISMATCH`` (the unwrapped data key is not the one the
    envelope header commits to), ``ERR_SEALWIRE_HEADER_AUTH_FAILED`` (a modified
    envelope header, a wrapped key moved from another object, or a wrapped key that does
    not open under the key it names), ``ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES`` (a
    ratchet message that would skip too many message keys; drop it).
    """


class ReplayError(DecryptionError):
    """A message was already received: an unordered Noise transport refused a nonce it
    already accepted or that is older than the replay window
    (``ERR_SEALWIRE_REPLAY``), or a ratchet initial message names a one-time prekey that
    was already used (``ERR_SEALWIRE_PREKEY_ALREADY_USED``). Like any other
    :class:`DecryptionError`, drop the message; the transport or store is unchanged."""


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
    """The peer is not who it was expected to be.

    Codes: ``ERR_SEALWIRE_REMOTE_KEY_MISMATCH`` (the Noise peer proved a static key other
    than the key or identity given as ``remote``, to ``expect_remote_identity()``, or
    named by the identity payload passed to ``verify_identity_payload()``),
    ``ERR_SEALWIRE_IDENTITY_MISMATCH`` (a ratchet key or prekey bundle belongs to
    another identity than the one given).
    """


class ProtocolError(SealwireError):
    """A Noise handshake or transport was used out of order; the object is unchanged.

    Codes: ``ERR_SEALWIRE_OUT_OF_TURN`` (a handshake message written or read on the
    peer's turn, or a one-way transport used in its missing direction),
    ``ERR_SEALWIRE_HANDSHAKE_COMPLETE`` (no handshake messages remain, or the
    handshake object was already turned into a transport),
    ``ERR_SEALWIRE_HANDSHAKE_INCOMPLETE`` (a transport, or the remote key, asked for
    before the handshake produced it), ``ERR_SEALWIRE_NONCE_EXHAUSTED`` (2**64 - 1
    messages in one direction: start a new session), ``ERR_SEALWIRE_SESSION_MISMATCH``
    (a ratchet initial message belongs to another session than the one asked to
    decrypt it), ``ERR_SEALWIRE_NO_SESSION`` (no session with this peer yet: start one
    from its prekey bundle).
    """


class ContextMismatchError(SealwireError):
    """The encryption context stored in an envelope is not the one the caller expects
    (``context=`` must equal the context given to ``seal`` exactly). Checked before
    any key is used. Code: ``ERR_SEALWIRE_CONTEXT_MISMATCH``."""


class KeyNotAvailableError(SealwireError, LookupError):
    """No usable key.

    Codes: ``ERR_SEALWIRE_NO_MATCHING_KEY`` (none of the envelope's wrapped keys is
    addressed to a key that was supplied: the wrong identity or keyring),
    ``ERR_SEALWIRE_KEY_RETIRED`` (the keyring version that wrapped it is retired and
    past its decryption cutoff), ``ERR_SEALWIRE_KEY_NOT_FOUND`` (a key id or version
    is not in the keyring, or the root-key environment variable is not set),
    ``ERR_SEALWIRE_UNKNOWN_PREKEY`` (a ratchet initial message names a prekey this
    store does not hold, or no longer holds).
    """


class ProviderError(SealwireError):
    """A key provider failed for a reason of its own (a KMS outage, a Python key
    provider that raised or returned something invalid). The provider's exception, if
    any, is the ``__cause__``. Codes: ``ERR_SEALWIRE_PROVIDER_FAILED``; from the remote
    KMS providers ``ERR_SEALWIRE_KMS_AUTH_FAILED`` (token or credentials refused),
    ``ERR_SEALWIRE_KMS_KEY_NOT_FOUND``, ``ERR_SEALWIRE_KMS_KEY_DISABLED``,
    ``ERR_SEALWIRE_KMS_UNAVAILABLE`` (unreachable, or failing after every retry),
    ``ERR_SEALWIRE_KMS_TIMEOUT`` and ``ERR_SEALWIRE_KMS_THROTTLED``."""


class StorageError(SealwireError, OSError):
    """Reading or writing a file or stream failed. ``errno``, ``strerror`` and
    ``filename`` are set when sealwire opened the file itself; when a Python file
    object raised, that exception is the ``__cause__``. Codes: ``ERR_SEALWIRE_IO``;
    from the session store ``ERR_SEALWIRE_STORAGE`` (the database failed, or a Python
    session store raised, which is then the ``__cause__``; nothing was committed) and
    ``ERR_SEALWIRE_STORE_CONFLICT`` (another writer changed the store in between; nothing
    was committed, reopen it)."""

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {"errno": self.errno, "strerror": self.strerror, "filename": self.filename}
        # Only the fields that are set: a filename set to None would change str().
        state = {k: v for k, v in fields.items() if v is not None}
        message = self.args[0] if self.args else ""
        return (type(self), (message, self.code), state)


class StaleStateError(SealwireError):
    """A sealed state (ratchet session or prekey store) is older than the generation
    last committed: an old snapshot was restored over a newer one. Refuse it.
    Code: ``ERR_SEALWIRE_STALE_STATE``."""


class RelayError(SealwireError):
    """The relay (prekey directory and mailbox, ``docs/RELAY.md``) refused a request or
    could not be reached. Codes: ``ERR_SEALWIRE_RELAY_REJECTED`` (malformed request, bad
    bundle or message, too large), ``ERR_SEALWIRE_RELAY_AUTH_FAILED`` (signature refused:
    check the clock), ``ERR_SEALWIRE_RELAY_NOT_FOUND``, ``ERR_SEALWIRE_RELAY_MAILBOX_FULL``
    (retry later), ``ERR_SEALWIRE_RELAY_UNAVAILABLE`` and ``ERR_SEALWIRE_RELAY_TIMEOUT``."""
