"""The GIL is released during expensive calls (Argon2id export/import, generate, sign, verify)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Callable

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
