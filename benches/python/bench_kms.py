#!/usr/bin/env python3
"""Envelope encryption through a remote KMS from Python, side by side in one run.

Compared, each through its Python API, 1 KiB objects, on loopback:

* sealwire ``seal`` / ``unseal`` with a ``KmsKey`` for Vault Transit (OpenBao) and for AWS
  KMS (moto), each without and with a ``DataKeyCache`` (default limits: 300 s, 4096
  objects, 1 GiB per data key);
* Google Tink ``aead.KmsEnvelopeAead`` (AES256_GCM data keys) over its AWS KMS integration
  (``tink.integration.awskms.new_client(boto3_client=...)``: a boto3 KMS client pointed at
  the *same* moto server with ``endpoint_url``). Tink has no data-key cache: one KMS
  ``Encrypt`` per seal, one ``Decrypt`` per open.

KMS calls are counted by each client: sealwire's ``KmsKey.stats()`` (operations and HTTP
requests), Tink's through botocore's event hooks (``before-call.kms`` per API call,
``before-send.kms`` per HTTP request). The servers are started by
``scripts/kms-servers.sh`` in a private state directory and stopped at the end (or use
running ones with ``--env-file``).

Measured:

* per-object time of seal and open (``time.perf_counter``), in batches interleaved across
  implementations so load on the shared machine hits all of them alike; mean over all
  batches and median of the batch means;
* KMS calls per 10,000 objects: the cached rows seal 10,000 objects with a fresh key and
  cache and count exactly; the uncached rows count over the timed objects (``--objects``,
  1 call per object) and scale to 10,000 (``--objects 10000`` to count them exactly too).

Targets (issue 6): with the cache on, >= 100x fewer KMS calls at 10,000 objects (sealing),
and sealwire without the cache no slower per object than Tink.

Run it through ``bash benches/python/run.sh kms`` (installs tink[awskms] and the binding;
``--quick`` for a smoke run, ``--markdown FILE`` to save the report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
KIB = 1024
CONTEXT = {"purpose": "bench"}
AAD = b"purpose=bench"  # the same bytes of context for Tink (its KMS EncryptionContext)
CALLS_AT = 10_000
TARGET_CALL_RATIO = 100.0  # cached sealing: >= 100x fewer KMS calls
TARGET_VS_TINK = 1.0  # sealwire (no cache) per-object time <= Tink's


# --- servers ---------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name.strip()] = value.strip()
    return out


class Servers:
    """OpenBao + moto from scripts/kms-servers.sh, in a private state directory."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="sealwire-bench-kms."))
        self.env = {**os.environ, "KMS_STATE_DIR": str(self.state), "SEALWIRE_KMS_ENV_FILE": str(self.state / "kms.env")}

    def start(self) -> dict[str, str]:
        script = ROOT / "scripts" / "kms-servers.sh"
        print(f"==> bash scripts/kms-servers.sh start (KMS_STATE_DIR={self.state})", file=sys.stderr, flush=True)
        r = subprocess.run(["bash", str(script), "start"], env=self.env, stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode != 0:
            for log in self.state.glob("*.log"):
                print(f"--- {log}\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
            raise SystemExit("could not start the KMS servers")
        return read_env_file(self.state / "kms.env")

    def stop(self) -> None:
        script = ROOT / "scripts" / "kms-servers.sh"
        subprocess.run(["bash", str(script), "stop"], env=self.env, stdout=sys.stderr, stderr=sys.stderr)
        shutil.rmtree(self.state, ignore_errors=True)


# --- implementations -------------------------------------------------------------------------


@dataclass
class Impl:
    name: str
    seal: Callable[[bytes], bytes]
    open: Callable[[bytes], bytes]
    calls: Callable[[], tuple[int, int]]  # (KMS operations, HTTP requests) so far
    cached: bool = False
    seal_times: list[float] = field(default_factory=list)  # seconds per object, per batch
    open_times: list[float] = field(default_factory=list)
    seal_calls: int = 0
    open_calls: int = 0
    seal_http: int = 0
    open_http: int = 0
    objects: int = 0


def vault_admin(s: dict[str, str], path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{s['SEALWIRE_TEST_VAULT_ADDR']}/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"X-Vault-Token": s["SEALWIRE_TEST_VAULT_TOKEN"], "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


class Factory:
    """Builds fresh KMS clients (fresh counters) for each implementation."""

    def __init__(self, s: dict[str, str]) -> None:
        import sealwire

        self.sw = sealwire
        self.s = s
        self.vault_name = f"bench-{uuid.uuid4().hex[:8]}"
        vault_admin(s, f"transit/keys/{self.vault_name}", {"derived": True})
        self.aws_uri = (
            f"aws-kms://{s['SEALWIRE_TEST_AWS_KEY_ARN']}?region={s['SEALWIRE_TEST_AWS_REGION']}"
            f"&endpoint={quote(s['SEALWIRE_TEST_AWS_ENDPOINT'], safe='')}"
        )

    def vault_key(self) -> Any:
        return self.sw.KmsKey(
            f"vault://{self.vault_name}",
            vault_address=self.s["SEALWIRE_TEST_VAULT_ADDR"],
            vault_token=self.s["SEALWIRE_TEST_VAULT_TOKEN"],
        )

    def aws_key(self) -> Any:
        return self.sw.KmsKey(
            self.aws_uri,
            aws_access_key_id=self.s["SEALWIRE_TEST_AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.s["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"],
        )

    def sealwire_impl(self, name: str, key: Any, cached: bool) -> Impl:
        sw = self.sw
        cache = sw.DataKeyCache() if cached else None

        def seal(pt: bytes) -> bytes:
            if cache is not None:
                return cache.seal(pt, to=key, context=CONTEXT)
            return sw.seal(pt, to=key, context=CONTEXT)

        def open_(ct: bytes) -> bytes:
            return sw.unseal(ct, keys=key, context=CONTEXT)

        def calls() -> tuple[int, int]:
            st = key.stats()
            return st.operations, st.http_requests

        return Impl(name, seal, open_, calls, cached=cached)

    def tink_impl(self) -> Impl:
        import boto3
        from tink import aead
        from tink.integration import awskms

        aead.register()
        client = boto3.client(
            "kms",
            endpoint_url=self.s["SEALWIRE_TEST_AWS_ENDPOINT"],
            region_name=self.s["SEALWIRE_TEST_AWS_REGION"],
            aws_access_key_id=self.s["SEALWIRE_TEST_AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.s["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"],
        )
        counts = {"call": 0, "send": 0}

        def on_call(**_: Any) -> None:
            counts["call"] += 1

        def on_send(**_: Any) -> None:
            counts["send"] += 1

        client.meta.events.register("before-call.kms", on_call)
        client.meta.events.register("before-send.kms", on_send)
        key_uri = "aws-kms://" + self.s["SEALWIRE_TEST_AWS_KEY_ARN"]
        remote = awskms.new_client(boto3_client=client, key_uri=key_uri).get_aead(key_uri)
        env = aead.KmsEnvelopeAead(aead.aead_key_templates.AES256_GCM, remote)
        return Impl(
            "Tink KmsEnvelopeAead, AWS (boto3)",
            lambda pt: env.encrypt(pt, AAD),
            lambda ct: env.decrypt(ct, AAD),
            lambda: (counts["call"], counts["send"]),
        )


# --- measurement -----------------------------------------------------------------------------


def run_batches(impls: list[Impl], objects: int, batch: int) -> None:
    """Seal then open `objects` 1 KiB objects per implementation, in batches interleaved
    across implementations (the order rotates every round)."""
    payload = os.urandom(KIB)
    rounds = max(1, objects // batch)
    for r in range(rounds):
        order = impls[r % len(impls) :] + impls[: r % len(impls)]
        for im in order:
            c0, h0 = im.calls()
            t0 = time.perf_counter()
            sealed = [im.seal(payload) for _ in range(batch)]
            t1 = time.perf_counter()
            c1, h1 = im.calls()
            for ct in sealed:
                if im.open(ct) != payload:
                    raise SystemExit(f"{im.name}: round trip failed")
            t2 = time.perf_counter()
            c2, h2 = im.calls()
            im.seal_times.append((t1 - t0) / batch)
            im.open_times.append((t2 - t1) / batch)
            im.seal_calls += c1 - c0
            im.open_calls += c2 - c1
            im.seal_http += h1 - h0
            im.open_http += h2 - h1
            im.objects += batch
        done = (r + 1) * batch
        if done % max(batch, objects // 10) == 0 or r + 1 == rounds:
            print(f"    {done}/{objects} objects per implementation", file=sys.stderr, flush=True)


def cached_calls_at(factory: Factory, key_maker: Callable[[], Any], n: int) -> tuple[int, int, Any]:
    """KMS calls of sealing `n` objects through a fresh key and cache (key check included)."""
    sw = factory.sw
    key = key_maker()
    cache = sw.DataKeyCache()
    payload = os.urandom(KIB)
    last = b""
    for _ in range(n):
        last = cache.seal(payload, to=key, context=CONTEXT)
    if sw.unseal(last, keys=key_maker(), context=CONTEXT) != payload:
        raise SystemExit("cached round trip failed")
    st = key.stats()
    return st.operations, st.http_requests, cache.stats()


def us(seconds: float) -> str:
    v = seconds * 1e6
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=2000, help="timed objects per implementation (default 2000)")
    ap.add_argument("--batch", type=int, default=100, help="objects per timed batch (default 100)")
    ap.add_argument("--env-file", type=Path, help="use running servers (an env file of scripts/kms-servers.sh)")
    ap.add_argument("--markdown", type=Path, help="also write the Markdown report to this file")
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 timed objects, 10,000 cached seals")
    args = ap.parse_args()
    if args.quick:
        args.objects, args.batch = 200, 50
    args.batch = max(1, min(args.batch, args.objects))

    servers = None
    if args.env_file:
        s = read_env_file(args.env_file)
    else:
        servers = Servers()
        s = servers.start()
    try:
        report = bench(s, args)
    finally:
        if servers is not None:
            servers.stop()
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n", encoding="utf-8")


def bench(s: dict[str, str], args: argparse.Namespace) -> str:
    import sealwire

    f = Factory(s)
    impls = [
        f.sealwire_impl("sealwire, Vault Transit (OpenBao)", f.vault_key(), cached=False),
        f.sealwire_impl("sealwire, Vault Transit + DataKeyCache", f.vault_key(), cached=True),
        f.sealwire_impl("sealwire, AWS KMS (moto)", f.aws_key(), cached=False),
        f.sealwire_impl("sealwire, AWS KMS + DataKeyCache", f.aws_key(), cached=True),
        f.tink_impl(),
    ]
    print("==> warm-up (connections, Vault key check)", file=sys.stderr, flush=True)
    for im in impls:
        for _ in range(5):
            im.open(im.seal(b"warm-up"))
    print(f"==> timed: {args.objects} objects x {len(impls)} implementations, batches of {args.batch}", file=sys.stderr)
    run_batches(impls, args.objects, args.batch)
    print(f"==> KMS calls of {CALLS_AT:,} cached seals (fresh key and cache)", file=sys.stderr, flush=True)
    vault_cached = cached_calls_at(f, f.vault_key, CALLS_AT)
    aws_cached = cached_calls_at(f, f.aws_key, CALLS_AT)

    def per10k(calls: int, objects: int) -> float:
        return calls * CALLS_AT / objects

    vault, vault_c, aws, aws_c, tink_ = impls
    exact = {vault_c.name: vault_cached, aws_c.name: aws_cached}
    rows = []
    for im in impls:
        seal_mean = statistics.fmean(im.seal_times)
        open_mean = statistics.fmean(im.open_times)
        if im.name in exact:
            seal_10k = float(exact[im.name][0])
            seal_note = "exact"
        else:
            seal_10k = per10k(im.seal_calls, im.objects)
            seal_note = "exact" if im.objects == CALLS_AT else f"scaled from {im.objects:,}"
        rows.append((im, seal_mean, open_mean, seal_10k, seal_note, per10k(im.open_calls, im.objects)))

    lines: list[str] = []
    w = lines.append
    w("## KMS envelope benchmark (Python): sealwire vs Tink KmsEnvelopeAead (AWS), 1 KiB objects, loopback")
    w("")
    w(f"- {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
      f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} (at the end)")
    w(f"- Python {platform.python_version()}, sealwire {sealwire.__version__}, tink {version('tink')}, "
      f"boto3 {version('boto3')}; OpenBao dev server and moto (SigV4 enforced) from scripts/kms-servers.sh")
    w(f"- timed: {args.objects:,} objects per implementation in batches of {args.batch}, interleaved; "
      "per-object time = mean over all batches (median of batch means in brackets)")
    w(f"- DataKeyCache defaults: {sealwire.DataKeyCache().max_messages} objects / "
      f"{sealwire.DataKeyCache().max_age_seconds:.0f} s per data key; opening a cached object is one KMS call as without the cache")
    w("")
    w("| implementation | seal µs/object | open µs/object | KMS calls per 10,000 seals | KMS calls per 10,000 opens |")
    w("|---|---:|---:|---:|---:|")
    for im, sm, om, s10, note, o10 in rows:
        w(
            f"| {im.name} | {us(sm)} ({us(statistics.median(im.seal_times))}) | {us(om)} ({us(statistics.median(im.open_times))}) "
            f"| {s10:,.0f} ({note}) | {o10:,.0f} |"
        )
    w("")
    # Targets.
    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf")

    aws_seal_ratio = ratio(rows[2][1], rows[4][1])
    aws_open_ratio = ratio(rows[2][2], rows[4][2])
    vault_call_ratio = ratio(rows[0][3], rows[1][3])
    aws_call_ratio = ratio(rows[2][3], rows[3][3])
    tink_call_ratio = ratio(rows[4][3], rows[3][3])
    met = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    w("| target | measured | |")
    w("|---|---|---|")
    w(f"| cache: ≥ {TARGET_CALL_RATIO:.0f}× fewer KMS calls at 10,000 seals, Vault | "
      f"{rows[0][3]:,.0f} → {rows[1][3]:,.0f} calls: {vault_call_ratio:,.0f}× | {met(vault_call_ratio >= TARGET_CALL_RATIO)} |")
    w(f"| cache: ≥ {TARGET_CALL_RATIO:.0f}× fewer KMS calls at 10,000 seals, AWS | "
      f"{rows[2][3]:,.0f} → {rows[3][3]:,.0f} calls: {aws_call_ratio:,.0f}× (vs Tink: {tink_call_ratio:,.0f}×) | "
      f"{met(aws_call_ratio >= TARGET_CALL_RATIO)} |")
    w(f"| no cache: seal no slower than Tink per object (AWS, same moto) | sealwire/Tink = {aws_seal_ratio:.2f} | "
      f"{met(aws_seal_ratio <= TARGET_VS_TINK)} |")
    w(f"| no cache: open no slower than Tink per object (AWS, same moto) | sealwire/Tink = {aws_open_ratio:.2f} | "
      f"{met(aws_open_ratio <= TARGET_VS_TINK)} |")
    w("")
    w(f"HTTP requests (retries included) during the timed run: "
      + ", ".join(f"{im.name}: {im.seal_http + im.open_http:,} for {im.seal_calls + im.open_calls:,} calls" for im in impls))
    w("")
    w(f"Cache counters at 10,000 seals: Vault {vault_cached[2]}; AWS {aws_cached[2]} "
      f"(Vault's count includes the provider's one-time key check).")
    return "\n".join(lines)


def version(dist: str) -> str:
    try:
        from importlib.metadata import version as v

        return v(dist)
    except Exception:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    main()
