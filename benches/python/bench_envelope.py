#!/usr/bin/env python3
"""Envelope encryption from Python, side by side in one run.

Compared, each through its Python API:

* sealwire ``seal``/``unseal`` (chacha20-poly1305 and aes-256-gcm suites), one local
  ``Keyring`` key as the key-encryption key (KEK);
* Google Tink ``aead.KmsEnvelopeAead`` with a local KEK (an AES256_GCM keyset's AEAD
  primitive in place of the remote KMS) and an AES256_GCM data-key template, plus the
  XCHACHA20_POLY1305 data-key template for information;
* raw pyca/cryptography ``ChaCha20Poly1305`` and ``AESGCM`` (OpenSSL): one AEAD call on a
  pre-built key, no envelope at all. This is the floor, not a competitor.

Measured: per-operation time of 1 KiB seal/open and 1 MiB seal/open (best of N batches,
``time.perf_counter``, batches interleaved across implementations so machine noise hits
all of them alike), and a streamed seal and open of 1 GiB through ``EnvelopeWriter`` /
``EnvelopeReader`` from a generator source, each in a fresh subprocess whose peak
resident set (``getrusage(RUSAGE_SELF).ru_maxrss``) is reported.

Run it through ``benches/python/run.sh`` (creates a venv, installs tink, cryptography and
the binding). ``--markdown FILE`` also writes the Markdown report to FILE.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

KIB = 1024
MIB = 1024 * 1024
CONTEXT = {"purpose": "bench"}
AAD = b"purpose=bench"  # the same bytes of context for the non-sealwire rows
KEY_ID = "bench"
ROOT_KEY_ENV = "SEALWIRE_BENCH_ROOT_KEY"
CHUNK = MIB  # streaming: size of each write() (and of the source block)
READ_SIZES = (64 * KIB, MIB)  # streaming: EnvelopeReader.read(n) sizes measured

# Targets from the performance section of the issue.
TARGET_1K_VS_TINK = 0.50  # sealwire 1 KiB time <= half of Tink's
TARGET_1M_VS_OPENSSL = 0.90  # sealwire 1 MiB seal >= 0.9x OpenSSL ChaCha20-Poly1305
TARGET_STREAM_RSS_MIB = 32.0  # streaming 1 GiB in under 32 MiB resident


def peak_rss_kib() -> int:
    # Linux reports ru_maxrss in KiB (macOS in bytes; this benchmark targets Linux).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def vm_hwm_kib() -> int | None:
    """VmHWM of /proc/self/status: the peak RSS of this process image alone (a cross-check
    of ru_maxrss, see run_child)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def source_block() -> bytes:
    """The 1 MiB block the streaming source repeats (deterministic, so the open child can
    check every byte it gets back without keeping the stream)."""
    return hashlib.shake_256(b"sealwire envelope benchmark").digest(CHUNK)


# --------------------------------------------------------------------------------------
# Implementations under test: each has seal(bytes) -> bytes and open(bytes) -> bytes.


@dataclass
class Impl:
    name: str
    seal: Callable[[bytes], bytes]
    open: Callable[[bytes], bytes]
    kind: str  # "sealwire", "tink" or "raw"
    # sealwire only: a fresh EnvelopeWriter onto a counting sink (steady-state diagnostics)
    writer: Callable[[], Any] | None = None


def make_impls(verify: bool = True) -> list[Impl]:
    import sealwire
    import tink
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from tink import aead

    # Every row is a pair of closures: the same one Python frame per call for all of them.
    def sealwire_impl(kek: Any, suite: str) -> Impl:
        def seal(pt: bytes) -> bytes:
            return sealwire.seal(pt, to=[kek], context=CONTEXT, suite=suite)  # type: ignore[arg-type]

        def open_(ct: bytes) -> bytes:
            return sealwire.unseal(ct, keys=[kek], context=CONTEXT)

        def writer() -> Any:
            return sealwire.EnvelopeWriter(NullSink(), to=[kek], context=CONTEXT, suite=suite)  # type: ignore[arg-type]

        return Impl(f"sealwire {suite}", seal, open_, "sealwire", writer)

    def aead_impl(name: str, kind: str, enc: Callable[[bytes], bytes], dec: Callable[[bytes], bytes]) -> Impl:
        return Impl(name, enc, dec, kind)

    impls: list[Impl] = []

    ring = sealwire.Keyring()
    ring.create_key(KEY_ID)
    kek = ring.key(KEY_ID)
    for suite in ("chacha20-poly1305", "aes-256-gcm"):
        impls.append(sealwire_impl(kek, suite))

    # Tink: the "remote" AEAD of KmsEnvelopeAead is a local AES256_GCM keyset primitive.
    aead.register()
    remote = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
    for label, template in (
        ("AES256_GCM", aead.aead_key_templates.AES256_GCM),
        ("XCHACHA20_POLY1305", aead.aead_key_templates.XCHACHA20_POLY1305),
    ):
        env = aead.KmsEnvelopeAead(template, remote)

        def tink_enc(pt: bytes, e: Any = env) -> bytes:
            return e.encrypt(pt, AAD)

        def tink_dec(ct: bytes, e: Any = env) -> bytes:
            return e.decrypt(ct, AAD)

        impls.append(aead_impl(f"Tink KmsEnvelopeAead ({label} DEK)", "tink", tink_enc, tink_dec))

    # Raw OpenSSL: one AEAD call with a pre-built key. The nonce is fixed ONLY because this
    # is a throughput floor whose output is thrown away; never reuse a nonce for real data.
    nonce = bytes(12)
    for label, cls in (("ChaCha20Poly1305", ChaCha20Poly1305), ("AESGCM", AESGCM)):
        cipher: Any = cls(os.urandom(32))

        def raw_enc(pt: bytes, c: Any = cipher) -> bytes:
            return c.encrypt(nonce, pt, AAD)

        def raw_dec(ct: bytes, c: Any = cipher) -> bytes:
            return c.decrypt(nonce, ct, AAD)

        impls.append(aead_impl(f"cryptography {label} (raw AEAD)", "raw", raw_enc, raw_dec))

    for impl in impls if verify else ():  # correctness first: every row must round-trip
        for size in (0, 1, KIB, MIB + 7):
            pt = os.urandom(size)
            if impl.open(impl.seal(pt)) != pt:
                raise SystemExit(f"{impl.name}: round trip failed at {size} bytes")
    return impls


# --------------------------------------------------------------------------------------
# Timing


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_batch(fn: Callable[[], object], iters: int) -> float:
    return timed_batch(fn, iters)[0]


def timed_batch(fn: Callable[[], object], iters: int) -> tuple[float, int]:
    """(seconds, minor page faults) of iters calls."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        faults = minor_faults()
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        return time.perf_counter() - start, minor_faults() - faults
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(fn: Callable[[], object], batch_seconds: float) -> int:
    """Iterations that take about batch_seconds (after one warm-up call)."""
    fn()
    iters = 1
    while True:
        elapsed = time_batch(fn, iters)
        if elapsed >= batch_seconds / 4 or iters >= 1 << 22:
            return max(1, int(iters * batch_seconds / max(elapsed, 1e-9)))
        iters *= 4


OPS = ("1k_seal", "1k_open", "1m_seal", "1m_open")
OP_SIZE = {"1k_seal": KIB, "1k_open": KIB, "1m_seal": MIB, "1m_open": MIB, "1m_write": MIB}


def warm_allocator() -> None:
    """Allocate and free a 4 MiB block. glibc serves blocks above its mmap threshold
    (128 KiB at start) with fresh mmap()ed pages, and the first free() of such a block
    raises the threshold to its size and the heap-trim threshold to twice that: after
    this, 1 MiB buffers come from and go back to the heap without fresh page faults, as in
    any process that has once freed a larger buffer. Without it, results depend on what
    the process happened to allocate before (see the fresh-process run)."""
    block = bytearray(4 * MIB)
    block[:: 4 * KIB] = b"\x01" * len(block[:: 4 * KIB])
    del block


def run_timings(
    impls: list[Impl], batch_seconds: float, reps: int, ops: tuple[str, ...] = OPS, writer: bool = True
) -> dict[str, dict[str, float]]:
    """Best per-op seconds for every (implementation, op), and minor page faults per op
    ("<op>_faults", the fewest of any batch); batches interleaved across implementations.
    Diagnostic op "1m_write" (sealwire only): EnvelopeWriter.write(1 MiB) on a writer
    that stays open, i.e. the segment cipher in steady state without per-message setup
    and without allocating the output."""
    jobs: list[tuple[str, str, Callable[[], object], int]] = []
    writers = []
    for impl in impls:
        for op in (*ops, "1m_write") if impl.writer and writer else ops:
            pt = os.urandom(OP_SIZE[op])
            if op == "1m_write":
                assert impl.writer is not None
                writers.append(impl.writer())
                fn: Callable[[], object] = partial(writers[-1].write, pt)
            elif op.endswith("seal"):
                fn = partial(impl.seal, pt)
            else:
                fn = partial(impl.open, impl.seal(pt))
            jobs.append((impl.name, op, fn, calibrate(fn, batch_seconds)))
    best: dict[str, dict[str, float]] = {impl.name: {} for impl in impls}
    for _ in range(reps):
        for name, op, fn, iters in jobs:
            seconds, faults = timed_batch(fn, iters)
            b = best[name]
            b[op] = min(b.get(op, float("inf")), seconds / iters)
            b[op + "_faults"] = min(b.get(op + "_faults", float("inf")), faults / iters)
    for w in writers:
        w.close()
    return best


def run_breakdown(batch_seconds: float, reps: int) -> dict[str, float]:
    """Where sealwire's per-envelope fixed cost goes: the 1 KiB seal/open of the main table
    next to variants that each change one thing (best per-op seconds, interleaved)."""
    import sealwire

    ring = sealwire.Keyring()
    ring.create_key(KEY_ID)
    ring.create_key(KEY_ID + "2")
    kek, kek2 = ring.key(KEY_ID), ring.key(KEY_ID + "2")
    pt = os.urandom(KIB)
    sealed = sealwire.seal(pt, to=[kek], context=CONTEXT)
    sealed_no_ctx = sealwire.seal(pt, to=[kek])
    variants: dict[str, Callable[[], object]] = {
        "seal 1 KiB, to=[keyring.key(id)], context (as in the main table)": lambda: sealwire.seal(
            pt, to=[kek], context=CONTEXT
        ),
        "seal 0 B (no payload)": lambda: sealwire.seal(b"", to=[kek], context=CONTEXT),
        "seal 1 KiB without context": lambda: sealwire.seal(pt, to=[kek]),
        "seal 1 KiB, to=keyring (its default key) instead of keyring.key(id)": lambda: sealwire.seal(
            pt, to=ring, context=CONTEXT
        ),
        "seal 1 KiB to two keyring keys (two wrapped entries)": lambda: sealwire.seal(
            pt, to=[kek, kek2], context=CONTEXT
        ),
        "open 1 KiB (as in the main table)": lambda: sealwire.unseal(sealed, keys=[kek], context=CONTEXT),
        "open 1 KiB without context": lambda: sealwire.unseal(sealed_no_ctx, keys=[kek]),
        "os.urandom(32) (one getrandom syscall, for scale)": lambda: os.urandom(32),
        "a native no-op method call (`id in keyring`), for scale": lambda: KEY_ID in ring,
    }
    jobs = [(name, fn, calibrate(fn, batch_seconds / 2)) for name, fn in variants.items()]
    best = {name: float("inf") for name in variants}
    for _ in range(reps):
        for name, fn, iters in jobs:
            best[name] = min(best[name], time_batch(fn, iters) / iters)
    return best


# --------------------------------------------------------------------------------------
# Streaming: each measurement in a fresh subprocess (``--child``)


class NullSink:
    """A /dev/null-like file object that only counts."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        self.count += n
        return n

    def flush(self) -> None:
        pass


def generator_source(total: int) -> Iterator[bytes]:
    block = source_block()
    left = total
    while left > 0:
        n = min(left, len(block))
        yield block if n == len(block) else block[:n]
        left -= n


def child_main(args: argparse.Namespace) -> None:
    if args.child == "oneshot-fresh":
        # 1 MiB seal/open of every implementation, nothing else allocated before: what a
        # short-lived process that seals a few large messages sees.
        impls = make_impls(verify=False)
        timings = run_timings(impls, args.batch_seconds, args.reps, ops=("1m_seal", "1m_open"), writer=False)
        print(json.dumps(timings))
        return

    import sealwire

    ring = sealwire.Keyring.load(args.keyring, root_key=sealwire.RootKey.from_env(ROOT_KEY_ENV))
    kek = ring.key(KEY_ID)
    result: dict[str, object] = {}
    if args.child == "baseline":
        # Interpreter + sealwire + keyring + the 1 MiB source block: what every streaming
        # child holds before the stream itself.
        result["bytes"] = len(source_block())
    elif args.child == "seal":

        def seal_into(sink: Any) -> float:
            start = time.perf_counter()
            with sealwire.EnvelopeWriter(sink, to=[kek], context=CONTEXT, suite=args.suite) as w:
                for chunk in generator_source(args.size):
                    w.write(chunk)
            return time.perf_counter() - start

        if args.path:
            with open(args.path, "wb") as out_file:
                result["seconds"] = seal_into(out_file)
            result["bytes_out"] = os.path.getsize(args.path)
        else:
            null = NullSink()
            result["seconds"] = seal_into(null)
            result["bytes_out"] = null.count
    elif args.child == "open":
        block = source_block()
        n_read = args.read_size
        if CHUNK % n_read:
            raise SystemExit("--read-size must divide 1 MiB")
        # the source cut in read-sized parts, to compare without copying per read (a full
        # slice of bytes is the object itself; comparing through a memoryview is slow)
        parts = [block[i : i + n_read] for i in range(0, CHUNK, n_read)]
        total = 0
        start = time.perf_counter()
        with open(args.path, "rb") as in_file, sealwire.EnvelopeReader(in_file, keys=[kek], context=CONTEXT) as r:
            while True:
                got = r.read(n_read)
                if not got:
                    break
                expected = parts[(total % CHUNK) // n_read]
                if got != (expected if len(got) == n_read else expected[: len(got)]):
                    raise SystemExit(f"open: plaintext mismatch at offset {total}")
                total += len(got)
        result["seconds"] = time.perf_counter() - start
        if total != args.size:
            raise SystemExit(f"open: got {total} bytes, expected {args.size}")
        result["bytes_in"] = os.path.getsize(args.path)
    result["peak_rss_kib"] = peak_rss_kib()
    result["vm_hwm_kib"] = vm_hwm_kib()
    result["minor_faults"] = minor_faults()
    print(json.dumps(result))


def run_child(script_args: list[str], keyring: str, root_hex: str) -> dict[str, float]:
    env = dict(os.environ)
    env[ROOT_KEY_ENV] = root_hex
    # Linux keeps the high-water RSS of the memory image an exec replaces in ru_maxrss, and
    # subprocess spawns with vfork: a child exec'd straight from this process would report
    # at least THIS process's peak (tens of MiB of Tink, OpenSSL and 1 MiB buffers). A
    # small /bin/sh in between forks (not vforks) the child from its own tiny image; the
    # trailing "exit" stops the shell from exec'ing the command in its own place.
    out = subprocess.run(
        [
            "/bin/sh",
            "-c",
            '"$@"; exit $?',
            "sh",
            sys.executable,
            os.path.abspath(__file__),
            "--keyring",
            keyring,
            *script_args,
        ],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_streaming(size: int, tmpdir: str) -> dict[str, object]:
    import sealwire

    need = size + size // 8 + 64 * MIB
    free = shutil.disk_usage(tmpdir).free
    if free < need:
        raise SystemExit(f"streaming needs {need >> 20} MiB free in {tmpdir}, has {free >> 20} MiB")
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="sealwire-bench-", dir=tmpdir) as work:
        root = sealwire.RootKey.generate()
        ring = sealwire.Keyring()
        ring.create_key(KEY_ID)
        keyring_path = os.path.join(work, "bench.keyring")
        ring.save(keyring_path, root_key=root)
        root_hex = root.to_hex()
        results["baseline"] = run_child(["--child", "baseline"], keyring_path, root_hex)
        for suite in ("chacha20-poly1305", "aes-256-gcm"):
            sealed = os.path.join(work, f"stream-{suite}.swev")
            common = ["--suite", suite, "--size", str(size)]
            results[f"{suite}/seal-null"] = run_child(["--child", "seal", *common], keyring_path, root_hex)
            results[f"{suite}/seal-file"] = run_child(
                ["--child", "seal", "--path", sealed, *common], keyring_path, root_hex
            )
            for n in READ_SIZES:
                results[f"{suite}/open-file-{n // KIB}k"] = run_child(
                    ["--child", "open", "--path", sealed, "--read-size", str(n), *common], keyring_path, root_hex
                )
            os.remove(sealed)
    return results


# --------------------------------------------------------------------------------------
# Report


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def hwm(m: dict[str, object]) -> str:
    v = m.get("vm_hwm_kib")
    return f"{v / KIB:.1f}" if isinstance(v, int) else "n/a"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def environment() -> list[str]:
    from importlib.metadata import version

    import sealwire
    from cryptography.hazmat.backends.openssl import backend as openssl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        flags = []
    aead_backend = "unknown"
    try:
        with open(sealwire._native.__file__, "rb") as so:
            # ring's source paths survive stripping (in its panic locations)
            aead_backend = "ring (feature aead-ring)" if b"/ring-0." in so.read() else "RustCrypto (pure Rust)"
    except OSError:
        pass
    simd = [f for f in ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "avx2", "avx512f", "avx512vl") if f in flags]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = subprocess.run(
            ["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    return [
        f"- tree: {rev} (run.sh installs the binding from it)",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; flags: {' '.join(simd) or 'n/a'}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()} {platform.release()}",
        f"- sealwire {sealwire.__version__}, AEAD backend of the installed binding: {aead_backend}",
        (f"- tink {version('tink')}, cryptography {version('cryptography')} ({openssl.openssl_version_text()})"),
        f"- 1-minute load average when the run started: {load:.2f}",
    ]


def report(
    timings: dict[str, dict[str, float]],
    fresh: dict[str, dict[str, float]],
    breakdown: dict[str, float],
    streaming: dict[str, object] | None,
    env_lines: list[str],
    args: argparse.Namespace,
) -> tuple[str, dict[str, object]]:
    lines: list[str] = []
    lines += ["### Environment", "", *env_lines]
    lines += [
        (
            f"- best of {args.reps} batches of about {args.batch_seconds:.2f} s per cell; "
            "MB/s = 10^6 bytes of plaintext per second"
        ),
        "",
        "### One-shot seal / open (per operation)",
        "",
        "In one process, allocator warmed (see the fresh-process table below for 1 MiB without that).",
        "",
        "| implementation | 1 KiB seal (µs) | 1 KiB open (µs) | 1 MiB seal (MB/s) | 1 MiB open (MB/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in timings.items():
        lines.append(
            f"| {name} | {t['1k_seal'] * 1e6:.1f} | {t['1k_open'] * 1e6:.1f} | "
            f"{mbps(MIB, t['1m_seal']):.0f} | {mbps(MIB, t['1m_open']):.0f} |"
        )

    sw_c = timings["sealwire chacha20-poly1305"]
    sw_a = timings["sealwire aes-256-gcm"]
    tink = timings["Tink KmsEnvelopeAead (AES256_GCM DEK)"]
    ossl_c = timings["cryptography ChaCha20Poly1305 (raw AEAD)"]
    ossl_a = timings["cryptography AESGCM (raw AEAD)"]
    checks: dict[str, object] = {}
    lines += [
        "",
        "### Targets",
        "",
        "| target | measured | ratio | verdict |",
        "|---|---:|---:|---|",
    ]
    for label, sw in (("chacha20-poly1305", sw_c), ("aes-256-gcm", sw_a)):
        for op, word in (("1k_seal", "seal"), ("1k_open", "open")):
            r = sw[op] / tink[op]
            checks[f"1k_{word}_{label}_vs_tink"] = r
            lines.append(
                f"| 1 KiB {word}, sealwire {label} ≤ {TARGET_1K_VS_TINK:.2f}× Tink's time | "
                f"{sw[op] * 1e6:.1f} µs vs {tink[op] * 1e6:.1f} µs | {r:.2f}× | {verdict(r <= TARGET_1K_VS_TINK)} |"
            )
    for state, tt in (("warmed allocator", timings), ("fresh process", fresh)):
        for label in ("chacha20-poly1305", "aes-256-gcm"):
            sw = tt[f"sealwire {label}"]
            oc = tt["cryptography ChaCha20Poly1305 (raw AEAD)"]
            r = oc["1m_seal"] / sw["1m_seal"]
            checks[f"1m_seal_{label}_vs_openssl_chacha_{state.replace(' ', '_')}"] = r
            lines.append(
                f"| 1 MiB seal ({state}), sealwire {label} ≥ {TARGET_1M_VS_OPENSSL:.1f}× OpenSSL "
                f"ChaCha20-Poly1305 | {mbps(MIB, sw['1m_seal']):.0f} vs {mbps(MIB, oc['1m_seal']):.0f} MB/s | "
                f"{r:.2f}× | {verdict(r >= TARGET_1M_VS_OPENSSL)} |"
            )
    r = ossl_a["1m_seal"] / sw_a["1m_seal"]
    checks["1m_seal_aes_vs_openssl_aesgcm"] = r
    lines.append(
        f"| (information) 1 MiB seal, sealwire aes-256-gcm vs OpenSSL AES-256-GCM | "
        f"{mbps(MIB, sw_a['1m_seal']):.0f} vs {mbps(MIB, ossl_a['1m_seal']):.0f} MB/s | {r:.2f}× | — |"
    )
    for label, sw in (("chacha20-poly1305", sw_c), ("aes-256-gcm", sw_a)):
        r = ossl_c["1m_seal"] / sw["1m_write"]
        checks[f"1m_write_{label}_vs_openssl_chacha"] = r
        lines.append(
            f"| (information) steady-state EnvelopeWriter.write(1 MiB), {label}, vs OpenSSL "
            f"ChaCha20-Poly1305 | {mbps(MIB, sw['1m_write']):.0f} vs {mbps(MIB, ossl_c['1m_seal']):.0f} MB/s "
            f"| {r:.2f}× | — |"
        )

    stream_lines: list[str] = []
    if streaming is not None:
        size = args.stream_mib * MIB
        base = streaming["baseline"]
        assert isinstance(base, dict)
        rss_ok = True
        stream_lines = [
            "",
            (
                f"### Streaming {args.stream_mib} MiB (EnvelopeWriter / EnvelopeReader, 64 KiB segments, "
                f"{CHUNK // KIB} KiB writes, one fresh process each)"
            ),
            "",
            (
                "| suite | direction | time (s) | MB/s | peak RSS, ru_maxrss (MiB) | VmHWM (MiB) "
                "| over baseline (MiB) | page faults / MiB |"
            ),
            "|---|---|---:|---:|---:|---:|---:|---:|",
            (
                f"| — | baseline: interpreter + sealwire + keyring + 1 MiB source block | — | — | "
                f"{base['peak_rss_kib'] / KIB:.1f} | {hwm(base)} | 0.0 | — |"
            ),
        ]
        for suite in ("chacha20-poly1305", "aes-256-gcm"):
            for key, label in (
                ("seal-null", "seal: generator → counting sink"),
                ("seal-file", "seal: generator → temp file"),
                *(
                    (f"open-file-{n // KIB}k", f"open: temp file → read({n // KIB} KiB) → verify + discard")
                    for n in READ_SIZES
                ),
            ):
                m = streaming[f"{suite}/{key}"]
                assert isinstance(m, dict)
                rss = m["peak_rss_kib"] / KIB
                rss_ok &= rss < TARGET_STREAM_RSS_MIB
                stream_lines.append(
                    f"| {suite} | {label} | {m['seconds']:.2f} | {mbps(size, m['seconds']):.0f} | "
                    f"{rss:.1f} | {hwm(m)} | {(m['peak_rss_kib'] - base['peak_rss_kib']) / KIB:.1f} | "
                    f"{(m['minor_faults'] - base['minor_faults']) / args.stream_mib:.0f} |"
                )
        worst = max(m["peak_rss_kib"] for k, m in streaming.items() if k != "baseline" and isinstance(m, dict)) / KIB
        checks["stream_peak_rss_mib"] = worst
        lines.append(
            f"| streaming {args.stream_mib} MiB seal and open < {TARGET_STREAM_RSS_MIB:.0f} MiB peak RSS | "
            f"worst {worst:.1f} MiB | — | {verdict(rss_ok)} |"
        )

    lines += [
        "",
        "### 1 MiB: warmed allocator vs fresh process (MB/s, minor page faults per operation)",
        "",
        "A page fault here is a fresh 4 KiB page the kernel maps and zeroes: memory the",
        "allocator gave back to the system after the previous call and asked for again.",
        '"Fresh process": a new interpreter that only runs these 1 MiB loops (glibc\'s mmap and',
        'trim thresholds as its own 1 MiB allocations left them); "warmed": after one 4 MiB',
        "block was freed, as in any process that has once freed a larger buffer.",
        "",
        "| implementation | seal, warmed | seal, fresh process | open, warmed | open, fresh process |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(t: dict[str, float], op: str) -> str:
        return f"{mbps(MIB, t[op]):.0f} ({t[op + '_faults']:.0f} faults)"

    for name, t in timings.items():
        f = fresh[name]
        lines.append(
            f"| {name} | {cell(t, '1m_seal')} | {cell(f, '1m_seal')} | {cell(t, '1m_open')} | {cell(f, '1m_open')} |"
        )
        if "1m_write" in t:
            lines.append(
                f"| {name}: EnvelopeWriter.write(1 MiB), writer kept open | {cell(t, '1m_write')} | — | — | — |"
            )

    lines += [
        "",
        "### 1 KiB: sealwire's per-envelope cost, one change at a time (chacha20-poly1305)",
        "",
        "| variant | µs per call |",
        "|---|---:|",
        *(f"| {name} | {sec * 1e6:.2f} |" for name, sec in breakdown.items()),
    ]
    lines += stream_lines
    return "\n".join(lines) + "\n", checks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short batches, 64 MiB stream (a smoke run)")
    p.add_argument("--reps", type=int, default=5, help="batches per cell; the best counts (default 5)")
    p.add_argument("--batch-seconds", type=float, default=0.2, help="target length of one batch (default 0.2)")
    p.add_argument("--stream-mib", type=int, default=1024, help="streamed size in MiB (default 1024)")
    p.add_argument("--skip-stream", action="store_true")
    p.add_argument("--tmpdir", default=tempfile.gettempdir(), help="where the sealed stream is written")
    p.add_argument("--markdown", help="also write the Markdown report to this file")
    p.add_argument("--json", help="also write raw results (seconds, KiB) to this file")
    # internal: one streaming measurement in this (fresh) process
    p.add_argument("--child", choices=("baseline", "seal", "open", "oneshot-fresh"), help=argparse.SUPPRESS)
    p.add_argument("--keyring", help=argparse.SUPPRESS)
    p.add_argument("--suite", default="chacha20-poly1305", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--read-size", type=int, default=64 * KIB, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        child_main(args)
        return
    if args.quick:
        args.reps, args.batch_seconds, args.stream_mib = 2, 0.03, 64

    t0 = time.perf_counter()
    env_lines = environment()
    print("==> one-shot timings", file=sys.stderr, flush=True)
    impls = make_impls()
    warm_allocator()
    timings = run_timings(impls, args.batch_seconds, args.reps)
    breakdown = run_breakdown(args.batch_seconds, args.reps)
    print("==> 1 MiB one-shot timings in a fresh process", file=sys.stderr, flush=True)
    fresh = json.loads(
        subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                "oneshot-fresh",
                "--reps",
                str(args.reps),
                "--batch-seconds",
                str(args.batch_seconds),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    streaming = None
    if not args.skip_stream:
        print(f"==> streaming {args.stream_mib} MiB", file=sys.stderr, flush=True)
        streaming = run_streaming(args.stream_mib * MIB, args.tmpdir)
    text, checks = report(timings, fresh, breakdown, streaming, env_lines, args)
    text += f"\n(benchmark wall time: {time.perf_counter() - t0:.0f} s)\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "timings_s": timings,
                    "fresh_process_timings_s": fresh,
                    "breakdown_1k_s": breakdown,
                    "streaming": streaming,
                    "checks": checks,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
