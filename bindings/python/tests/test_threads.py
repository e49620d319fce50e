"""The GIL is released during expensive calls (Argon2id export/import, generate, sign, verify,
Noise handshake messages and transport encryption, envelope sealing and opening, Messenger
operations), and shared objects are thread-safe."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import sealwire
from conftest import FAST_KDF, VECTORS

EXPORT = VECTORS["exports"][0]


@pytest.fixture
def no_forced_switching() -> Iterator[None]:
    """Make the interpreter hand the GIL over only when a thread gives it up itself.

    With a huge switch interval a thread keeps the GIL until it blocks or calls code that
    releases it, so whether another thread runs *during* a native call no longer depends
    on timing: it runs if and only if that call released the GIL.
    """
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def ran_while(call: Callable[[], object]) -> int:
    """Run `call` in a worker thread; count how often this thread ran while it was busy."""
    started = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        started.set()  # wakes the main thread, which then needs the GIL to proceed
        try:
            call()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=worker)
    t.start()
    started.wait()
    turns = 0
    while not done.is_set():
        turns += 1
        done.wait(0.001)  # blocks, releasing the GIL so the worker can finish
    t.join()
    assert not errors, errors
    return turns


def test_export_releases_the_gil(no_forced_switching: None) -> None:
    ident = sealwire.Identity.generate()
    # Default parameters (64 MiB, 3 passes): long enough that the main thread is
    # scheduled while the worker is inside Argon2.
    assert ran_while(lambda: ident.export("pw")) > 0


def test_import_releases_the_gil(no_forced_switching: None) -> None:
    blob = sealwire.Identity.generate().export("pw")
    assert ran_while(lambda: sealwire.Identity.from_encrypted(blob, "pw")) > 0


def test_two_threads_export_and_import_concurrently() -> None:
    identities = [sealwire.Identity.generate() for _ in range(2)]
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            barrier.wait()
            blob = identities[i].export(f"pass-{i}", **FAST_KDF)
            again = sealwire.Identity.from_encrypted(blob, bytearray(f"pass-{i}".encode()))
            assert again.public == identities[i].public
            results[i] = blob
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    assert not errors, errors
    assert sorted(results) == [0, 1]


def test_many_threads_sign_and_verify() -> None:
    ident = sealwire.Identity.from_secret_bytes(
        bytes.fromhex(VECTORS["identities"][0]["ed25519_seed"]),
        bytes.fromhex(VECTORS["identities"][0]["x25519_secret"]),
    )
    pub = ident.public
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(200):
                msg = f"{i}:{j}".encode()
                pub.verify(msg, ident.sign(msg))
            sealwire.Identity.generate()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


# --- Noise -----------------------------------------------------------------------------------

XX_HFS = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256"


def hfs_handshake(
    a: sealwire.Identity, b: sealwire.Identity
) -> tuple[sealwire.NoiseHandshake, sealwire.NoiseHandshake]:
    init = sealwire.NoiseHandshake(XX_HFS, initiator=True, identity=a)
    resp = sealwire.NoiseHandshake(XX_HFS, initiator=False, identity=b)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    resp.read_message(init.write_message())
    return init, resp


def noise_pair() -> tuple[sealwire.NoiseTransport, sealwire.NoiseTransport]:
    init = sealwire.NoiseHandshake("Noise_NN_25519_ChaChaPoly_BLAKE2s", initiator=True)
    resp = sealwire.NoiseHandshake("Noise_NN_25519_ChaChaPoly_BLAKE2s", initiator=False)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    return init.into_transport(), resp.into_transport()


def test_noise_handshake_messages_release_the_gil(no_forced_switching: None) -> None:
    a, b = sealwire.Identity.generate(), sealwire.Identity.generate()

    def many() -> None:
        for _ in range(30):
            hfs_handshake(a, b)

    assert ran_while(many) > 0


def test_noise_framed_releases_the_gil(no_forced_switching: None) -> None:
    a, b = noise_pair()
    payload = bytes(32 * 1024 * 1024)
    framed: list[bytes] = []
    assert ran_while(lambda: framed.append(a.encrypt_framed(payload))) > 0
    out: list[bytes] = []
    assert ran_while(lambda: out.append(b.decrypt_framed(framed[0]))) > 0
    assert out[0] == payload


def test_noise_cheap_calls_do_not_deadlock_with_a_busy_transport() -> None:
    """A property read (GIL held) waits for the lock held by a call running without the GIL."""
    a, _ = noise_pair()
    payload = bytes(64 * 1024 * 1024)
    done = threading.Event()

    def worker() -> None:
        a.encrypt_framed(payload)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    seen = set()
    while not done.is_set():
        seen.add(a.sending_nonce)
        repr(a)
    t.join(timeout=60)
    assert not t.is_alive()
    assert a.sending_nonce == -(-len(payload) // 65518)
    assert seen <= {0, a.sending_nonce}  # all or nothing: never a partial count


def test_noise_shared_transport_across_threads() -> None:
    init = sealwire.NoiseHandshake("Noise_NN_25519_AESGCM_SHA256", initiator=True)
    resp = sealwire.NoiseHandshake("Noise_NN_25519_AESGCM_SHA256", initiator=False)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    a, b = init.into_unordered_transport(), resp.into_unordered_transport()
    sent: list[tuple[bytes, bytes]] = []
    received: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        try:
            for j in range(250):
                msg = f"{i}:{j}".encode()
                ct = a.encrypt(msg)
                with lock:
                    sent.append((msg, ct))
        except BaseException as e:
            errors.append(e)

    def receive(batch: list[tuple[bytes, bytes]]) -> None:
        try:
            for _, ct in batch:
                pt = b.decrypt(ct)
                with lock:
                    received.append(pt)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert a.sending_nonce == 1000
    nonces = sorted(int.from_bytes(ct[:8], "big") for _, ct in sent)
    assert nonces == list(range(1000))  # each nonce used exactly once
    # Decrypt from 4 threads, in an order the window accepts (recent nonces first is fine).
    ordered = sorted(sent, key=lambda p: int.from_bytes(p[1][:8], "big"))
    batches = [ordered[k::4] for k in range(4)]
    threads = [threading.Thread(target=receive, args=(batch,)) for batch in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(received) == sorted(m for m, _ in sent)


def test_noise_concurrent_handshakes() -> None:
    ids = [sealwire.Identity.generate() for _ in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                init, resp = hfs_handshake(ids[0], ids[1])
                assert init.handshake_hash == resp.handshake_hash
                x, y = init.into_transport(), resp.into_transport()
                assert y.decrypt(x.encrypt(b"ping")) == b"ping"
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


# --- envelopes -------------------------------------------------------------------------------


@pytest.fixture
def ring() -> sealwire.Keyring:
    r = sealwire.Keyring()
    r.create_key("k")
    return r


BULK = bytes(48 * 1024 * 1024)


def test_seal_and_unseal_release_the_gil(no_forced_switching: None, ring: sealwire.Keyring) -> None:
    sealed: list[bytes] = []
    assert ran_while(lambda: sealed.append(sealwire.seal(BULK, to=ring))) > 0
    out: list[bytes] = []
    assert ran_while(lambda: out.append(sealwire.unseal(sealed[0], keys=ring))) > 0
    assert out[0] == BULK


def test_seal_file_releases_the_gil(no_forced_switching: None, ring: sealwire.Keyring, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(BULK)
    assert ran_while(lambda: sealwire.seal_file(src, tmp_path / "s", to=ring)) > 0
    assert ran_while(lambda: sealwire.unseal_file(tmp_path / "s", tmp_path / "o", keys=ring)) > 0
    assert (tmp_path / "o").read_bytes() == BULK


def test_stream_write_and_read_release_the_gil(no_forced_switching: None, ring: sealwire.Keyring) -> None:
    out = io.BytesIO()
    w = sealwire.EnvelopeWriter(out, to=ring, segment_size=1 << 20)
    assert ran_while(lambda: w.write(BULK)) > 0
    w.close()
    r = sealwire.EnvelopeReader(io.BytesIO(out.getvalue()), keys=ring)
    got: list[bytes] = []
    assert ran_while(lambda: got.append(r.read())) > 0
    assert got[0] == BULK


def test_keyring_sealing_releases_the_gil(no_forced_switching: None, ring: sealwire.Keyring) -> None:
    assert ran_while(lambda: ring.to_bytes(passphrase="pw")) > 0  # default Argon2id cost


class KmsOnEveryThread:
    """A Python key provider (it needs the GIL back while the call has it released)."""

    provider_id = "xor"
    key_id = "k"

    def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
        return bytes(b ^ 0x5A for b in data_key)

    def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> bytes:
        return bytes(b ^ 0x5A for b in wrapped)


def test_shared_keyring_rotating_while_threads_seal_and_open(ring: sealwire.Keyring) -> None:
    """Readers (envelope calls, some with a Python provider) and a writer (rotate) on one
    keyring from several threads: no deadlock, every envelope opens."""
    errors: list[BaseException] = []
    stop = threading.Event()
    kms = KmsOnEveryThread()

    def worker(i: int) -> None:
        try:
            for j in range(60):
                data = f"{i}:{j}".encode() * 1000
                to: list[Any] = [ring, kms] if j % 2 else [ring.key("k")]
                sealed = sealwire.seal(data, to=to, context={"i": str(i)})
                assert sealwire.unseal(sealed, keys=[kms, ring] if j % 3 else ring, context={"i": str(i)}) == data
        except BaseException as e:
            errors.append(e)

    def rotator() -> None:
        try:
            while not stop.is_set():
                ring.rotate("k")
                ring.versions("k")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    rot = threading.Thread(target=rotator)
    rot.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    stop.set()
    rot.join(timeout=60)
    assert not rot.is_alive()
    assert not errors, errors
    assert ring.primary_version("k") > 1


def test_messenger_calls_release_the_gil(no_forced_switching: None) -> None:
    """Prekey generation (ML-KEM key generation), the ratchet and the store run off the GIL."""
    key = bytes(32)
    made: list[sealwire.Messenger] = []
    bob_id = sealwire.Identity.generate()

    def create() -> None:
        made.append(sealwire.Messenger.create_in_memory(bob_id, key, one_time_prekeys=200))

    assert ran_while(create) > 0
    bob = made[0]
    alice_id = sealwire.Identity.generate()
    alice = sealwire.Messenger.create_in_memory(alice_id, key, one_time_prekeys=1)
    alice.connect(bob.identity, bob.bundle())
    sent: list[sealwire.OutboxRecord] = []

    # Each call must run long enough natively for this thread to be scheduled while the GIL
    # is released (a 1 KiB send is over in microseconds, before the OS wakes this thread).
    def send_many() -> None:
        for _ in range(8):
            sent.append(alice.send(bob.identity, bytes(4 * 1024 * 1024)))

    assert ran_while(send_many) > 0

    def receive_all() -> None:
        for rec in sent:
            bob.receive(rec.ciphertext)

    assert ran_while(receive_all) > 0


def test_prekey_store_and_ratchet_session_release_the_gil(no_forced_switching: None) -> None:
    """PrekeyStore key generation (ML-KEM key generation), bundle derivation, opening and the
    ratchet's encrypt / decrypt run off the GIL."""
    bob = sealwire.Identity.generate()
    made: list[sealwire.PrekeyStore] = []
    assert ran_while(lambda: made.append(sealwire.PrekeyStore.generate(bob, one_time_prekeys=300))) > 0
    store = made[0]
    bundles: list[sealwire.PrekeyBundle] = []
    assert ran_while(lambda: bundles.append(store.bundle())) > 0
    a = sealwire.RatchetSession.initiate(sealwire.Identity.generate(), bob.public, bundles[0])
    b, _ = sealwire.RatchetSession.accept(bob, store, a.encrypt(b"hi"))
    big = bytes(8 * 1024 * 1024)
    sent: list[bytes] = []
    assert ran_while(lambda: sent.extend(a.encrypt(big) for _ in range(2))) > 0
    got: list[bytes] = []
    assert ran_while(lambda: got.extend(b.decrypt(m) for m in sent)) > 0
    assert got == [big, big]
    # Opening recomputes every prekey's public key (a scalar multiplication each).
    blob = store.seal(bytes(32))
    assert ran_while(lambda: [sealwire.PrekeyStore.open(blob, bytes(32)) for _ in range(5)]) > 0
