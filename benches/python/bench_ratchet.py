#!/usr/bin/env python3
"""Double Ratchet sessions from Python, side by side in one run: sealwire ``RatchetSession``
(header encryption on, the default, and off) against vodozemac's Olm ``Session`` (PyPI
``vodozemac``, the Matrix Olm ratchet in Rust).

Workloads, each on an established session (both sides have sent and received), 1 KiB
plaintexts:

* **one-way**: A encrypts a batch of messages, B decrypts them in order. Symmetric-key
  steps only (KDF chain, AEAD); a message costs one encrypt and one decrypt.
* **ping-pong**: the direction alternates every message, so every message starts a new
  chain: a DH ratchet step (key generation and two X25519 exchanges) per message.
* **save+restore**: the session serialized and restored, as an application persisting it
  after every message would: sealwire ``seal(key)`` + ``RatchetSession.open(blob, key,
  expected_generation)`` against vodozemac ``pickle(key)`` + ``Session.from_pickle``.

Timing: ``time.perf_counter`` over batches with the garbage collector off; the
implementations' batches are interleaved round by round (so machine noise hits them alike)
and the best round of each is reported, with the median for information. Rates are
messages (or save+restore round trips) per second; "ratio" is sealwire / vodozemac.

A diagnostic section times, from Python, the pieces an ``open`` is made of that the public
API exposes (``PublicIdentity.from_bytes`` verifies an identity's binding signature; a
sealed session holds two identities).

Run through ``benches/python/run.sh ratchet`` (creates a venv, installs vodozemac and the
binding). ``--markdown FILE`` also writes the Markdown report to FILE.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KIB = 1024
PAYLOAD = bytes(range(256)) * 4  # 1 KiB
STORAGE_KEY = bytes(range(32))

# Targets from the issue: sealwire / vodozemac.
TARGETS = {"one-way": 2.0, "ping-pong": 1.0, "save+restore": 2.0}


# --------------------------------------------------------------------------------------
# Sessions


class Pair:
    """Two established sessions and the three workloads over them (one batch each)."""

    name: str

    def one_way(self, n: int) -> None:
        raise NotImplementedError

    def ping_pong(self, n: int) -> None:
        raise NotImplementedError

    def save_restore(self, n: int) -> None:
        raise NotImplementedError

    def state_size(self) -> int:
        raise NotImplementedError


class SealwirePair(Pair):
    def __init__(self, header_encryption: bool) -> None:
        import sealwire

        self.sw = sealwire
        self.name = f"sealwire (header encryption {'on' if header_encryption else 'off'})"
        alice, bob = sealwire.Identity.generate(), sealwire.Identity.generate()
        prekeys = sealwire.PrekeyStore.generate(bob, one_time_prekeys=1)
        self.a = sealwire.RatchetSession.initiate(
            alice, bob.public, prekeys.bundle(), header_encryption=header_encryption
        )
        self.b, first = sealwire.RatchetSession.accept(bob, prekeys, self.a.encrypt(b"hello"))
        assert first == b"hello"
        assert self.a.decrypt(self.b.encrypt(b"established")) == b"established"
        assert self.a.header_encryption == header_encryption

    def one_way(self, n: int) -> None:
        enc, dec = self.a.encrypt, self.b.decrypt
        messages = [enc(PAYLOAD) for _ in range(n)]
        for m in messages:
            dec(m)

    def ping_pong(self, n: int) -> None:
        a, b = self.a, self.b
        for _ in range(n // 2):
            b.decrypt(a.encrypt(PAYLOAD))
            a.decrypt(b.encrypt(PAYLOAD))

    def save_restore(self, n: int) -> None:
        open_ = self.sw.RatchetSession.open
        s = self.a
        for _ in range(n):
            s = open_(s.seal(STORAGE_KEY), STORAGE_KEY, s.generation)
        self.a = s

    def state_size(self) -> int:
        return len(self.a.seal(STORAGE_KEY))

    def check(self) -> None:
        for _ in range(3):
            assert self.b.decrypt(self.a.encrypt(PAYLOAD)) == PAYLOAD
            assert self.a.decrypt(self.b.encrypt(PAYLOAD)) == PAYLOAD
        restored = self.sw.RatchetSession.open(self.a.seal(STORAGE_KEY), STORAGE_KEY)
        assert restored.session_id == self.a.session_id


class VodozemacPair(Pair):
    def __init__(self) -> None:
        import vodozemac

        self.vz = vodozemac
        self.name = "vodozemac (Olm)"
        alice, bob = vodozemac.Account(), vodozemac.Account()
        bob.generate_one_time_keys(1)
        otk = next(iter(bob.one_time_keys.values()))
        bob.mark_keys_as_published()
        self.a = alice.create_outbound_session(bob.curve25519_key, otk)
        pre_key = self.a.encrypt(b"hello").to_pre_key()
        self.b, first = bob.create_inbound_session(alice.curve25519_key, pre_key)
        assert first == b"hello"
        assert self.a.decrypt(self.b.encrypt(b"established")) == b"established"

    def one_way(self, n: int) -> None:
        enc, dec = self.a.encrypt, self.b.decrypt
        messages = [enc(PAYLOAD) for _ in range(n)]
        for m in messages:
            dec(m)

    def ping_pong(self, n: int) -> None:
        a, b = self.a, self.b
        for _ in range(n // 2):
            b.decrypt(a.encrypt(PAYLOAD))
            a.decrypt(b.encrypt(PAYLOAD))

    def save_restore(self, n: int) -> None:
        from_pickle = self.vz.Session.from_pickle
        s = self.a
        for _ in range(n):
            s = from_pickle(s.pickle(STORAGE_KEY), STORAGE_KEY)
        self.a = s

    def state_size(self) -> int:
        return len(self.a.pickle(STORAGE_KEY))

    def check(self) -> None:
        for _ in range(3):
            assert self.b.decrypt(self.a.encrypt(PAYLOAD)) == PAYLOAD
            assert self.a.decrypt(self.b.encrypt(PAYLOAD)) == PAYLOAD
        restored = self.vz.Session.from_pickle(self.a.pickle(STORAGE_KEY), STORAGE_KEY)
        assert restored.session_id == self.a.session_id


# --------------------------------------------------------------------------------------
# Timing


@dataclass
class Result:
    rates: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def timed(fn: Callable[[int], None], n: int) -> float:
    """Messages per second of one batch of n."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn(n)
        return n / (time.perf_counter() - start)
    finally:
        if gc_was_enabled:
            gc.enable()


WORKLOADS: dict[str, Callable[[Pair], Callable[[int], None]]] = {
    "one-way": lambda p: p.one_way,
    "ping-pong": lambda p: p.ping_pong,
    "save+restore": lambda p: p.save_restore,
}


def run(pairs: list[Pair], batch: dict[str, int], rounds: int) -> dict[tuple[str, str], Result]:
    results: dict[tuple[str, str], Result] = {}
    for workload, get in WORKLOADS.items():
        n = batch[workload]
        for p in pairs:  # warm-up
            get(p)(max(2, n // 10))
        for r in range(rounds):
            order = pairs[r % len(pairs) :] + pairs[: r % len(pairs)]  # rotate who goes first
            for p in order:
                results.setdefault((workload, p.name), Result()).rates.append(timed(get(p), n))
    return results


def diagnostics(rounds: int) -> list[tuple[str, float]]:
    """Microseconds per call of the pieces of RatchetSession.open visible from Python."""
    import sealwire

    alice, bob = sealwire.Identity.generate(), sealwire.Identity.generate()
    prekeys = sealwire.PrekeyStore.generate(bob, one_time_prekeys=1)
    a = sealwire.RatchetSession.initiate(alice, bob.public, prekeys.bundle())
    b, _ = sealwire.RatchetSession.accept(bob, prekeys, a.encrypt(b"x"))
    a.decrypt(b.encrypt(b"y"))
    blob = a.seal(STORAGE_KEY)
    identity_bytes = alice.public.to_bytes()
    calls: list[tuple[str, Callable[[], object]]] = [
        ("RatchetSession.seal", lambda: a.seal(STORAGE_KEY)),
        ("RatchetSession.open", lambda: sealwire.RatchetSession.open(blob, STORAGE_KEY)),
        ("PublicIdentity.from_bytes (verifies the binding signature)",
         lambda: sealwire.PublicIdentity.from_bytes(identity_bytes)),
        ("RatchetSession.encrypt 1 KiB (header encryption on)", lambda: a.encrypt(PAYLOAD)),
        ("PublicIdentity.to_bytes (a trivial native call: binding overhead)",
         lambda: alice.public.to_bytes()),
    ]
    out = []
    for name, fn in calls:
        best_rate = max(timed(lambda k, f=fn: repeat(f, k), 300) for _ in range(rounds))
        out.append((name, 1e6 / best_rate))
    return out


def repeat(fn: Callable[[], object], k: int) -> None:
    for _ in range(k):
        fn()


# --------------------------------------------------------------------------------------
# Report


def report(
    results: dict[tuple[str, str], Result],
    pairs: list[Pair],
    batch: dict[str, int],
    rounds: int,
    diag: list[tuple[str, float]],
) -> str:
    from importlib.metadata import version

    import sealwire

    lines = [
        "## Ratchet sessions from Python: sealwire vs vodozemac (Olm)",
        "",
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"sealwire {sealwire.__version__}, vodozemac {version('vodozemac')}; 1 KiB plaintexts; "
        f"best of {rounds} interleaved rounds (median in parentheses); "
        f"batches: {', '.join(f'{k} {v}' for k, v in batch.items())}.",
        "",
        "| workload | implementation | messages/s | ratio sealwire/vodozemac | target | met |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    vz = next(p for p in pairs if isinstance(p, VodozemacPair))
    missed = []
    for workload in WORKLOADS:
        base = results[(workload, vz.name)]
        for p in pairs:
            r = results[(workload, p.name)]
            rate = f"{r.best:,.0f} ({r.median:,.0f})"
            if p is vz:
                lines.append(f"| {workload} | {p.name} | {rate} | 1.00 | | |")
                continue
            ratio = r.best / base.best
            target = TARGETS[workload]
            met = ratio >= target
            if not met:
                missed.append(f"{workload}, {p.name}: {ratio:.2f}x (target {target:.1f}x)")
            lines.append(
                f"| {workload} | {p.name} | {rate} | {ratio:.2f} | ≥{target:.1f} | "
                f"{'yes' if met else '**no**'} |"
            )
    lines += ["", "Serialized state of an established session (bytes):", ""]
    lines += [f"- {p.name}: {p.state_size()}" for p in pairs]
    lines += ["", "Where an open goes (µs per call, from Python, best of rounds):", ""]
    lines += [f"- {name}: {us:.1f}" for name, us in diag]
    lines += ["", "Targets missed: " + ("; ".join(missed) if missed else "none"), ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small batches, 3 rounds (smoke run)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 15)")
    ap.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 15)
    scale = 0.1 if args.quick else 1.0
    batch = {
        "one-way": max(10, int(2000 * scale)),
        "ping-pong": max(10, int(400 * scale)),
        "save+restore": max(10, int(400 * scale)),
    }
    pairs: list[Any] = [SealwirePair(True), SealwirePair(False), VodozemacPair()]
    for p in pairs:
        p.check()
    results = run(pairs, batch, rounds)
    for p in pairs:  # the sessions still work after everything
        p.check()
    text = report(results, pairs, batch, rounds, diagnostics(rounds))
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
