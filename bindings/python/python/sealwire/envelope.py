"""Envelope encryption: streaming classes and the key-provider protocol.

The one-shot functions (:func:`sealwire.seal`, :func:`sealwire.unseal`,
:func:`sealwire.rewrap`, :func:`sealwire.seal_file`, :func:`sealwire.unseal_file`) and
the built-in providers (:class:`sealwire.Keyring`, :class:`sealwire.KeyringKey`,
:class:`sealwire.Identity`, :class:`sealwire.PublicIdentity`,
:class:`sealwire.XWingKeyPair`, :class:`sealwire.XWingPublicKey`, and the remote KMS keys
:class:`sealwire.KmsKey`) live in the native module; this module adds:

* :class:`EnvelopeWriter` / :class:`EnvelopeReader`: ``io.RawIOBase`` streams that seal
  into, and open from, any binary file object, in memory bounded by one segment;
* :class:`KeyProvider`: the protocol a Python object implements to wrap and unwrap data
  keys itself (a KMS client, an HSM, ...).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, Union

from sealwire import _native

if TYPE_CHECKING:
    from typing_extensions import Buffer, TypeAlias

    from sealwire._native import (
        EnvelopeHeader,
        Identity,
        Keyring,
        KeyringKey,
        KmsKey,
        PublicIdentity,
        WrapContext,
        XWingKeyPair,
        XWingPublicKey,
    )

__all__ = ["EnvelopeReader", "EnvelopeWriter", "KeyProvider", "Provider", "Providers", "SuiteName"]


class _ReadableFile(Protocol):
    """What EnvelopeReader reads from: ``read(n)`` returning up to n bytes, b"" at the end."""

    def read(self, size: int, /) -> bytes | None: ...


class _WritableFile(Protocol):
    """What EnvelopeWriter writes to: ``write(data)`` (the count written, or None for all)."""

    def write(self, data: bytes, /) -> int | None: ...


class KeyProvider(Protocol):
    """A Python object that wraps and unwraps data keys (a KMS or HSM client, ...).

    Pass it wherever a provider is accepted (``to=``, ``keys=``, ``add=``, ...). It needs:

    * ``provider_id`` (str): the provider name written into its entries (1-64 printable
      ASCII characters, e.g. ``"aws-kms"``); ``key_id`` (str): the key it wraps under;
      optionally ``key_version`` (int, default 0). Read once per call.
    * ``wrap(data_key, ctx) -> bytes``: wrap the 32-byte data key; the result (1-65535
      bytes) is stored in the envelope header. It must be bound to ``ctx.aad`` (as AEAD
      associated data, or as a KMS encryption-context entry) so that it cannot be moved
      into another envelope.
    * ``unwrap(wrapped, ctx) -> bytes``: the 32-byte data key back. Called only for
      entries whose provider id and key id are this provider's (``ctx.key_id`` and
      ``ctx.key_version`` name the entry).

    Such a provider necessarily sees the plaintext data key of every envelope it wraps or
    unwraps: give it only to code you trust with the data. It is called with the GIL
    held, from the thread that made the sealwire call.

    Errors: any exception from ``wrap`` / ``unwrap`` (or an invalid return value) makes the
    call fail with :class:`sealwire.ProviderError` (``ERR_SEALWIRE_PROVIDER_FAILED``),
    the original exception as ``__cause__``. To report what the built-in providers
    report, raise a :class:`sealwire.SealwireError` subclass with one of the codes
    ``ERR_SEALWIRE_HEADER_AUTH_FAILED`` (this entry does not authenticate: if another
    entry opens, the call still succeeds), ``ERR_SEALWIRE_KEY_NOT_FOUND``,
    ``ERR_SEALWIRE_KEY_RETIRED`` or ``ERR_SEALWIRE_NO_MATCHING_KEY``: the code is kept.
    """

    @property
    def provider_id(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, ctx: WrapContext, /) -> bytes: ...

    def unwrap(self, wrapped: bytes, ctx: WrapContext, /) -> bytes: ...


Provider: TypeAlias = Union[
    "Keyring",
    "KeyringKey",
    "Identity",
    "PublicIdentity",
    "XWingKeyPair",
    "XWingPublicKey",
    "KmsKey",
    KeyProvider,
]
"""Anything accepted as a key provider."""

Providers: TypeAlias = Union[Provider, Iterable[Provider]]
"""One provider, or any iterable of providers."""

SuiteName: TypeAlias = Literal["chacha20-poly1305", "aes-256-gcm", "chacha20poly1305", "aes256gcm"]
"""Payload suites; the dashed names are canonical (``EnvelopeHeader.suite``)."""


def _closed() -> ValueError:
    return ValueError("I/O operation on closed file.")


class EnvelopeWriter(io.RawIOBase):
    """Seal a stream: ``write()`` plaintext, ``close()`` (or leave the ``with`` block).

    The header (with the data key wrapped for every provider of ``to``) is written to
    ``fileobj`` at once, each full segment as soon as it is complete, and the final
    segment by :meth:`finish` / :meth:`close`. Memory: one segment. Encryption runs with
    the GIL released; ``fileobj.write`` is called with it, once per segment. Only the
    constructor calls the providers (with a :class:`sealwire.KmsKey`: KMS requests, GIL
    released; ``await asyncio.to_thread(EnvelopeWriter, ...)`` from an event loop).

    If the ``with`` block raises, or the writer is garbage-collected unclosed, the
    envelope is *aborted*: the final segment is never written, so the partial output can
    never be opened (readers report it as truncated) — a truncated plaintext can never
    pass for a complete one. ``fileobj`` itself is never closed. (Wrapped in
    ``io.BufferedWriter``, the buffer's own close — from its ``with`` block, even on an
    exception, or from garbage collection — finishes the envelope: use this raw writer
    directly where a partial stream must never be completed.)
    """

    def __init__(
        self,
        fileobj: _WritableFile,
        *,
        to: Providers,
        context: Mapping[str, str] | None = None,
        suite: SuiteName = "chacha20-poly1305",
        segment_size: int = 65536,
    ) -> None:
        super().__init__()
        self._native = _native._EnvelopeWriter(
            fileobj, to=to, context=context, suite=suite, segment_size=segment_size
        )

    def writable(self) -> bool:
        return True

    def write(self, b: Buffer, /) -> int:
        """Encrypt ``b``; returns ``len(b)`` (everything is taken)."""
        if self.closed:
            raise _closed()
        return self._native.write(b)

    def finish(self) -> None:
        """Seal the final segment and flush ``fileobj``; the writer is closed afterwards
        (also if this fails, in which case the envelope is incomplete)."""
        if self.closed:
            raise _closed()
        try:
            self._native.finish()
        finally:
            super().close()

    def close(self) -> None:
        """Same as :meth:`finish`; nothing if already closed."""
        if not self.closed:
            self.finish()

    def abort(self) -> None:
        """Close without the final segment: the output can never be opened."""
        native = getattr(self, "_native", None)
        if native is not None:
            native.abort()
        super().close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "_native", None) is not None and not self.closed:
            warnings.warn(
                "unclosed sealwire.EnvelopeWriter: envelope aborted (incomplete)",
                ResourceWarning,
                stacklevel=2,
            )
        if not self.closed:
            self.abort()

    def __repr__(self) -> str:
        return f"<sealwire.EnvelopeWriter{' (closed)' if self.closed else ''}>"


class EnvelopeReader(io.RawIOBase):
    """Open a stream sealed by :func:`sealwire.seal` or :class:`EnvelopeWriter`.

    The header is read and authenticated at construction (context, unwrap with one of
    ``keys``, key commitment, header tag). ``read()`` / ``readinto()`` then return only
    plaintext whose segment already verified; a stream that ends early raises
    :class:`sealwire.DecodeError` (``ERR_SEALWIRE_TRUNCATED``) and a modified,
    reordered or extended one :class:`sealwire.DecryptionError`, after (never instead
    of) the verified bytes before the bad segment. Errors are sticky. Memory: one
    segment besides what ``read`` returns. Decryption runs with the GIL released;
    ``fileobj.read(n)`` is called with it. Only the constructor calls the providers (with a
    :class:`sealwire.KmsKey`: KMS requests, GIL released; ``await
    asyncio.to_thread(EnvelopeReader, ...)`` from an event loop).
    ``fileobj`` itself is never closed. Wrap in ``io.BufferedReader`` for fast
    ``readline()``.
    """

    def __init__(
        self,
        fileobj: _ReadableFile,
        *,
        keys: Providers,
        context: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._native = _native._EnvelopeReader(fileobj, keys=keys, context=context)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left if ``size`` is negative or None); fewer
        only at the end of the stream, ``b""`` after it.

        Up to 64 MiB, the plaintext is decrypted straight into the returned ``bytes``
        (allocated at ``size``, as ``io.FileIO.read`` does; whole segments are opened in
        place). A larger ``size``, or none, gathers 1 MiB chunks and allocates only what
        the stream holds."""
        if self.closed:
            raise _closed()
        return self._native.read(-1 if size is None else size)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Buffer, /) -> int:
        """Read up to ``len(buffer)`` bytes into ``buffer``; returns the count. (One copy
        from the decrypted ``bytes``: the abi3 build for Python 3.10 has no buffer-protocol
        access to write into ``buffer`` with the GIL released.)"""
        if self.closed:
            raise _closed()
        with memoryview(buffer) as view, view.cast("B") as out:
            data = self._native.read(len(out))
            out[: len(data)] = data
            return len(data)

    @property
    def header(self) -> EnvelopeHeader:
        """The authenticated envelope header."""
        return self._native.header

    @property
    def is_finished(self) -> bool:
        """True once the final segment verified and all plaintext was read."""
        return self._native.is_finished

    def close(self) -> None:
        """Release the stream (buffered plaintext is wiped); ``fileobj`` stays open."""
        native = getattr(self, "_native", None)
        if native is not None:
            native.close()
        super().close()

    def __repr__(self) -> str:
        return f"<sealwire.EnvelopeReader{' (closed)' if self.closed else ''}>"
