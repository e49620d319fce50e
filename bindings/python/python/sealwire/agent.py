"""The agent facade: one object per agent home (``docs/AGENT.md``).

:class:`Agent` composes every layer for an application, each choice taken from a
:class:`sealwire.SecurityConfig`: the home directory (identity, keyring, session store, state
file), live Noise channels to online peers (XX on first contact, IK afterwards), the relay
mailbox for offline peers, envelope sealing under the configured KEK, and the key lifecycle
as explicit maintenance steps::

    import sealwire

    config = sealwire.SecurityConfig.from_file("sealwire.toml")   # or .load(text / dict)
    with sealwire.Agent.open("alice-home", config, passphrase="correct horse",
                             relay_url="https://relay.example") as alice:
        alice.maintain()                                 # publish prekeys, rotate when due
        bob = alice.connect("127.0.0.1:9000").peer       # XX first time, IK later
        alice.send(bob, b"hello")                        # committed, then live or relay
        for m in alice.receive(timeout=1.0):
            handle(m.plaintext)                          # durably, keyed by m.id, then:
            alice.ack(m.id)

Blocking calls (``Agent.open``: Argon2id; ``connect``, ``accept``, ``accept_incoming``,
``send``, ``receive``, ``flush``, ``maintain``, ``maintain_step``, sealing and opening, which
may call a KMS; ``close``) run with the GIL released, so other threads keep running. Calls on
one agent run one after the other (one lock inside the object).

**asyncio.** The methods named ``<name>_async`` (``Agent.open_async``, ``connect_async``,
``accept_incoming_async``, ``send_async``, ``receive_async``, ``flush_async``,
``maintain_async``, ``seal_async``, ``open_sealed_async``, ``close_async``) run the
synchronous call in the event loop's default executor (:func:`asyncio.to_thread`, the
convention of :mod:`sealwire.aio`), so the loop keeps serving other tasks meanwhile; the
arguments, results and exceptions are the synchronous ones. Cancelling the awaiting task
does not stop a call already running (``receive_async(timeout)`` ends within its timeout);
its result is discarded, and nothing is lost: a received message comes back from the next
``receive`` (it is committed, and unacknowledged), a sent one is committed in the outbox.
A bytes-like argument other than ``bytes`` is read when the worker starts the call: do not
modify it until the call completes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union

from sealwire import _native
from sealwire._native import (
    ChannelInfo,
    FlushReport,
    MaintainReport,
    PublicIdentity,
    Received,
    RootKey,
    SecurityConfig,
    SendReport,
)

if TYPE_CHECKING:
    import os

    from typing_extensions import Buffer, Self, TypeAlias

    _Path: TypeAlias = Union[str, "os.PathLike[str]"]
    _Config: TypeAlias = Union[SecurityConfig, str, Mapping[str, Any]]

__all__ = ["Agent"]

_T = TypeVar("_T")


async def _to_thread(call: Callable[..., _T], /, *args: Any) -> _T:
    """:func:`asyncio.to_thread`, importing :mod:`asyncio` on first use: ``import sealwire``
    stays without asyncio (and the ssl, logging and concurrent.futures it pulls in: about
    10 MiB of resident memory and 40 ms) for applications that never await."""
    import asyncio

    return await asyncio.to_thread(call, *args)



class Agent(_native._Agent):
    """One agent home (see the module documentation and :meth:`open`).

    ``Agent(path, config, ...)`` is the same as ``Agent.open(path, config, ...)``.
    """

    @classmethod
    def open(
        cls,
        path: _Path,
        config: _Config,
        *,
        passphrase: str | Buffer | None = None,
        root_key: RootKey | Buffer | None = None,
        root_key_from_env: bool = False,
        relay_url: str | None = None,
        connect_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        relay_poll_interval: float = 0.5,
        relay_connect_timeout: float = 2.0,
        relay_request_timeout: float = 15.0,
        allow_plain_http: bool = False,
        kms_settings: Mapping[str, str] | None = None,
    ) -> Self:
        """Create (first time) or open the agent whose home is ``path``.

        ``config``: a :class:`SecurityConfig`, or TOML / JSON text or a mapping that loads
        into one (``ParameterError`` listing every finding otherwise). At most one secret:
        ``passphrase`` (``str`` or bytes-like) for a passphrase-protected identity file or
        keyring; ``root_key`` (a :class:`RootKey` or its 32 bytes) or
        ``root_key_from_env=True`` (``SEALWIRE_KEYRING_ROOT_KEY``) for a root-key keyring;
        none for a configuration that needs no secret. ``relay_url``: the relay (directory
        and mailbox), else live channels only. Timeouts in seconds. ``kms_settings``: for a
        remote KEK, the keywords of :class:`KmsKey` as a mapping (what is absent comes from
        the environment; do not change ``os.environ`` from other threads while an agent
        with a remote KEK opens).

        Errors: ``DecryptionError`` for a wrong passphrase or root key (nothing written);
        ``StorageError`` when another agent has the home open or its files belong to another
        configuration; ``StaleStateError`` when the session store is older than the state
        file's anchor; ``ParameterError`` for a configuration the agent cannot run or a
        secret that does not fit it. Releases the GIL.
        """
        return cls(
            path,
            config,
            passphrase=passphrase,
            root_key=root_key,
            root_key_from_env=root_key_from_env,
            relay_url=relay_url,
            connect_timeout=connect_timeout,
            handshake_timeout=handshake_timeout,
            ack_timeout=ack_timeout,
            relay_poll_interval=relay_poll_interval,
            relay_connect_timeout=relay_connect_timeout,
            relay_request_timeout=relay_request_timeout,
            allow_plain_http=allow_plain_http,
            kms_settings=kms_settings,
        )

    @classmethod
    async def open_async(
        cls,
        path: _Path,
        config: _Config,
        *,
        passphrase: str | Buffer | None = None,
        root_key: RootKey | Buffer | None = None,
        root_key_from_env: bool = False,
        relay_url: str | None = None,
        connect_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        relay_poll_interval: float = 0.5,
        relay_connect_timeout: float = 2.0,
        relay_request_timeout: float = 15.0,
        allow_plain_http: bool = False,
        kms_settings: Mapping[str, str] | None = None,
    ) -> Self:
        """:meth:`open` in a worker thread (:func:`asyncio.to_thread`)."""
        return await _to_thread(
            functools.partial(
                cls.open,
                path,
                config,
                passphrase=passphrase,
                root_key=root_key,
                root_key_from_env=root_key_from_env,
                relay_url=relay_url,
                connect_timeout=connect_timeout,
                handshake_timeout=handshake_timeout,
                ack_timeout=ack_timeout,
                relay_poll_interval=relay_poll_interval,
                relay_connect_timeout=relay_connect_timeout,
                relay_request_timeout=relay_request_timeout,
                allow_plain_http=allow_plain_http,
                kms_settings=kms_settings,
            )
        )

    @classmethod
    def recover(
        cls,
        path: _Path,
        config: _Config,
        *,
        passphrase: str | Buffer | None = None,
        root_key: RootKey | Buffer | None = None,
        root_key_from_env: bool = False,
        relay_url: str | None = None,
        connect_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        relay_poll_interval: float = 0.5,
        relay_connect_timeout: float = 2.0,
        relay_request_timeout: float = 15.0,
        allow_plain_http: bool = False,
        kms_settings: Mapping[str, str] | None = None,
    ) -> tuple[Self, list[bytes]]:
        """Start the session store over after :meth:`open` raised
        :class:`sealwire.StaleStateError` (the store was restored from an older copy, or
        lost): the old store is moved into ``stale-sessions-<unix>-<random>/`` in the home, a
        new one keeps the identity, gets new prekeys (published with ``reset`` by the next
        :meth:`maintain`) and ids above every earlier one. Returns the agent and the peer ids
        (32 bytes) the old store had sessions with: the next message to each starts a new
        session. Messages of the lost interval are lost (``docs/STORE.md``, "Rollback").
        Never call it on a store that opens: it discards its sessions and inbox. Arguments as
        :meth:`open`."""
        agent = cls(
            path,
            config,
            passphrase=passphrase,
            root_key=root_key,
            root_key_from_env=root_key_from_env,
            relay_url=relay_url,
            connect_timeout=connect_timeout,
            handshake_timeout=handshake_timeout,
            ack_timeout=ack_timeout,
            relay_poll_interval=relay_poll_interval,
            relay_connect_timeout=relay_connect_timeout,
            relay_request_timeout=relay_request_timeout,
            allow_plain_http=allow_plain_http,
            kms_settings=kms_settings,
            recover=True,
        )
        return agent, agent.recovered_peers

    async def connect_async(
        self, address: str | None = None, peer: PublicIdentity | None = None
    ) -> ChannelInfo:
        """:meth:`connect` in a worker thread."""
        return await _to_thread(self.connect, address, peer)

    async def accept_incoming_async(self, timeout: float = 0.0) -> ChannelInfo | None:
        """:meth:`accept_incoming` in a worker thread."""
        return await _to_thread(self.accept_incoming, timeout)

    async def send_async(self, peer: PublicIdentity, data: Buffer) -> SendReport:
        """:meth:`send` in a worker thread."""
        return await _to_thread(self.send, peer, data)

    async def receive_async(self, timeout: float = 0.0) -> list[Received]:
        """:meth:`receive` in a worker thread."""
        return await _to_thread(self.receive, timeout)

    async def flush_async(self) -> FlushReport:
        """:meth:`flush` in a worker thread."""
        return await _to_thread(self.flush)

    async def maintain_async(self, now: int | None = None) -> MaintainReport:
        """:meth:`maintain` in a worker thread."""
        return await _to_thread(self.maintain, now)

    async def seal_async(self, data: Buffer, context: Mapping[str, str] | None = None) -> bytes:
        """:meth:`seal` in a worker thread (a remote KEK makes an HTTP call)."""
        return await _to_thread(self.seal, data, context)

    async def open_sealed_async(
        self, blob: Buffer, context: Mapping[str, str] | None = None
    ) -> bytes:
        """:meth:`open_sealed` in a worker thread."""
        return await _to_thread(self.open_sealed, blob, context)

    async def seal_for_async(
        self,
        peers: Iterable[PublicIdentity],
        data: Buffer,
        context: Mapping[str, str] | None = None,
    ) -> bytes:
        """:meth:`seal_for` in a worker thread."""
        return await _to_thread(self.seal_for, list(peers), data, context)

    async def close_async(self) -> None:
        """:meth:`close` in a worker thread (it waits for a call running meanwhile)."""
        await _to_thread(self.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_args: object) -> bool:
        await self.close_async()
        return False
