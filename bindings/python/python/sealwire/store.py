"""Session stores written in Python, for :meth:`sealwire.Messenger.create_with_store` and
:meth:`sealwire.Messenger.open_with_store`.

* :class:`SessionStore`: the protocol such a store implements (the core's ``SessionStore``
  trait, ``core/src/store/traits.rs``, method for method).
* :class:`MemorySessionStore`: its reference implementation in pure Python, in memory (the
  mirror of the core's ``MemoryStore``). Copy it as the model for a store over your own
  database.

What a store holds is either sealed by the messenger under the storage key (identity,
prekeys, session records, inbox plaintexts) or public (outbox ciphertexts, message ids,
peer ids, the counter): a store never sees a secret.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from sealwire.exceptions import StorageError

if TYPE_CHECKING:
    from sealwire._native import InboxRecord, OutboxRecord, ReceiveCommit

__all__ = ["MemorySessionStore", "SessionStore", "STORE_CONFLICT"]

STORE_CONFLICT = "ERR_SEALWIRE_STORE_CONFLICT"
"""The code a store's exception carries to report a counter conflict (see below)."""


class SessionStore(Protocol):
    """Persistent storage for a :class:`sealwire.Messenger`: the sealed identity and prekeys,
    one sealed session record per peer (keyed by the 32-byte peer id), an outbox, an inbox,
    the set of message ids already received, and a monotonic commit counter.

    Contract (the core's, see ``docs/STORE.md``):

    * Every ``commit_*`` method is **one transaction**: all of its writes become durable
      together before it returns, or none of them do (after an exception, and after a
      crash at any point).
    * Every ``commit_*`` method sets the counter to its ``counter`` argument, which must be
      exactly the current counter plus one; otherwise it changes nothing and raises a
      :class:`sealwire.StorageError` with code ``"ERR_SEALWIRE_STORE_CONFLICT"``
      (:data:`STORE_CONFLICT`): this is how two writers on one store are caught. The
      counter of an empty store is 0. Only ``commit_identity`` may jump ahead (any counter
      above the current one), and it refuses a store that already holds an identity the
      same way.
    * ``commit_send`` also refuses an outbox id that is not ``counter`` or already exists;
      ``commit_receive`` an inbox id that is not ``commit.counter`` or already exists, or a
      message id already seen.
    * ``mark_sent`` and ``ack`` delete one record, are idempotent and do not change the
      counter.
    * Reads return what the last successful commit wrote.

    Any other exception (or a return value of the wrong type) makes the messenger call
    fail with :class:`sealwire.StorageError` (``ERR_SEALWIRE_STORAGE``), your exception as
    its ``__cause__``; nothing is committed by the messenger after a failed commit, and its
    in-memory state is left as of the last successful one. ``KeyboardInterrupt`` and
    ``SystemExit`` propagate unchanged.

    The methods are called with the GIL held, from the thread that called the messenger,
    one call at a time per messenger. They must not call back into the same messenger
    (that raises :class:`sealwire.ParameterError`). Bytes arguments are ``bytes``; ids and
    counters are ``int``; return bytes-like values (``bytes``, ``bytearray``, ...).
    """

    def counter(self) -> int:
        """The counter of the last commit (0 for an empty store)."""
        ...

    def load_identity(self) -> bytes | None:
        """The sealed identity (``SWSI``), or None before ``commit_identity``."""
        ...

    def load_prekeys(self) -> bytes | None:
        """The sealed prekey store (``SWPS``), or None before ``commit_identity``."""
        ...

    def load_session(self, peer: bytes, /) -> bytes | None:
        """The sealed session record (``SWSR``) of ``peer``, if any."""
        ...

    def peers(self) -> Iterable[bytes]:
        """Every peer id with a session record, in any order."""
        ...

    def seen(self, message_id: bytes, /) -> bool:
        """Whether ``commit_receive`` recorded this message id."""
        ...

    def pending_outbox(self) -> Iterable[OutboxRecord]:
        """Outbox records not yet marked sent, in increasing id order."""
        ...

    def pending_inbox(self) -> Iterable[InboxRecord]:
        """Inbox records not yet acknowledged, in increasing id order."""
        ...

    def commit_identity(self, counter: int, identity: bytes, prekeys: bytes, /) -> None:
        """Set up an empty store: the sealed identity and prekey store."""
        ...

    def commit_prekeys(self, counter: int, prekeys: bytes, /) -> None:
        """Replace the sealed prekey store."""
        ...

    def commit_session(self, counter: int, peer: bytes, session: bytes, /) -> None:
        """Replace (or create) ``peer``'s sealed session record."""
        ...

    def commit_send(
        self, counter: int, peer: bytes, session: bytes, outbox: OutboxRecord, /
    ) -> None:
        """Replace ``peer``'s session record and add ``outbox`` (whose id is ``counter``)."""
        ...

    def commit_receive(self, commit: ReceiveCommit, /) -> None:
        """Replace the sender's session record, the prekey store if ``commit.prekeys`` is
        not None, record ``commit.message_id`` as seen and add ``commit.inbox``."""
        ...

    def mark_sent(self, outbox_id: int, /) -> None:
        """Delete an outbox record (idempotent)."""
        ...

    def ack(self, inbox_id: int, /) -> None:
        """Delete an inbox record (idempotent)."""
        ...


def _conflict(why: str) -> StorageError:
    return StorageError(f"session store conflict: {why}", STORE_CONFLICT)


class MemorySessionStore:
    """The reference :class:`SessionStore`, in memory (nothing survives the process).

    Every commit checks all of its conditions before it changes anything, so a refused
    commit changes nothing; a lock makes each method atomic for messengers on several
    threads. :meth:`copy` snapshots the store (to test rollback detection) and
    :meth:`fail_next_commits` makes commits fail (to test that a failed commit leaves the
    messenger consistent), like the core's ``MemoryStore``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._counter = 0
        self._identity: bytes | None = None
        self._prekeys: bytes | None = None
        self._sessions: dict[bytes, bytes] = {}
        self._outbox: dict[int, OutboxRecord] = {}
        self._inbox: dict[int, InboxRecord] = {}
        self._seen: set[bytes] = set()
        self._fail_commits = 0

    def copy(self) -> MemorySessionStore:
        """An independent copy of the current contents (the records are immutable)."""
        with self._lock:
            other = copy.copy(self)
            other._lock = threading.RLock()
            other._sessions = dict(self._sessions)
            other._outbox = dict(self._outbox)
            other._inbox = dict(self._inbox)
            other._seen = set(self._seen)
            return other

    def fail_next_commits(self, n: int) -> None:
        """Make the next ``n`` commits raise ``OSError`` without changing anything."""
        with self._lock:
            self._fail_commits = n

    def _begin(self, counter: int) -> None:
        if self._fail_commits > 0:
            self._fail_commits -= 1
            raise OSError("injected commit failure")
        if counter != self._counter + 1:
            raise _conflict(f"counter {counter} after {self._counter}")

    def __repr__(self) -> str:
        return (
            f"<MemorySessionStore counter={self._counter} sessions={len(self._sessions)} "
            f"outbox={len(self._outbox)} inbox={len(self._inbox)} seen={len(self._seen)}>"
        )

    # --- reads -----------------------------------------------------------------------------

    def counter(self) -> int:
        with self._lock:
            return self._counter

    def load_identity(self) -> bytes | None:
        with self._lock:
            return self._identity

    def load_prekeys(self) -> bytes | None:
        with self._lock:
            return self._prekeys

    def load_session(self, peer: bytes, /) -> bytes | None:
        with self._lock:
            return self._sessions.get(peer)

    def peers(self) -> list[bytes]:
        with self._lock:
            return list(self._sessions)

    def seen(self, message_id: bytes, /) -> bool:
        with self._lock:
            return message_id in self._seen

    def pending_outbox(self) -> list[OutboxRecord]:
        with self._lock:
            return [self._outbox[k] for k in sorted(self._outbox)]

    def pending_inbox(self) -> list[InboxRecord]:
        with self._lock:
            return [self._inbox[k] for k in sorted(self._inbox)]

    # --- commits ---------------------------------------------------------------------------

    def commit_identity(self, counter: int, identity: bytes, prekeys: bytes, /) -> None:
        with self._lock:
            if self._fail_commits > 0:
                self._fail_commits -= 1
                raise OSError("injected commit failure")
            if counter <= self._counter or self._identity is not None:
                raise _conflict("the store is already set up")
            self._identity, self._prekeys, self._counter = identity, prekeys, counter

    def commit_prekeys(self, counter: int, prekeys: bytes, /) -> None:
        with self._lock:
            self._begin(counter)
            self._prekeys, self._counter = prekeys, counter

    def commit_session(self, counter: int, peer: bytes, session: bytes, /) -> None:
        with self._lock:
            self._begin(counter)
            self._sessions[peer] = session
            self._counter = counter

    def commit_send(
        self, counter: int, peer: bytes, session: bytes, outbox: OutboxRecord, /
    ) -> None:
        with self._lock:
            self._begin(counter)
            if outbox.id != counter or outbox.id in self._outbox:
                raise _conflict("outbox id")
            self._sessions[peer] = session
            self._outbox[outbox.id] = outbox
            self._counter = counter

    def commit_receive(self, commit: ReceiveCommit, /) -> None:
        with self._lock:
            self._begin(commit.counter)
            inbox = commit.inbox
            if (
                inbox.id != commit.counter
                or commit.message_id in self._seen
                or inbox.id in self._inbox
            ):
                raise _conflict("inbox id or message already seen")
            self._sessions[commit.peer] = commit.session
            if commit.prekeys is not None:
                self._prekeys = commit.prekeys
            self._seen.add(commit.message_id)
            self._inbox[inbox.id] = inbox
            self._counter = commit.counter

    def mark_sent(self, outbox_id: int, /) -> None:
        with self._lock:
            self._outbox.pop(outbox_id, None)

    def ack(self, inbox_id: int, /) -> None:
        with self._lock:
            self._inbox.pop(inbox_id, None)
