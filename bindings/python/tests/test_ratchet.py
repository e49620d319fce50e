"""sealwire.PrekeyStore and sealwire.RatchetSession: the ratchet layer's own objects,
persisted by the application (sealed blobs with a generation)."""

from __future__ import annotations

import os
import threading

import pytest

import sealwire
from sealwire import Identity, PrekeyBundle, PrekeyStore, RatchetSession

KEY = bytes(range(32))
SMALL = 3


@pytest.fixture(scope="module")
def alice() -> Identity:
    return Identity.generate()


@pytest.fixture(scope="module")
def bob() -> Identity:
    return Identity.generate()


def pair(alice: Identity, bob: Identity) -> tuple[RatchetSession, RatchetSession, PrekeyStore]:
    """(alice's session, bob's session, bob's prekeys) after one message each way."""
    store = PrekeyStore.generate(bob, one_time_prekeys=SMALL)
    a = RatchetSession.initiate(alice, bob.public, store.bundle())
    b, first = RatchetSession.accept(bob, store, a.encrypt(b"hello bob"))
    assert first == b"hello bob"
    assert a.decrypt(b.encrypt(b"hello alice")) == b"hello alice"
    return a, b, store


# --- PrekeyStore --------------------------------------------------------------------------


def test_prekey_store_generate_properties_and_bundle(bob: Identity) -> None:
    s = PrekeyStore.generate(bob, one_time_prekeys=4, kem_one_time_prekeys=2, now=1_700_000_000)
    assert s.identity == bob.public
    assert s.is_post_quantum
    assert (s.one_time_prekey_count, s.kem_one_time_prekey_count) == (4, 2)
    assert s.signed_prekey_created_at == 1_700_000_000
    assert s.retired_signed_prekey_ids == []
    assert s.generation == 0
    b = s.bundle()
    assert isinstance(b, PrekeyBundle)
    assert PrekeyBundle.from_bytes(b.to_bytes()) == b
    assert b.identity == bob.public and b.is_post_quantum
    assert b.signed_prekey_id == s.signed_prekey_id
    assert len(b.one_time_prekey_ids) == 4 and len(b.kem_one_time_prekey_ids) == 2
    assert repr(s) == "<PrekeyStore one_time=4 kem_one_time=2 generation=0>"

    classic = PrekeyStore.generate(bob, one_time_prekeys=0, post_quantum=False)
    assert not classic.is_post_quantum and classic.kem_one_time_prekey_count == 0
    assert classic.bundle().one_time_prekey_ids == []
    with pytest.raises(sealwire.ParameterError):
        PrekeyStore.generate(bob, one_time_prekeys=1001)
    with pytest.raises(sealwire.ParameterError):
        PrekeyStore.generate(bob, now=-1)


def test_prekey_store_seal_open_and_rollback(bob: Identity) -> None:
    s = PrekeyStore.generate(bob, one_time_prekeys=SMALL)
    old_blob, old_gen = s.seal(KEY), s.generation
    assert old_blob[:4] == b"SWPS"
    assert s.seal(bytearray(KEY)) != old_blob  # a fresh nonce every time
    again = PrekeyStore.open(old_blob, KEY)
    assert again.bundle() == s.bundle()
    assert again.generation == old_gen

    # A session accepted from it consumes a one-time prekey and bumps the generation.
    a = RatchetSession.initiate(Identity.generate(), bob.public, s.bundle())
    RatchetSession.accept(bob, s, a.encrypt(b"x"))
    assert s.one_time_prekey_count == SMALL - 1
    assert s.generation == old_gen + 1
    new_blob = s.seal(KEY)
    assert PrekeyStore.open(new_blob, KEY, s.generation).one_time_prekey_count == SMALL - 1

    with pytest.raises(sealwire.StaleStateError) as info:
        PrekeyStore.open(old_blob, KEY, expected_generation=s.generation)
    assert info.value.code == "ERR_SEALWIRE_STALE_STATE"
    with pytest.raises(sealwire.DecryptionError):
        PrekeyStore.open(new_blob, bytes(32))
    with pytest.raises(sealwire.DecodeError):
        PrekeyStore.open(new_blob, KEY[:31])
    tampered = bytearray(new_blob)
    tampered[6] ^= 1  # the generation is authenticated
    with pytest.raises(sealwire.DecryptionError):
        PrekeyStore.open(tampered, KEY)
    with pytest.raises(sealwire.DecodeError):
        PrekeyStore.open(new_blob[:20], KEY)
    with pytest.raises(sealwire.ParameterError):
        PrekeyStore.open(new_blob, KEY, expected_generation=-1)


def test_prekey_store_maintenance(bob: Identity) -> None:
    s = PrekeyStore.generate(bob, one_time_prekeys=2, now=1000)
    a = RatchetSession.initiate(Identity.generate(), bob.public, s.bundle())
    RatchetSession.accept(bob, s, a.encrypt(b"x"))
    assert s.one_time_prekey_count == 1
    g = s.generation
    s.replenish(bob)
    assert (s.one_time_prekey_count, s.generation) == (2, g + 1)
    s.replenish(bob)  # nothing to do: unchanged
    assert s.generation == g + 1
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        s.replenish(Identity.generate())  # not the owner
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        s.rotate_signed_prekey(Identity.generate())


def test_signed_prekey_rotation_and_expiry(bob: Identity) -> None:
    # Classic, without one-time prekeys: bundles then hold only the signed prekey.
    s = PrekeyStore.generate(bob, one_time_prekeys=0, post_quantum=False, now=1000)
    old = s.bundle()
    first_id = s.signed_prekey_id
    g = s.generation
    s.rotate_signed_prekey(bob, now=2000)
    assert s.generation == g + 1
    assert s.signed_prekey_id != first_id
    assert s.retired_signed_prekey_ids == [first_id]
    assert s.signed_prekey_created_at == 2000
    assert s.bundle().signed_prekey_id == s.signed_prekey_id
    # An initiator holding the old bundle still gets through until the old key expires.
    late = RatchetSession.initiate(Identity.generate(), bob.public, old)
    _, pt = RatchetSession.accept(bob, s, late.encrypt(b"from an old bundle"))
    assert pt == b"from an old bundle"
    assert s.remove_expired_signed_prekeys(now=2000 + 10, grace_secs=100) == 0
    assert s.remove_expired_signed_prekeys(now=2000 + 101, grace_secs=100) == 1
    assert s.retired_signed_prekey_ids == []
    later = RatchetSession.initiate(Identity.generate(), bob.public, old)
    with pytest.raises(sealwire.KeyNotAvailableError) as info:
        RatchetSession.accept(bob, s, later.encrypt(b"too late"))
    assert info.value.code == "ERR_SEALWIRE_UNKNOWN_PREKEY"
    with pytest.raises(sealwire.ParameterError):
        s.remove_expired_signed_prekeys(now=-1)


# --- RatchetSession ---------------------------------------------------------------------------


@pytest.mark.parametrize("post_quantum", [True, False])
@pytest.mark.parametrize("header_encryption", [True, False])
def test_session_round_trip_both_modes(
    alice: Identity, bob: Identity, post_quantum: bool, header_encryption: bool
) -> None:
    store = PrekeyStore.generate(bob, one_time_prekeys=SMALL, post_quantum=post_quantum)
    a = RatchetSession.initiate(alice, bob.public, store.bundle(), header_encryption=header_encryption)
    assert a.key_agreement == ("PQXDH" if post_quantum else "X3DH")
    assert a.header_encryption == header_encryption
    assert a.is_initiator and a.awaiting_reply and a.generation == 0
    assert a.peer_identity == bob.public and a.local_identity == alice.public
    first = a.encrypt(memoryview(b"one"))
    assert first[:4] == b"SWRI"
    second = a.encrypt(bytearray(b"two"))
    b, pt = RatchetSession.accept(bob, store, second)  # the second one arrives first
    assert pt == b"two"
    assert b.decrypt(first) == b"one"
    assert not b.is_initiator and b.peer_identity == alice.public
    assert b.session_id == a.session_id and len(a.session_id) == 32
    assert (b.key_agreement, b.header_encryption) == (a.key_agreement, a.header_encryption)
    reply = b.encrypt(b"three")
    assert reply[:4] == b"SWRM"
    assert a.decrypt(reply) == b"three"
    assert not a.awaiting_reply
    for i in range(5):  # ping-pong: a DH ratchet step every message
        assert b.decrypt(a.encrypt(b"a%d" % i)) == b"a%d" % i
        assert a.decrypt(b.encrypt(b"b%d" % i)) == b"b%d" % i
    big = os.urandom(1 << 20)
    assert b.decrypt(a.encrypt(big)) == big
    assert "RatchetSession" in repr(a) and "initiator" in repr(a)


def test_out_of_order_and_skipped_keys(alice: Identity, bob: Identity) -> None:
    a, b, _ = pair(alice, bob)
    msgs = [a.encrypt(b"m%d" % i) for i in range(5)]
    assert b.decrypt(msgs[4]) == b"m4"
    assert b.skipped_message_keys == 4
    for i in (1, 3, 0, 2):
        assert b.decrypt(msgs[i]) == b"m%d" % i
    assert b.skipped_message_keys == 0
    with pytest.raises(sealwire.ReplayError) as info:
        b.decrypt(msgs[2])
    assert info.value.code == "ERR_SEALWIRE_REPLAY"


def test_failed_decrypt_changes_nothing(alice: Identity, bob: Identity) -> None:
    a, b, _ = pair(alice, bob)
    good = a.encrypt(b"good")
    before = (b.generation, b.seal(KEY, _random=bytes(24)))
    tampered = bytearray(good)
    tampered[-1] ^= 1
    for bad in (bytes(tampered), good[:-20], b"SWRM\x01\x01" + bytes(200), b"garbage"):
        with pytest.raises(sealwire.SealwireError):
            b.decrypt(bad)
        assert (b.generation, b.seal(KEY, _random=bytes(24))) == before
    # Too many skipped messages: refused, session unchanged, the next one still reads.
    many = [a.encrypt(b"x") for _ in range(1002)]
    with pytest.raises(sealwire.DecryptionError) as info:
        b.decrypt(many[-1])
    assert info.value.code == "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES"
    assert (b.generation, b.seal(KEY, _random=bytes(24))) == before
    assert b.decrypt(good) == b"good"
    assert b.decrypt(many[0]) == b"x"


def test_accept_is_all_or_nothing_and_one_time_prekeys_are_single_use(
    alice: Identity, bob: Identity
) -> None:
    store = PrekeyStore.generate(bob, one_time_prekeys=SMALL)
    bundle = store.bundle()
    a = RatchetSession.initiate(alice, bob.public, bundle)
    first = a.encrypt(b"first")
    tampered = bytearray(first)
    tampered[-1] ^= 1
    with pytest.raises(sealwire.DecryptionError):
        RatchetSession.accept(bob, store, bytes(tampered))
    assert (store.one_time_prekey_count, store.generation) == (SMALL, 0)
    with pytest.raises(sealwire.RemoteKeyMismatchError):
        RatchetSession.accept(Identity.generate(), store, first)  # not the store's owner
    RatchetSession.accept(bob, store, first)
    assert store.one_time_prekey_count == SMALL - 1
    # Another initiator with the same (stale) bundle names the consumed prekey.
    c = RatchetSession.initiate(Identity.generate(), bob.public, bundle)
    with pytest.raises(sealwire.ReplayError) as info:
        RatchetSession.accept(bob, store, c.encrypt(b"late"))
    assert info.value.code == "ERR_SEALWIRE_PREKEY_ALREADY_USED"
    # An initial message given to a session it did not start.
    _, b2, _ = pair(alice, bob)
    with pytest.raises(sealwire.ProtocolError) as info2:
        b2.decrypt(first)
    assert info2.value.code == "ERR_SEALWIRE_SESSION_MISMATCH"


def test_initiate_checks_the_bundle_owner(alice: Identity, bob: Identity) -> None:
    bundle = PrekeyStore.generate(bob, one_time_prekeys=0).bundle()
    with pytest.raises(sealwire.RemoteKeyMismatchError) as info:
        RatchetSession.initiate(alice, Identity.generate().public, bundle)
    assert info.value.code == "ERR_SEALWIRE_IDENTITY_MISMATCH"
    with pytest.raises(TypeError):
        RatchetSession.initiate(alice, bob.public, bundle.to_bytes())  # type: ignore[arg-type]


def test_seal_open_checked_and_rollback(alice: Identity, bob: Identity) -> None:
    a, b, _ = pair(alice, bob)
    blob, gen = a.seal(KEY), a.generation
    assert blob[:4] == b"SWSS" and int.from_bytes(blob[5:13], "big") == gen
    a2 = RatchetSession.open(blob, KEY, gen)
    assert (a2.session_id, a2.generation, a2.is_initiator) == (a.session_id, gen, True)
    # The reopened copy carries on (a replaces a2 from here: one live copy only).
    m = a2.encrypt(b"from the reopened state")
    assert b.decrypt(m) == b"from the reopened state"
    newer = a2.seal(KEY)
    with pytest.raises(sealwire.StaleStateError):
        RatchetSession.open(blob, KEY, expected_generation=a2.generation)
    assert RatchetSession.open(newer, KEY, expected_generation=a2.generation).generation == a2.generation
    with pytest.raises(sealwire.DecryptionError):
        RatchetSession.open(newer, bytes(32))
    with pytest.raises(sealwire.DecodeError):
        RatchetSession.open(PrekeyStore.generate(bob, one_time_prekeys=0).seal(KEY), KEY)


def test_repr_reveals_nothing(alice: Identity, bob: Identity) -> None:
    a, b, store = pair(alice, bob)
    for text in (repr(a), repr(b), repr(store)):
        assert a.session_id.hex() not in text
        assert bob.public.fingerprint not in text and alice.public.did not in text


def test_shared_session_across_threads(alice: Identity, bob: Identity) -> None:
    a, b, _ = pair(alice, bob)
    sent: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(50):
                m = a.encrypt(b"%d-%d" % (n, i))
                with lock:
                    sent.append(m)
                _ = a.generation
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert not errors, errors
    got = {b.decrypt(m) for m in sent}
    assert got == {b"%d-%d" % (n, i) for n in range(4) for i in range(50)}
