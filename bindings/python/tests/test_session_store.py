"""Messenger over session stores written in Python (sealwire.SessionStore).

The reference sealwire.MemorySessionStore and a SQLite store built on Python's own sqlite3
module (below) go through the same scenarios as the core's built-in stores
(core/src/store/tests.rs): round trip, duplicates, restart over the same data, failed
commits that leave nothing half-written, rollback detection, and the errors a misbehaving
store produces. Then the GIL and threads: no deadlock between the messenger's lock, the
store's callbacks and other threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import sealwire
from sealwire import (
    Identity,
    InboxRecord,
    MemorySessionStore,
    Messenger,
    OutboxRecord,
    ReceiveCommit,
    SessionStore,
)

KEY = bytes(range(32))
SMALL = 3


# --- a persistent store in pure Python --------------------------------------------------------


class SqliteSessionStore:
    """A SessionStore over Python's sqlite3: one transaction per commit (BEGIN IMMEDIATE
    ... COMMIT, ROLLBACK on any exception), WAL and synchronous=FULL.

    ``fail_inside_next_commit`` raises *after* the commit's first write, to prove that a
    failure inside the transaction leaves nothing behind.
    """

    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.fail_inside_next_commit = False
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                counter INTEGER NOT NULL,
                identity BLOB, prekeys BLOB);
            INSERT OR IGNORE INTO meta (id, counter) VALUES (1, 0);
            CREATE TABLE IF NOT EXISTS sessions (peer BLOB PRIMARY KEY, record BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY, peer BLOB NOT NULL, message_id BLOB NOT NULL,
                ciphertext BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS inbox (
                id INTEGER PRIMARY KEY, peer BLOB NOT NULL, message_id BLOB NOT NULL,
                sealed BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS seen (message_id BLOB PRIMARY KEY);
            """
        )

    def close(self) -> None:
        self.db.close()

    def _one(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def _commit(self, counter: int, *, setup: bool = False) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.counter()
            if setup:
                if counter <= current or self.load_identity() is not None:
                    raise sealwire.StorageError("already set up", sealwire.store.STORE_CONFLICT)
            elif counter != current + 1:
                raise sealwire.StorageError("counter", sealwire.store.STORE_CONFLICT)
            yield
            self.db.execute("UPDATE meta SET counter = ? WHERE id = 1", (counter,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _maybe_fail(self) -> None:
        if self.fail_inside_next_commit:
            self.fail_inside_next_commit = False
            raise sqlite3.OperationalError("disk I/O error (injected, mid-transaction)")

    def counter(self) -> int:
        value: int = self._one("SELECT counter FROM meta")
        return value

    def load_identity(self) -> bytes | None:
        value: bytes | None = self._one("SELECT identity FROM meta")
        return value

    def load_prekeys(self) -> bytes | None:
        value: bytes | None = self._one("SELECT prekeys FROM meta")
        return value

    def load_session(self, peer: bytes, /) -> bytes | None:
        value: bytes | None = self._one("SELECT record FROM sessions WHERE peer = ?", peer)
        return value

    def peers(self) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT peer FROM sessions")]

    def seen(self, message_id: bytes, /) -> bool:
        return self._one("SELECT 1 FROM seen WHERE message_id = ?", message_id) is not None

    def pending_outbox(self) -> list[OutboxRecord]:
        rows = self.db.execute("SELECT id, peer, message_id, ciphertext FROM outbox ORDER BY id")
        return [OutboxRecord(*r) for r in rows]

    def pending_inbox(self) -> list[InboxRecord]:
        rows = self.db.execute("SELECT id, peer, message_id, sealed FROM inbox ORDER BY id")
        return [InboxRecord(*r) for r in rows]

    def commit_identity(self, counter: int, identity: bytes, prekeys: bytes, /) -> None:
        with self._commit(counter, setup=True):
            self.db.execute("UPDATE meta SET identity = ?, prekeys = ?", (identity, prekeys))

    def commit_prekeys(self, counter: int, prekeys: bytes, /) -> None:
        with self._commit(counter):
            self.db.execute("UPDATE meta SET prekeys = ?", (prekeys,))

    def commit_session(self, counter: int, peer: bytes, session: bytes, /) -> None:
        with self._commit(counter):
            self.db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (peer, session))

    def commit_send(
        self, counter: int, peer: bytes, session: bytes, outbox: OutboxRecord, /
    ) -> None:
        with self._commit(counter):
            if outbox.id != counter:
                raise sealwire.StorageError("outbox id", sealwire.store.STORE_CONFLICT)
            self.db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (peer, session))
            self._maybe_fail()
            self.db.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?)",
                (outbox.id, outbox.peer, outbox.message_id, outbox.ciphertext),
            )

    def commit_receive(self, commit: ReceiveCommit, /) -> None:
        with self._commit(commit.counter):
            inbox = commit.inbox
            if inbox.id != commit.counter:
                raise sealwire.StorageError("inbox id", sealwire.store.STORE_CONFLICT)
            self.db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?)", (commit.peer, commit.session)
            )
            if commit.prekeys is not None:
                self.db.execute("UPDATE meta SET prekeys = ?", (commit.prekeys,))
            self._maybe_fail()
            self.db.execute("INSERT INTO seen VALUES (?)", (commit.message_id,))
            self.db.execute(
                "INSERT INTO inbox VALUES (?, ?, ?, ?)",
                (inbox.id, inbox.peer, inbox.message_id, inbox.sealed),
            )

    def mark_sent(self, outbox_id: int, /) -> None:
        self.db.execute("DELETE FROM outbox WHERE id = ?", (outbox_id,))

    def ack(self, inbox_id: int, /) -> None:
        self.db.execute("DELETE FROM inbox WHERE id = ?", (inbox_id,))

    def dump(self) -> list[list[tuple[Any, ...]]]:
        """Every row of every table (to compare before and after a failed commit)."""
        return [
            list(self.db.execute(f"SELECT * FROM {t} ORDER BY 1"))
            for t in ("meta", "sessions", "outbox", "inbox", "seen")
        ]


# Both implement the protocol (checked by mypy --strict on this file).
def _typed(s: SqliteSessionStore) -> list[SessionStore]:
    return [s, MemorySessionStore()]


def python_store(kind: str, tmp_path: Path, name: str) -> Any:
    if kind == "memory":
        return MemorySessionStore()
    return SqliteSessionStore(tmp_path / f"{name}.sqlite")


KINDS = ["memory", "sqlite"]


def agent(store: Any, identity: Identity | None = None) -> Messenger:
    return Messenger.create_with_store(
        store, identity or Identity.generate(), KEY, one_time_prekeys=SMALL
    )


def deliver(src: Messenger, dst: Messenger, text: bytes) -> sealwire.Received:
    rec = src.send(dst.identity, text)
    src.mark_sent(rec.id)
    got = dst.receive(rec.ciphertext)
    assert got is not None and got.plaintext == text and got.peer == src.peer_id
    dst.ack(got.id)
    return got


def pair(kind: str, tmp_path: Path) -> tuple[Messenger, Messenger, Any, Any]:
    sa, sb = python_store(kind, tmp_path, "a"), python_store(kind, tmp_path, "b")
    a, b = agent(sa), agent(sb)
    a.connect(b.identity, b.bundle())
    return a, b, sa, sb


# --- the scenarios of the built-in stores -----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_duplicates_and_counts(kind: str, tmp_path: Path) -> None:
    a, b, sa, sb = pair(kind, tmp_path)
    first = a.send(b.identity, b"one")
    assert sa.counter() == a.counter and sa.pending_outbox() == [first]
    got = b.receive(first.ciphertext)
    assert got is not None and got.plaintext == b"one"
    assert sb.seen(first.message_id)
    assert b.receive(first.ciphertext) is None  # a duplicate, recognized by the store
    assert b.pending_inbox() == [got]
    assert len(sb.pending_inbox()) == 1 and sb.pending_inbox()[0].sealed != b"one"
    b.ack(got.id)
    assert b.pending_inbox() == [] and list(sb.pending_inbox()) == []
    a.mark_sent(first.id)
    assert list(sa.pending_outbox()) == []
    for i in range(3):
        deliver(b, a, b"reply %d" % i)
        deliver(a, b, b"again %d" % i)
    assert a.sent_count(b.identity) == 4 and b.received_count(a.identity) == 4
    assert b.peers() == [a.peer_id] and list(sb.peers()) == [a.peer_id]
    assert b.peer_identity(a.peer_id) == a.identity
    assert b.one_time_prekey_count() == SMALL - 1


def scenario(make: Any) -> list[Any]:
    """A fixed sequence of operations; what it observes (counters, ids, plaintexts)."""
    a, b = make(), make()
    seen: list[Any] = []
    a.connect(b.identity, b.bundle())
    seen.append((a.counter, b.counter))
    out = [a.send(b.identity, b"m%d" % i) for i in range(3)]
    seen.append([o.id for o in out])
    for o in (out[2], out[0], out[1], out[0]):
        r = b.receive(o.ciphertext)
        seen.append(None if r is None else (r.id, r.plaintext))
    seen.append([r.id for r in b.pending_inbox()])
    b.ack(b.pending_inbox()[0].id)
    reply = b.send(a.identity, b"reply")
    seen.append(reply.id)
    r = a.receive(reply.ciphertext)
    seen.append(None if r is None else (r.id, r.plaintext))
    b.replenish_prekeys()
    b.rotate_signed_prekey(now=2_000_000_000)
    seen.append((a.counter, b.counter, b.one_time_prekey_count()))
    seen.append([o.id for o in a.pending_outbox()])
    return seen


def test_same_observations_as_the_builtin_memory_store() -> None:
    builtin = scenario(
        lambda: Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=SMALL)
    )
    python = scenario(lambda: agent(MemorySessionStore()))
    assert python == builtin
    assert builtin[1] == [3, 4, 5]  # counters: create 1, connect 2, sends 3..5


@pytest.mark.parametrize("kind", KINDS)
def test_restart_reopens_over_the_same_data(kind: str, tmp_path: Path) -> None:
    a, b, sa, sb = pair(kind, tmp_path)
    out = a.send(b.identity, b"before the crash")
    anchor = a.counter
    a.close()
    if kind == "sqlite":  # a new process: a new object over the same file
        sa.close()
        sa = SqliteSessionStore(tmp_path / "a.sqlite")
    a = Messenger.open_with_store(sa, KEY, min_counter=anchor)
    assert a.pending_outbox() == [out]
    got = b.receive(out.ciphertext)
    assert got is not None
    assert b.receive(a.pending_outbox()[0].ciphertext) is None
    a.mark_sent(out.id)
    # The receiver crashes before ack: re-delivered with the same id.
    inbox, anchor_b = b.pending_inbox(), b.counter
    del b
    b = Messenger.open_with_store(sb, KEY, min_counter=anchor_b)
    assert b.pending_inbox() == inbox == [got]
    b.ack(got.id)
    deliver(a, b, b"after")
    deliver(b, a, b"reply")
    # A store already set up is not set up again; an empty one cannot be opened.
    with pytest.raises(sealwire.StorageError) as info:
        agent(sa)
    assert info.value.code == "ERR_SEALWIRE_STORE_CONFLICT"
    with pytest.raises(sealwire.StorageError) as info:
        Messenger.open_with_store(python_store(kind, tmp_path, "empty"), KEY)
    assert info.value.code == "ERR_SEALWIRE_STORAGE"


def test_failed_commits_change_nothing() -> None:
    a, b, sa, _ = pair("memory", Path("."))
    deliver(a, b, b"first")
    counter, before = a.counter, sa.copy()
    sa.fail_next_commits(1)
    with pytest.raises(sealwire.StorageError) as info:
        a.send(b.identity, b"lost")
    assert info.value.code == "ERR_SEALWIRE_STORAGE"
    assert isinstance(info.value.__cause__, OSError)
    assert "injected" in str(info.value.__cause__)
    assert a.counter == counter and sa.counter() == before.counter()
    assert a.pending_outbox() == []
    # The failed send's state was discarded: Bob reads the next one as the very next.
    deliver(a, b, b"second")

    # Receiving side: a failed commit leaves the message receivable later.
    out = b.send(a.identity, b"reply")
    sa.fail_next_commits(1)
    with pytest.raises(sealwire.StorageError):
        a.receive(out.ciphertext)
    assert not sa.seen(out.message_id)
    r = a.receive(out.ciphertext)
    assert r is not None and r.plaintext == b"reply"


def test_failure_inside_a_sqlite_transaction_leaves_nothing(tmp_path: Path) -> None:
    a, b, sa, sb = pair("sqlite", tmp_path)
    deliver(a, b, b"first")
    deliver(b, a, b"reply")
    before = sa.dump()
    sa.fail_inside_next_commit = True  # after the session row was written
    with pytest.raises(sealwire.StorageError) as info:
        a.send(b.identity, b"lost")
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert sa.dump() == before
    deliver(a, b, b"second")

    out = a.send(b.identity, b"to bob")
    before_b = sb.dump()
    sb.fail_inside_next_commit = True  # after the session (and prekeys) rows
    with pytest.raises(sealwire.StorageError):
        b.receive(out.ciphertext)
    assert sb.dump() == before_b
    r = b.receive(out.ciphertext)
    assert r is not None and r.plaintext == b"to bob"


def test_rolled_back_store_is_refused() -> None:
    a, b, sa, _ = pair("memory", Path("."))
    deliver(a, b, b"1")
    snapshot = sa.copy()
    deliver(a, b, b"2")
    latest = a.counter
    with pytest.raises(sealwire.StaleStateError) as info:
        Messenger.open_with_store(snapshot, KEY, min_counter=latest)
    assert info.value.code == "ERR_SEALWIRE_STALE_STATE"
    Messenger.open_with_store(sa, KEY, min_counter=latest).close()


def test_records_are_bound_to_their_peer_and_key() -> None:
    store = MemorySessionStore()
    a = agent(store)
    b, c = agent(MemorySessionStore()), agent(MemorySessionStore())
    for peer in (b, c):
        a.connect(peer.identity, peer.bundle())
    a.close()
    with pytest.raises(sealwire.DecryptionError):
        Messenger.open_with_store(store, bytes(32))
    with pytest.raises(sealwire.DecodeError):
        Messenger.open_with_store(store, KEY[:31])
    # Swap b's and c's session records (same counter sequence).
    swapped = MemorySessionStore()
    identity, prekeys = store.load_identity(), store.load_prekeys()
    assert identity is not None and prekeys is not None
    rb, rc = store.load_session(b.peer_id), store.load_session(c.peer_id)
    assert rb is not None and rc is not None
    swapped.commit_identity(1, identity, prekeys)
    swapped.commit_session(2, b.peer_id, rc)
    swapped.commit_session(3, c.peer_id, rb)
    assert store.counter() == 3
    m = Messenger.open_with_store(swapped, KEY)
    with pytest.raises(sealwire.DecodeError) as info:
        m.send(b.peer_id, b"x")
    assert info.value.code == "ERR_SEALWIRE_MALFORMED"


def test_blob_newer_than_counter_is_stale() -> None:
    a, b, sa, _ = pair("memory", Path("."))
    a.send(b.identity, b"x")  # the record is now sealed at counter 3
    newer = sa.load_session(b.peer_id)
    identity, prekeys = sa.load_identity(), sa.load_prekeys()
    assert newer is not None and identity is not None and prekeys is not None
    partial = MemorySessionStore()
    partial.commit_identity(1, identity, prekeys)
    partial.commit_session(2, b.peer_id, newer)
    m = Messenger.open_with_store(partial, KEY)
    with pytest.raises(sealwire.StaleStateError):
        m.send(b.peer_id, b"y")


def test_two_writers_on_one_store_conflict() -> None:
    a, b, sa, _ = pair("memory", Path("."))
    twin = Messenger.open_with_store(sa, KEY, min_counter=a.counter)
    sent = twin.send(b.identity, b"twin")
    with pytest.raises(sealwire.StorageError) as info:
        a.send(b.identity, b"other")
    assert info.value.code == "ERR_SEALWIRE_STORE_CONFLICT"
    cause = info.value.__cause__
    assert isinstance(cause, sealwire.StorageError)
    assert cause.code == "ERR_SEALWIRE_STORE_CONFLICT"
    r = b.receive(sent.ciphertext)
    assert r is not None and r.plaintext == b"twin"


def test_reference_store_enforces_the_contract() -> None:
    """MemorySessionStore on its own: the counter rule and the id rules."""
    s = MemorySessionStore()
    peer, mid = bytes(32), bytes(range(32))
    with pytest.raises(sealwire.StorageError):
        s.commit_session(2, peer, b"x")  # counter 0: only 1 is next
    s.commit_identity(5, b"id", b"pk")  # setup may jump ahead
    with pytest.raises(sealwire.StorageError):
        s.commit_identity(6, b"id", b"pk")  # only once
    with pytest.raises(sealwire.StorageError):
        s.commit_prekeys(5, b"pk2")  # not current + 1
    s.commit_send(6, peer, b"s", OutboxRecord(6, peer, mid, b"ct"))
    with pytest.raises(sealwire.StorageError):
        s.commit_send(7, peer, b"s", OutboxRecord(6, peer, mid, b"ct"))  # id != counter
    inbox = InboxRecord(7, peer, mid, b"sealed")
    s.commit_receive(ReceiveCommit(7, peer, b"s2", None, mid, inbox))
    with pytest.raises(sealwire.StorageError):  # the same message id again
        s.commit_receive(ReceiveCommit(8, peer, b"s3", None, mid, InboxRecord(8, peer, mid, b"")))
    assert s.counter() == 7 and s.seen(mid) and s.load_session(peer) == b"s2"
    assert s.pending_inbox() == [inbox] and s.load_prekeys() == b"pk"
    s.ack(7)
    s.ack(7)
    s.mark_sent(6)
    s.mark_sent(99)
    assert (s.pending_inbox(), s.pending_outbox(), s.counter()) == ([], [], 7)


def test_record_classes() -> None:
    o = OutboxRecord(3, bytes(32), bytes(range(32)), bytearray(b"ct"))
    assert (o.id, o.peer, o.message_id, o.ciphertext) == (3, bytes(32), bytes(range(32)), b"ct")
    assert o == OutboxRecord(3, bytes(32), bytes(range(32)), b"ct")
    i = InboxRecord(4, bytes(32), bytes(32), b"sealed")
    assert (i.id, i.sealed) == (4, b"sealed") and "InboxRecord" in repr(i)
    c = ReceiveCommit(4, bytes(32), b"s", b"p", bytes(32), i)
    assert (c.counter, c.session, c.prekeys, c.inbox) == (4, b"s", b"p", i)
    assert ReceiveCommit(4, bytes(32), b"s", None, bytes(32), i).prekeys is None
    with pytest.raises(sealwire.DecodeError):
        OutboxRecord(1, bytes(31), bytes(32), b"")
    with pytest.raises(sealwire.DecodeError):
        InboxRecord(1, bytes(32), bytes(33), b"")
    with pytest.raises(sealwire.ParameterError):
        OutboxRecord(-1, bytes(32), bytes(32), b"")


# --- misbehaving stores ---------------------------------------------------------------------


class Broken(MemorySessionStore):
    """A memory store whose method ``method`` returns ``value`` or raises ``exc``."""

    def __init__(self) -> None:
        super().__init__()
        self.method = ""
        self.value: Any = None
        self.exc: BaseException | None = None

    def __getattribute__(self, name: str) -> Any:
        if name != "method" and name == object.__getattribute__(self, "method"):
            exc, value = object.__getattribute__(self, "exc"), object.__getattribute__(self, "value")

            def broken(*_args: Any) -> Any:
                if exc is not None:
                    raise exc
                return value

            return broken
        return object.__getattribute__(self, name)


@pytest.mark.parametrize(
    ("method", "value"),
    [
        ("counter", "3"),
        ("counter", -1),
        ("load_session", 12),
        ("seen", 1),
        ("peers", 5),
        ("peers", [b"short"]),
        ("pending_outbox", [(1, bytes(32), bytes(32), b"ct")]),
    ],
)
def test_wrong_return_types_are_storage_errors(method: str, value: Any) -> None:
    store = Broken()
    m = agent(store)
    peer = agent(MemorySessionStore())
    m.connect(peer.identity, peer.bundle())
    store.method, store.value = method, value
    with pytest.raises(sealwire.StorageError) as info:
        if method == "pending_outbox":
            m.pending_outbox()
        elif method == "peers":
            m.peers()
        elif method == "seen":
            m.receive(b"SWRM\x01\x01" + bytes(200))
        elif method == "load_session":
            m.close()
            Messenger.open_with_store(store, KEY).send(peer.peer_id, b"x")
        else:  # counter: read when a messenger is opened
            m.close()
            Messenger.open_with_store(store, KEY)
    assert info.value.code == "ERR_SEALWIRE_STORAGE"
    assert isinstance(info.value.__cause__, TypeError)
    assert method in str(info.value.__cause__)


def test_missing_methods_are_a_type_error() -> None:
    class NoAck(MemorySessionStore):
        ack = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="SessionStore"):
        Messenger.create_with_store(object(), Identity.generate(), KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no method ack"):
        Messenger.create_with_store(NoAck(), Identity.generate(), KEY)  # type: ignore[arg-type]


def test_keyboard_interrupt_propagates_unchanged() -> None:
    store = Broken()
    a = agent(store)
    b = agent(MemorySessionStore())
    a.connect(b.identity, b.bundle())
    store.method, store.exc = "commit_send", KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        a.send(b.identity, b"x")
    store.method = ""
    deliver(a, b, b"still consistent")


def test_a_store_calling_back_into_its_messenger_is_refused() -> None:
    """Re-entering the messenger from its own store callback would deadlock on its lock;
    it raises ParameterError instead (and the store may carry on)."""

    class Reentrant(MemorySessionStore):
        def __init__(self) -> None:
            super().__init__()
            self.messenger: Messenger | None = None
            self.errors: list[BaseException] = []

        def commit_send(self, counter: int, peer: bytes, session: bytes, outbox: OutboxRecord, /) -> None:
            m = self.messenger
            assert m is not None
            for call in (lambda: m.counter, m.peers, m.pending_outbox, lambda: m.send(peer, b"x")):
                try:
                    call()
                except sealwire.ParameterError as e:
                    self.errors.append(e)
            super().commit_send(counter, peer, session, outbox)

    store = Reentrant()
    a = agent(store)
    store.messenger = a
    b = agent(MemorySessionStore())
    a.connect(b.identity, b.bundle())
    deliver(a, b, b"hello")
    assert len(store.errors) == 4
    assert all("in use" in str(e) for e in store.errors)
    assert "Messenger" in repr(a)  # usable again once the call returned


# --- threads and the GIL ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_threads_share_a_messenger_over_a_python_store(kind: str, tmp_path: Path) -> None:
    """Senders on 4 threads and a reader of cheap properties: the store's callbacks need
    the GIL while the messenger's lock is held; nothing may deadlock."""
    a, b, _, _ = pair(kind, tmp_path)
    deliver(a, b, b"start")
    deliver(b, a, b"reply")
    sent: list[OutboxRecord] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def sender(n: int) -> None:
        try:
            for i in range(15):
                rec = a.send(b.identity, b"%d-%d" % (n, i))
                with lock:
                    sent.append(rec)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader() -> None:
        try:
            while not done.is_set():
                _ = a.counter, repr(a), a.has_session(b.identity)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "deadlock"
    done.set()
    r.join(timeout=60)
    assert not r.is_alive(), "deadlock"
    assert not errors, errors
    assert len({s.id for s in sent}) == 60
    got = {x.plaintext for x in (b.receive(s.ciphertext) for s in sent) if x is not None}
    assert got == {b"%d-%d" % (n, i) for n in range(4) for i in range(15)}


def test_two_messengers_exchange_concurrently() -> None:
    a, b, _, _ = pair("memory", Path("."))
    deliver(a, b, b"start")
    errors: list[BaseException] = []

    def run(src: Messenger, dst: Messenger, tag: bytes) -> None:
        try:
            for i in range(20):
                rec = src.send(dst.identity, tag + b"%d" % i)
                got = dst.receive(rec.ciphertext)
                assert got is not None and got.plaintext == tag + b"%d" % i
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=run, args=(a, b, b"a")),
        threading.Thread(target=run, args=(b, a, b"b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "deadlock"
    assert not errors, errors
