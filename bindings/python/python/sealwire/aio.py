"""asyncio forms of the envelope calls that may wait on a remote KMS.

Every envelope call with a :class:`sealwire.KmsKey` makes HTTP requests (bounded: connect
2 s, one exchange 10 s, at most 4 attempts; docs/KMS.md) and runs them with the GIL
released, so other *threads* keep running. An event loop thread must still not wait on
them: these coroutines run the synchronous call in the loop's default executor
(:func:`asyncio.to_thread`), so the loop keeps serving other tasks meanwhile::

    import sealwire, sealwire.aio

    vault = sealwire.KmsKey("vault://orders")
    sealed = await sealwire.aio.seal(b"data", to=vault, context={"tenant": "acme"})
    data = await sealwire.aio.unseal(sealed, keys=vault, context={"tenant": "acme"})
    cache = sealwire.DataKeyCache()
    sealed = await sealwire.aio.cache_seal(cache, b"data", to=vault)

Arguments, results and exceptions are those of the synchronous functions. A bytes-like
argument other than ``bytes`` is read when the worker thread starts: do not modify it until
the call completes. Cancelling the awaiting task does not stop the call already running in
the worker thread (it ends within the KMS time bounds); its result is discarded.

The agent facade's asyncio forms are methods of :class:`sealwire.Agent` itself
(``await sealwire.Agent.open_async(...)``, ``await agent.receive_async(timeout)``,
``send_async``, ``connect_async``, ... — :mod:`sealwire.agent`), built the same way.

For the streaming classes, whose constructors unwrap or wrap the data key, use
``await asyncio.to_thread(sealwire.EnvelopeReader, fileobj, keys=..., context=...)`` (and the
same for :class:`sealwire.EnvelopeWriter`); their ``read`` / ``write`` calls make no KMS
request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Union

from sealwire import _native

if TYPE_CHECKING:
    import os

    from typing_extensions import Buffer, TypeAlias

    from sealwire._native import DataKeyCache
    from sealwire.envelope import Providers, SuiteName

    _Path: TypeAlias = Union[str, "os.PathLike[str]"]

__all__ = ["seal", "unseal", "rewrap", "seal_file", "unseal_file", "cache_seal"]


async def seal(
    plaintext: Buffer,
    *,
    to: Providers,
    context: Mapping[str, str] | None = None,
    suite: SuiteName = "chacha20-poly1305",
    segment_size: int = 65536,
) -> bytes:
    """:func:`sealwire.seal` in a worker thread."""
    return await asyncio.to_thread(
        _native.seal, plaintext, to=to, context=context, suite=suite, segment_size=segment_size
    )


async def unseal(
    sealed: Buffer,
    *,
    keys: Providers,
    context: Mapping[str, str] | None = None,
) -> bytes:
    """:func:`sealwire.unseal` in a worker thread."""
    return await asyncio.to_thread(_native.unseal, sealed, keys=keys, context=context)


async def rewrap(
    sealed: Buffer,
    *,
    keys: Providers,
    context: Mapping[str, str] | None = None,
    add: Providers | None = None,
    remove: tuple[str, str] | Iterable[tuple[str, str] | Providers] | None = None,
    rewrap_with: Providers | None = None,
) -> bytes:
    """:func:`sealwire.rewrap` in a worker thread."""
    return await asyncio.to_thread(
        _native.rewrap,
        sealed,
        keys=keys,
        context=context,
        add=add,
        remove=remove,
        rewrap_with=rewrap_with,
    )


async def seal_file(
    src: _Path,
    dst: _Path,
    *,
    to: Providers,
    context: Mapping[str, str] | None = None,
    suite: SuiteName = "chacha20-poly1305",
    segment_size: int = 65536,
) -> None:
    """:func:`sealwire.seal_file` in a worker thread."""
    await asyncio.to_thread(
        _native.seal_file, src, dst, to=to, context=context, suite=suite, segment_size=segment_size
    )


async def unseal_file(
    src: _Path,
    dst: _Path,
    *,
    keys: Providers,
    context: Mapping[str, str] | None = None,
) -> None:
    """:func:`sealwire.unseal_file` in a worker thread."""
    await asyncio.to_thread(_native.unseal_file, src, dst, keys=keys, context=context)


async def cache_seal(
    cache: DataKeyCache,
    plaintext: Buffer,
    *,
    to: Providers,
    context: Mapping[str, str] | None = None,
    suite: SuiteName = "chacha20-poly1305",
    segment_size: int = 65536,
) -> bytes:
    """:meth:`sealwire.DataKeyCache.seal` in a worker thread (a cache hit makes no KMS
    call and is cheap enough to call directly; a miss makes one per provider)."""
    return await asyncio.to_thread(
        cache.seal, plaintext, to=to, context=context, suite=suite, segment_size=segment_size
    )
