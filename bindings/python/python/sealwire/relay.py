"""The relay: prekey directory and offline mailbox (``docs/RELAY.md``).

:class:`RelayAgent` is a :class:`sealwire.Messenger` whose transport is a ``sealwire relay``
server: it publishes the messenger's prekey bundle and mailbox there, claims peers'
bundles, deposits what it sends (sealed so that the relay does not learn the sender) and
fetches what it receives. The order of operations is the core's: a message is committed
(session state + outbox record) before it leaves, and a received message is committed
(session state + dedupe record + plaintext) before it is acknowledged on the relay, so a
crash at any point loses nothing and hands nothing over twice::

    import sealwire

    client = sealwire.RelayClient("https://relay.example")
    messenger = sealwire.Messenger.open("alice.db", key, min_counter=saved_counter)
    agent = sealwire.RelayAgent(messenger, client)   # messenger is agent.messenger
    agent.publish()                                  # once, and after prekey changes
    for got in messenger.pending_inbox():            # committed before a crash
        handle(got); messenger.ack(got.id)
    agent.connect(bob_public)                        # claims Bob's bundle
    agent.send(bob_public, b"hello")                 # committed, deposited, marked sent
    report = agent.receive(limit=100, wait_seconds=10)
    for got in report.received:                      # committed, in deposit order
        handle(got); messenger.ack(got.id)
    agent.maintain()                                 # now and then: replenish prekeys
    save(messenger.counter)                          # the next open's min_counter
    agent.close()                                    # closes the messenger

Every method blocks on the network with the GIL released; each has an ``_async`` twin for
asyncio (``await agent.send_async(...)``), run on a worker thread of the agent's own (see
:class:`RelayAgent`).

**The messenger inside the agent.** ``RelayAgent(messenger, client)`` takes the messenger
over, as the C binding's ``sealwire_relay_agent_new`` does, but the ``Messenger`` object
stays usable: it *is* ``agent.messenger``, and every method of it (``pending_inbox``,
``ack``, ``counter``, ``send`` whose records ``flush_outbox`` then deposits, ...) works on
the same state, under the same lock (a messenger call waits while an agent call is on the
network). A messenger belongs to at most one agent: another ``RelayAgent`` over it raises
:class:`sealwire.ParameterError` until the first one gives it back with
:meth:`RelayAgent.into_messenger` (or is garbage collected). ``agent.close()`` (or leaving a
``with`` block) closes the messenger; ``messenger.close()`` closes the agent too.

**Errors.** Relay failures raise :class:`sealwire.RelayError` with ``code``
``ERR_SEALWIRE_RELAY_REJECTED``, ``_AUTH_FAILED``, ``_NOT_FOUND``, ``_MAILBOX_FULL``,
``_UNAVAILABLE`` (refused, DNS, TLS, 5xx) or ``_TIMEOUT``; the messenger's own errors as
for :class:`sealwire.Messenger`. A ``send`` that fails on the network leaves the message
committed in the outbox: ``flush_outbox()`` deposits the same bytes later (never re-send
the plaintext).
"""

from __future__ import annotations

import contextvars
import functools
from typing import TYPE_CHECKING, Callable, TypeVar

from sealwire import _native
from sealwire._native import PrekeyStatus, ReceiveReport

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from sealwire._native import Messenger, PublicIdentity

__all__ = ["RelayClient", "RelayAgent", "PrekeyStatus", "ReceiveReport"]

_T = TypeVar("_T")


class RelayClient(_native._RelayClient):
    """A relay: its URL and the time bounds of every exchange with it.

    ``RelayClient(url, *, connect_timeout=2.0, request_timeout=15.0,
    allow_plain_http=False)``: ``url`` is ``https://host[:port]``, or ``http://`` to a
    loopback address (``127.0.0.1``, ``::1``, ``localhost``), without a path; the timeouts
    are seconds (above 0, at most 300) bounding connection setup and one whole HTTP
    exchange; ``allow_plain_http`` also accepts ``http://`` to other hosts (test networks
    only: requests are signed and messages sealed either way, but plain http shows the
    metadata to the network). Makes no network call; :meth:`health` does.
    ``ParameterError`` for a bad URL or timeout.
    """

    async def health_async(self) -> None:
        """:meth:`health` in a worker thread (:func:`asyncio.to_thread`)."""
        import asyncio

        await asyncio.to_thread(self.health)


class RelayAgent(_native._RelayAgent):
    """A :class:`sealwire.Messenger` whose transport is a relay (see the module
    documentation for the ownership of the messenger).

    Blocking methods (GIL released while they wait; each HTTP exchange bounded by the
    client's timeouts; a connection the relay dropped is retried once, nothing else):

    * ``publish()`` / ``publish_reset()`` → :class:`PrekeyStatus` — open the mailbox and
      publish the bundle (``publish_reset`` after ``Messenger.recover_from_rollback``);
    * ``maintain()`` → :class:`PrekeyStatus` — replenish and republish when the relay asks;
    * ``connect(peer)`` — claim ``peer``'s bundle (a :class:`sealwire.PublicIdentity`
      pinned out of band) and start a session; ``RemoteKeyMismatchError`` if the relay
      answers with someone else's;
    * ``send(peer, plaintext)`` → outbox id (``peer``: a ``PublicIdentity`` or a 32-byte
      peer id);
    * ``flush_outbox()`` → how many records were deposited (after a failed ``send`` or a
      restart);
    * ``receive(limit=100, wait_seconds=0)`` → :class:`ReceiveReport`; ``limit`` 1 ..= 1000,
      ``wait_seconds`` 0 ..= 30 and shorter than the client's ``request_timeout`` (a long
      poll with an empty mailbox).

    **asyncio.** Each has an ``_async`` twin with the same arguments and result. Calls on
    one agent run one after the other anyway (one lock), so the twins run on a worker
    thread of this agent's own, created on first use: long polls of many agents do not
    occupy the event loop's default executor, and the loop keeps serving other tasks. The
    messenger's store is called from that thread (a Python :class:`sealwire.SessionStore`
    too, with the GIL, one call at a time). Cancelling the awaiting task does not stop a
    call already running (it ends within the client's time bounds); its result is
    discarded, but nothing is lost: a message it committed is in
    ``messenger.pending_inbox()``, one it could not deposit in the outbox. A bytes-like
    argument other than ``bytes`` is read when the worker starts the call: do not modify
    it until the call completes. While an agent call runs (a long poll: up to
    ``wait_seconds``), the messenger's own methods wait for it (one lock), except
    ``identity`` and ``peer_id``: from an event loop, call them after the ``await``, or
    through :func:`asyncio.to_thread`.
    """

    def __init__(self, messenger: Messenger, client: _native._RelayClient) -> None:
        super().__init__()
        # Imported here and in the coroutines, not at module level: ``import sealwire`` stays
        # without asyncio / concurrent.futures (about 10 MiB of resident memory and 40 ms).
        from concurrent.futures import ThreadPoolExecutor

        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sealwire-relay")

    async def _run(self, call: Callable[[], _T]) -> _T:
        import asyncio

        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._worker, functools.partial(context.run, call))

    async def publish_async(self) -> PrekeyStatus:
        """:meth:`publish` on the agent's worker thread."""
        return await self._run(self.publish)

    async def publish_reset_async(self) -> PrekeyStatus:
        """:meth:`publish_reset` on the agent's worker thread."""
        return await self._run(self.publish_reset)

    async def maintain_async(self) -> PrekeyStatus:
        """:meth:`maintain` on the agent's worker thread."""
        return await self._run(self.maintain)

    async def connect_async(self, peer: PublicIdentity) -> None:
        """:meth:`connect` on the agent's worker thread."""
        await self._run(functools.partial(self.connect, peer))

    async def send_async(self, peer: PublicIdentity | Buffer, plaintext: Buffer) -> int:
        """:meth:`send` on the agent's worker thread."""
        return await self._run(functools.partial(self.send, peer, plaintext))

    async def flush_outbox_async(self) -> int:
        """:meth:`flush_outbox` on the agent's worker thread."""
        return await self._run(self.flush_outbox)

    async def receive_async(self, limit: int = 100, wait_seconds: int = 0) -> ReceiveReport:
        """:meth:`receive` on the agent's worker thread."""
        return await self._run(functools.partial(self.receive, limit, wait_seconds))
