"""sealwire.Messenger: asynchronous sessions (X3DH / PQXDH + Double Ratchet) persisted in a
SQLite store (or in memory), with crash-safe sending, exactly-once receiving and rollback
detection; sealwire.PrekeyBundle and the ratchet vectors' bundles."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import sealwire
from conftest import VECTORS_DIR
from sealwire import Identity, Messenger, PrekeyBundle

ALICE_KEY = bytes(range(32))
BOB_KEY = bytes(range(32, 64))
OTHER_KEY = bytes(32)

# Few prekeys keep the tests fast (every one-time ML-KEM prekey is a key generation).
SMALL = 5


def create(path: Path | str, identity: Identity, key: bytes, **kwargs: Any) -> Messenger:
    kwargs.setdefault("one_time_prekeys", SMALL)
    return Messenger.create(path, identity, key, **kwargs)


def memory(identity: Identity | None = None, **kwargs: Any) -> Messenger:
    kwargs.setdefault("one_time_prekeys", SMALL)
    return Messenger.create_in_memory(identity or Identity.generate(), ALICE_KEY, **kwargs)


def connected() -> tuple[Messenger, Messenger]:
    """(alice, bob) in memory, alice connected to bob's bundle."""
    alice, bob = memory(), memory()
    alice.connect(bob.identity, bob.bundle())
    return alice, bob


def deliver(src: Messenger, dst: Messenger, text: bytes) -> sealwire.Received:
    rec = src.send(dst.identity, text)
    src.mark_sent(rec.id)
    got = dst.receive(rec.ciphertext)
    assert got is not None
    assert got.plaintext == text
    assert got.peer == src.peer_id
    dst.ack(got.id)
    return got


def snapshot(db: Path) -> dict[str, bytes]:
    """The database file and any WAL / shared-memory file next to it."""
    files: dict[str, bytes] = {}
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            files[suffix] = p.read_bytes()
    return files


def restore(db: Path, files: dict[str, bytes]) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()
    for suffix, data in files.items():
        Path(str(db) + suffix).write_bytes(data)


# --- PrekeyBundle ------------------------------------------------------------------------


def test_bundle_round_trip_and_properties() -> None:
    bob_id = Identity.generate()
    bob = memory(bob_id)
    bundle = bob.bundle()
    assert isinstance(bundle, PrekeyBundle)
    data = bundle.to_bytes()
    assert isinstance(data, bytes)
    again = PrekeyBundle.from_bytes(bytearray(data))
    assert again == bundle
    assert again.to_bytes() == data
    assert again.identity == bob_id.public == bob.identity
    assert again.is_post_quantum
    assert len(again.one_time_prekey_ids) == SMALL
    assert len(again.kem_one_time_prekey_ids) == SMALL
    assert isinstance(again.signed_prekey_id, int)
    assert "PrekeyBundle" in repr(again)


def test_bundle_without_post_quantum_and_kem_count() -> None:
    classic = memory(post_quantum=False).bundle()
    assert not classic.is_post_quantum
    assert classic.kem_one_time_prekey_ids == []
    fewer = memory(one_time_prekeys=3, kem_one_time_prekeys=1).bundle()
    assert len(fewer.one_time_prekey_ids) == 3
    assert len(fewer.kem_one_time_prekey_ids) == 1


def test_bundle_rejects_malformed_and_tampered() -> None:
    data = bytearray(memory().bundle().to_bytes())
    with pytest.raises(sealwire.DecodeError):
        PrekeyBundle.from_bytes(b"")
    with pytest.raises(sealwire.DecodeError):
        PrekeyBundle.from_bytes(bytes(data) + b"\x00")
    data[-1] ^= 1  # inside the last signed key or its signature
    with pytest.raises(sealwire.SealwireError):
        PrekeyBundle.from_bytes(data)
    with pytest.raises(TypeError):
        PrekeyBundle.from_bytes("text")  # type: ignore[arg-type]


def test_prekey_options_out_of_range() -> None:
    with pytest.raises(sealwire.ParameterError):
        memory(one_time_prekeys=1001)
    with pytest.raises(sealwire.ParameterError):
        memory(one_time_prekeys=-1)
    with pytest.raises(sealwire.DecodeError):
        Messenger.create_in_memory(Identity.generate(), b"short")


# --- the offline scenario, on disk --------------------------------------------------------


def test_offline_scenario(tmp_path: Path) -> None:
    alice_id, bob_id = Identity.generate(), Identity.generate()
    bob_db, alice_db = tmp_path / "bob.db", tmp_path / "alice.db"

    # Bob sets up, publishes his bundle, saves his counter elsewhere and goes offline.
    bob = create(bob_db, bob_id, BOB_KEY)
    published = bob.bundle().to_bytes()
    bob_anchor = bob.counter
    assert bob.one_time_prekey_count() == SMALL
    del bob  # dropped: the store is closed

    # Alice starts a session from the published bundle alone and sends while Bob is away.
    alice = create(str(alice_db), alice_id, ALICE_KEY)
    bundle = PrekeyBundle.from_bytes(published)
    assert bundle.identity == bob_id.public
    alice.connect(bundle.identity, bundle)
    assert alice.has_session(bob_id.public)
    assert alice.has_session(bob_id.public.ed25519_key)
    assert not alice.has_session(Identity.generate().public)
    texts = [b"one", b"two", b"three", b"four"]
    wire = []
    for text in texts:
        rec = alice.send(bob_id.public, text)
        assert rec.peer == bob_id.public.ed25519_key
        assert len(rec.message_id) == 32
        wire.append(rec.ciphertext)
        alice.mark_sent(rec.id)
    assert alice.pending_outbox() == []
    assert alice.sent_count(bob_id.public) == len(texts)

    # Bob comes back from disk with his storage key and counter, and reads them in order.
    bob = Messenger.open(bob_db, BOB_KEY, min_counter=bob_anchor)
    assert bob.identity == bob_id.public
    got = []
    for c in wire:
        r = bob.receive(c)
        assert r is not None
        got.append(r)
    assert [r.plaintext for r in got] == texts
    assert all(r.peer == alice_id.public.ed25519_key for r in got)
    ids = [r.id for r in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert bob.pending_inbox() == got
    for r in got:
        bob.ack(r.id)
    assert bob.pending_inbox() == []
    assert bob.one_time_prekey_count() == SMALL - 1  # consumed by Alice's session
    assert bob.peer_identity(got[0].peer) == alice_id.public
    assert bob.peers() == [alice_id.public.ed25519_key]
    assert bob.received_count(alice_id.public) == len(texts)

    # He replies to the peer id he received from, and goes offline again.
    reply = bob.send(got[0].peer, b"hi alice")
    bob.mark_sent(reply.id)
    bob_anchor = bob.counter
    bob.close()
    assert bob.closed
    r = alice.receive(reply.ciphertext)
    assert r is not None and r.plaintext == b"hi alice"
    assert r.peer == bob_id.public.ed25519_key
    alice.ack(r.id)

    # They continue, Bob reopening from disk for every exchange.
    for i in range(3):
        bob = Messenger.open(bob_db, BOB_KEY, min_counter=bob_anchor)
        deliver(alice, bob, b"alice %d" % i)
        deliver(bob, alice, b"bob %d" % i)
        deliver(bob, alice, b"bob again %d" % i)
        bob_anchor = bob.counter
        bob.close()

    # Alice's side survives a restart too.
    alice_anchor = alice.counter
    alice.close()
    with Messenger.open(alice_db, ALICE_KEY, min_counter=alice_anchor) as alice:
        bob = Messenger.open(bob_db, BOB_KEY, min_counter=bob_anchor)
        deliver(alice, bob, b"after both restarted")
        deliver(bob, alice, b"still fine")
        bob.close()
    assert alice.closed


def test_closed_messenger_refuses_calls(tmp_path: Path) -> None:
    m = create(tmp_path / "m.db", Identity.generate(), ALICE_KEY)
    assert "counter=" in repr(m)
    m.close()
    m.close()  # idempotent
    assert repr(m) == "<Messenger closed>"
    with pytest.raises(sealwire.ParameterError):
        m.bundle()
    with pytest.raises(sealwire.ParameterError):
        _ = m.counter


# --- delivery semantics ---------------------------------------------------------------------


def test_duplicates_return_none() -> None:
    alice, bob = connected()
    first = alice.send(bob.identity, b"initial")
    second = alice.send(bob.identity, b"next")
    got = bob.receive(first.ciphertext)
    assert got is not None
    assert bob.receive(first.ciphertext) is None
    assert bob.receive(bytearray(first.ciphertext)) is None
    got2 = bob.receive(memoryview(second.ciphertext))
    assert got2 is not None and got2.plaintext == b"next"
    assert bob.receive(second.ciphertext) is None
    # Still None after the plaintext was acknowledged (the message id stays recorded).
    bob.ack(got.id)
    bob.ack(got.id)  # idempotent
    assert bob.receive(first.ciphertext) is None
    # Ratchet messages (after a reply) too.
    reply = bob.send(alice.identity, b"reply")
    assert alice.receive(reply.ciphertext) is not None
    assert alice.receive(reply.ciphertext) is None
    m = alice.send(bob.identity, b"ratchet")
    assert bob.receive(m.ciphertext) is not None
    assert bob.receive(m.ciphertext) is None


def test_out_of_order_within_bounds() -> None:
    alice, bob = connected()
    # Initial messages (before any reply), delivered out of order.
    first = [alice.send(bob.identity, b"i%d" % i) for i in range(4)]
    for i in (2, 0, 3, 1):
        r = bob.receive(first[i].ciphertext)
        assert r is not None and r.plaintext == b"i%d" % i
    deliver(bob, alice, b"reply")
    # Ratchet messages across a new chain, delivered out of order.
    later = [alice.send(bob.identity, b"m%d" % i) for i in range(6)]
    for i in (5, 1, 4, 0, 3, 2):
        r = bob.receive(later[i].ciphertext)
        assert r is not None and r.plaintext == b"m%d" % i
    deliver(bob, alice, b"and back")


def test_out_of_order_beyond_bounds_is_refused() -> None:
    alice, bob = connected()
    deliver(alice, bob, b"start")
    deliver(bob, alice, b"reply")
    sent = [alice.send(bob.identity, b"x") for _ in range(1002)]
    before = bob.counter
    with pytest.raises(sealwire.DecryptionError) as info:
        bob.receive(sent[-1].ciphertext)
    assert info.value.code == "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES"
    assert bob.counter == before  # nothing committed
    # The session is unchanged: the messages in order still decrypt.
    for rec in sent[:3]:
        r = bob.receive(rec.ciphertext)
        assert r is not None and r.plaintext == b"x"


def test_send_without_session_is_a_protocol_error() -> None:
    alice, bob = memory(), memory()
    with pytest.raises(sealwire.ProtocolError) as info:
        alice.send(bob.identity, b"x")
    assert info.value.code == "ERR_SEALWIRE_NO_SESSION"
    with pytest.raises(sealwire.DecodeError):
        alice.send(b"\x00" * 31, b"x")
    with pytest.raises(TypeError):
        alice.send("peer", b"x")  # type: ignore[arg-type]
    with pytest.raises(sealwire.DecodeError):
        bob.receive(b"not a message")


def test_garbage_and_foreign_messages_change_nothing() -> None:
    alice, bob = connected()
    deliver(alice, bob, b"start")
    deliver(bob, alice, b"reply")
    rec = alice.send(bob.identity, b"real")
    tampered = bytearray(rec.ciphertext)
    tampered[-1] ^= 1
    before = bob.counter
    with pytest.raises(sealwire.DecryptionError):
        bob.receive(bytes(tampered))
    assert bob.counter == before
    got = bob.receive(rec.ciphertext)
    assert got is not None and got.plaintext == b"real"


# --- crash safety and restart ---------------------------------------------------------------


def test_restart_resends_the_same_ciphertext(tmp_path: Path) -> None:
    bob = memory()
    db = tmp_path / "alice.db"
    alice = create(db, Identity.generate(), ALICE_KEY)
    alice.connect(bob.identity, bob.bundle())
    out = [alice.send(bob.identity, b"a"), alice.send(bob.identity, b"b")]
    anchor = alice.counter
    del alice  # "crash" before mark_sent

    alice = Messenger.open(db, ALICE_KEY, min_counter=anchor)
    pending = alice.pending_outbox()
    assert pending == out
    assert [p.ciphertext for p in pending] == [o.ciphertext for o in out]
    assert [p.id for p in pending] == [o.id for o in out]
    assert "OutboxRecord" in repr(pending[0])
    # Sending them again (any number of times) delivers each once.
    for p in pending:
        for _ in range(2):
            bob.receive(p.ciphertext)
        alice.mark_sent(p.id)
        alice.mark_sent(p.id)  # idempotent
    assert alice.pending_outbox() == []
    assert [r.plaintext for r in bob.pending_inbox()] == [b"a", b"b"]
    # The session continues where the committed state left off.
    deliver(bob, alice, b"reply")
    deliver(alice, bob, b"on")


def test_restart_redelivers_unacknowledged_messages(tmp_path: Path) -> None:
    alice = memory()
    db = tmp_path / "bob.db"
    bob_id = Identity.generate()
    bob = create(db, bob_id, BOB_KEY)
    alice.connect(bob.identity, bob.bundle())
    rec = alice.send(bob_id.public, b"handle me once")
    got = bob.receive(rec.ciphertext)
    assert got is not None
    assert "plaintext" not in repr(got) and "handle" not in repr(got)
    anchor = bob.counter
    del bob  # crash before ack

    bob = Messenger.open(db, BOB_KEY, min_counter=anchor)
    assert bob.receive(rec.ciphertext) is None  # already committed
    assert bob.pending_inbox() == [got]
    bob.ack(got.id)
    assert bob.pending_inbox() == []


def test_stale_snapshot_is_refused(tmp_path: Path) -> None:
    bob = memory()
    db = tmp_path / "alice.db"
    alice = create(db, Identity.generate(), ALICE_KEY)
    alice.connect(bob.identity, bob.bundle())
    deliver(alice, bob, b"one")
    alice.close()
    backup = snapshot(db)  # e.g. a backup taken now

    alice = Messenger.open(db, ALICE_KEY, min_counter=0)
    deliver(alice, bob, b"two")
    deliver(bob, alice, b"three")
    latest = alice.counter
    alice.close()

    restore(db, backup)
    with pytest.raises(sealwire.StaleStateError) as info:
        Messenger.open(db, ALICE_KEY, min_counter=latest)
    assert info.value.code == "ERR_SEALWIRE_STALE_STATE"
    # Without the anchor the rollback goes unnoticed: that is what the anchor is for.
    Messenger.open(db, ALICE_KEY, min_counter=0).close()

    # Recovery: same identity, new prekeys, a counter above the anchor, no sessions.
    fresh = tmp_path / "alice-fresh.db"
    alice, peers = Messenger.recover_from_rollback(
        db, fresh, ALICE_KEY, min_counter=latest, one_time_prekeys=3
    )
    assert peers == [bob.identity.ed25519_key]
    assert alice.counter > latest
    assert not alice.has_session(bob.identity)
    assert alice.one_time_prekey_count() == 3
    # Reconnect from the peer's bundle; the peer takes the new session as current.
    alice.connect(bob.identity, bob.bundle())
    deliver(alice, bob, b"after recovery")
    deliver(bob, alice, b"welcome back")
    anchor = alice.counter
    alice.close()
    Messenger.open(fresh, ALICE_KEY, min_counter=anchor).close()
    # The fresh store already holds an identity: recovering into it again is refused.
    with pytest.raises(sealwire.StorageError):
        Messenger.recover_from_rollback(db, fresh, ALICE_KEY, min_counter=latest)


def test_wrong_storage_key_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    m = create(db, Identity.generate(), ALICE_KEY)
    anchor = m.counter
    m.close()
    with pytest.raises(sealwire.DecryptionError):
        Messenger.open(db, OTHER_KEY, min_counter=anchor)
    with pytest.raises(sealwire.DecodeError):
        Messenger.open(db, ALICE_KEY[:16], min_counter=anchor)
    with pytest.raises(sealwire.ParameterError):
        Messenger.open(db, ALICE_KEY, min_counter=-1)
    Messenger.open(db, ALICE_KEY, min_counter=anchor).close()


def test_open_without_a_store_and_create_twice(tmp_path: Path) -> None:
    with pytest.raises(sealwire.StorageError):
        Messenger.open(tmp_path / "empty.db", ALICE_KEY, min_counter=0)
    db = tmp_path / "m.db"
    create(db, Identity.generate(), ALICE_KEY).close()
    with pytest.raises(sealwire.StorageError):
        create(db, Identity.generate(), ALICE_KEY)
    with pytest.raises(sealwire.StorageError):
        Messenger.open(tmp_path / "no" / "such" / "dir.db", ALICE_KEY, min_counter=0)


def test_two_writers_on_one_file_conflict(tmp_path: Path) -> None:
    bob = memory()
    db = tmp_path / "alice.db"
    a = create(db, Identity.generate(), ALICE_KEY)
    a.connect(bob.identity, bob.bundle())
    twin = Messenger.open(db, ALICE_KEY, min_counter=a.counter)
    sent = twin.send(bob.identity, b"twin")
    with pytest.raises(sealwire.StorageError) as info:
        a.send(bob.identity, b"other")
    assert info.value.code == "ERR_SEALWIRE_STORE_CONFLICT"
    r = bob.receive(sent.ciphertext)
    assert r is not None and r.plaintext == b"twin"


# --- prekeys and replays --------------------------------------------------------------------


def test_replayed_initial_message_naming_a_used_prekey() -> None:
    alice, bob = memory(), memory()
    stale = bob.bundle()
    alice.connect(bob.identity, stale)
    deliver(alice, bob, b"first")
    used = stale.one_time_prekey_ids
    assert bob.one_time_prekey_count() == SMALL - 1

    # Another initiator given the same (stale) bundle names the same one-time prekey.
    carol = memory()
    carol.connect(bob.identity, stale)
    rec = carol.send(bob.identity, b"replay")
    before = bob.counter
    with pytest.raises(sealwire.ReplayError) as info:
        bob.receive(rec.ciphertext)
    assert info.value.code == "ERR_SEALWIRE_PREKEY_ALREADY_USED"
    assert bob.counter == before
    assert not bob.has_session(carol.identity)

    # Alice herself starting over from the stale bundle: refused the same way, and her
    # original session still works.
    alice.connect(bob.identity, stale)
    again = alice.send(bob.identity, b"again")
    with pytest.raises(sealwire.ReplayError):
        bob.receive(again.ciphertext)

    # With a fresh bundle, a new session is accepted.
    fresh = bob.bundle()
    assert fresh.one_time_prekey_ids != used
    carol.connect(bob.identity, fresh)
    deliver(carol, bob, b"hello with a fresh bundle")
    assert bob.has_session(carol.identity)


def test_replenish_and_rotate_prekeys() -> None:
    bob = memory()
    for _ in range(2):
        a = memory()
        a.connect(bob.identity, bob.bundle())
        deliver(a, bob, b"hi")
    assert bob.one_time_prekey_count() == SMALL - 2
    c0 = bob.counter
    bob.replenish_prekeys()
    assert bob.counter == c0 + 1
    assert bob.one_time_prekey_count() == SMALL
    old = bob.bundle()
    bob.rotate_signed_prekey()
    new = bob.bundle()
    assert new.signed_prekey_id != old.signed_prekey_id
    bob.rotate_signed_prekey(now=2_000_000_000)
    # A session from the previous bundle still works (the replaced key is kept for a while).
    late = memory()
    late.connect(bob.identity, old)
    deliver(late, bob, b"from an old bundle")
    assert bob.remove_expired_signed_prekeys(now=2_000_000_000, grace_secs=0) >= 1
    with pytest.raises(sealwire.ParameterError):
        bob.rotate_signed_prekey(now=-5)


def test_connect_checks_the_bundle_owner() -> None:
    alice, bob, carol = memory(), memory(), memory()
    with pytest.raises(sealwire.SealwireError):
        alice.connect(carol.identity, bob.bundle())
    assert not alice.has_session(carol.identity)


def test_messenger_is_shared_between_threads() -> None:
    alice, bob = connected()
    deliver(alice, bob, b"start")
    deliver(bob, alice, b"reply")
    errors: list[BaseException] = []
    sent: list[sealwire.OutboxRecord] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(10):
                rec = alice.send(bob.identity, b"%d-%d" % (n, i))
                with lock:
                    sent.append(rec)
                _ = alice.counter
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.id for r in sent}) == 40
    got = {r.plaintext for r in (bob.receive(s.ciphertext) for s in sent) if r is not None}
    assert got == {b"%d-%d" % (n, i) for n in range(4) for i in range(10)}


# --- ratchet vectors ------------------------------------------------------------------------
#
# tests/vectors/ratchet.json replays prekey generation, initiation and every ratchet step
# from fixed randomness: test_ratchet_vectors.py replays it through PrekeyStore and
# RatchetSession. Here: every published bundle decodes, verifies, re-encodes and has the
# properties the case describes.

RATCHET = json.loads((VECTORS_DIR / "ratchet.json").read_text(encoding="utf-8"))
BOB_PUBLIC = bytes.fromhex(
    next(i for i in RATCHET["identities"] if i["name"] == "bob")["public_identity"]
)


@pytest.mark.parametrize("case", RATCHET["cases"], ids=lambda c: str(c["name"]))
def test_ratchet_vector_bundles(case: dict[str, Any]) -> None:
    for field in ("bundle", "published_bundle"):
        data = bytes.fromhex(case[field])
        bundle = PrekeyBundle.from_bytes(data)
        assert bundle.to_bytes() == data
        assert bundle.identity == sealwire.PublicIdentity.from_bytes(BOB_PUBLIC)
        assert bundle.is_post_quantum == (case["key_agreement"] == "Pqxdh")
    published = PrekeyBundle.from_bytes(bytes.fromhex(case["published_bundle"]))
    opts = case["prekey_options"]
    assert len(published.one_time_prekey_ids) == opts["one_time_prekeys"]
    if not case["one_time_prekeys_used"]:
        assert PrekeyBundle.from_bytes(bytes.fromhex(case["bundle"])).one_time_prekey_ids == []
