"""Remote KMS keys (``sealwire.KmsKey``: Vault Transit, AWS KMS) and the data-key cache
(``sealwire.DataKeyCache``) from Python.

Two groups:

* always run (no server needed): URI parsing and settings, secrets never shown, an
  unreachable KMS failing fast, the data-key cache over a local keyring, and every entry
  point that may reach a KMS releasing the GIL -- proven against a stand-in for Vault Transit
  that runs *in this process* (an ``http.server`` thread answering after a delay): if a call
  kept the GIL, that server could never answer;
* against REAL servers (OpenBao and moto, started by ``scripts/kms-servers.sh``): read from
  the env file named by ``SEALWIRE_KMS_ENV_FILE`` (``SEALWIRE_TEST_*`` variables in the
  environment take precedence). Without it these tests SKIP (with the reason in pytest's
  summary), unless ``SEALWIRE_KMS_REQUIRED=1`` (``bindings/python/test-kms.sh``), which makes
  them fail instead -- the convention of core/tests/kms_*.rs and the Node binding.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import socket
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sealwire
import sealwire.aio

CTX = {"tenant": "acme", "purpose": "python-kms-test"}

NEEDS = [
    "SEALWIRE_TEST_VAULT_ADDR",
    "SEALWIRE_TEST_VAULT_TOKEN",
    "SEALWIRE_TEST_AWS_ENDPOINT",
    "SEALWIRE_TEST_AWS_REGION",
    "SEALWIRE_TEST_AWS_ACCESS_KEY_ID",
    "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY",
    "SEALWIRE_TEST_AWS_KEY_ARN",
    "SEALWIRE_TEST_AWS_KEY2_ARN",
]


def load_settings() -> dict[str, str]:
    s: dict[str, str] = {}
    path = os.environ.get("SEALWIRE_KMS_ENV_FILE")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            text = ""  # reported below as missing settings
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip():
                s[name.strip()] = value.strip()
    for name, value in os.environ.items():
        if name.startswith("SEALWIRE_TEST_"):
            s[name] = value
    return s


S = load_settings()
MISSING = [n for n in NEEDS if not S.get(n)]
REQUIRED = os.environ.get("SEALWIRE_KMS_REQUIRED") == "1"


def data(n: int, seed: int = 7) -> bytes:
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def shown(exc: BaseException) -> str:
    """Everything an exception shows: message, repr, args, formatted traceback and causes."""
    return "\n".join(
        [str(exc), repr(exc), repr(exc.args)] + traceback.format_exception(type(exc), exc, exc.__traceback__)
    )


def raises_code(
    call: Callable[[], object],
    code: str,
    cls: type[BaseException] = sealwire.SealwireError,
    secrets: tuple[str, ...] = (),
) -> sealwire.SealwireError:
    """Run `call`; it must raise `cls` with `code`, showing none of `secrets`."""
    with pytest.raises(cls) as info:
        call()
    err = info.value
    assert isinstance(err, sealwire.SealwireError)
    assert err.code == code, f"expected {code}, got {err.code}: {err}"
    text = shown(err)
    for secret in secrets:
        assert secret not in text, "an error shows a secret"
    return err


# ==================================================================== no server needed

TOKEN = "hvs.python-test-secret-token-7d2b9e"
AWS_SECRET = "python-test-aws-secret-Jq7xP0wLk3"
ARN = "arn:aws:kms:eu-west-1:111122223333:key/abc"


@pytest.fixture
def dead_addr() -> str:
    return f"http://127.0.0.1:{closed_port()}"


def test_kms_key_properties_and_no_secret_shown(dead_addr: str) -> None:
    v = sealwire.KmsKey("vault://orders%2Dv?mount=kv%2Ftransit", vault_address=dead_addr, vault_token=TOKEN)
    assert v.provider_id == "vault-transit"
    assert v.key_id == "orders-v"
    st = v.stats()
    assert (st.operations, st.http_requests, st.retries, st.failures) == (0, 0, 0, 0)
    assert st == v.stats() and "operations=0" in repr(st)
    a = sealwire.KmsKey(
        f"aws-kms://{ARN}?endpoint={dead_addr.replace(':', '%3A').replace('/', '%2F')}",
        aws_access_key_id="AKIAPYTHONTEST",
        aws_secret_access_key=AWS_SECRET,
        aws_session_token="session-" + AWS_SECRET,
    )
    assert a.provider_id == "aws-kms"
    assert a.key_id == ARN
    assert sealwire.provider_info(a) == ("aws-kms", ARN, 0)
    assert sealwire.provider_info(v) == ("vault-transit", "orders-v", 0)
    for k in (v, a):
        text = repr(k) + str(k) + repr(dir(k))
        assert TOKEN not in text and AWS_SECRET not in text and "AKIAPYTHONTEST" not in text, text
        assert k.key_id in repr(k)
        with pytest.raises(AttributeError):
            k.vault_token  # type: ignore[attr-defined]  # noqa: B018
        with pytest.raises((AttributeError, TypeError)):
            k.key_id = "other"  # type: ignore[misc]
    # A KmsKey is a single provider, not an iterable of them.
    with pytest.raises(TypeError):
        iter(v)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "bad",
    [
        "vault:/k",
        "vault://",
        "gcp://k",
        "vault://k?mount",
        "vault://k?foo=1",
        "vault://k?mount=a&mount=b",
        "vault://k?mount=",
        "vault://%zz",
        "aws-kms://",
    ],
)
def test_kms_key_refuses_malformed_uris(bad: str, dead_addr: str) -> None:
    raises_code(
        lambda: sealwire.KmsKey(bad, vault_address=dead_addr, vault_token=TOKEN),
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
        secrets=(TOKEN,),
    )


def test_kms_key_settings_and_environment(monkeypatch: pytest.MonkeyPatch, dead_addr: str) -> None:
    for name in ("VAULT_ADDR", "BAO_ADDR", "VAULT_TOKEN", "BAO_TOKEN", "VAULT_NAMESPACE", "BAO_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    e = raises_code(lambda: sealwire.KmsKey("vault://k"), "ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError)
    assert "Vault address" in str(e)
    e = raises_code(
        lambda: sealwire.KmsKey("vault://k", vault_address=dead_addr),
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
    )
    assert "Vault token" in str(e)
    # AWS: the access key id and the secret go together; a region is needed.
    raises_code(
        lambda: sealwire.KmsKey(f"aws-kms://{ARN}", aws_access_key_id="AKIA"),
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
    )
    e = raises_code(
        lambda: sealwire.KmsKey("aws-kms://1234abcd", aws_access_key_id="AKIA", aws_secret_access_key=AWS_SECRET),
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
        secrets=(AWS_SECRET,),
    )
    assert "region" in str(e)
    # The environment is the fallback (read when the key is built)...
    monkeypatch.setenv("VAULT_ADDR", dead_addr)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    assert sealwire.KmsKey("vault://from-env").key_id == "from-env"
    # ...and the keywords take precedence over it: a bad address given explicitly is used.
    raises_code(
        lambda: sealwire.KmsKey("vault://k", vault_address="ftp://example"),
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
    )
    # Secrets must be str; the error names the type, never the value.
    with pytest.raises(TypeError) as info:
        sealwire.KmsKey("vault://k", vault_address=dead_addr, vault_token=TOKEN.encode())  # type: ignore[arg-type]
    assert TOKEN not in shown(info.value) and "bytes" in str(info.value)
    with pytest.raises(TypeError):
        sealwire.KmsKey("vault://k", vault_address=dead_addr, vault_token=TOKEN, aws_secret_access_key=1)  # type: ignore[arg-type]


def test_unreachable_kms_fails_fast_with_kms_unavailable(dead_addr: str, tmp_path: Path) -> None:
    k = sealwire.KmsKey("vault://orders", vault_address=dead_addr, vault_token=TOKEN)
    ring = sealwire.Keyring()
    ring.create_key("local")
    t0 = time.monotonic()
    raises_code(
        lambda: sealwire.seal(b"x", to=k, context=CTX),
        "ERR_SEALWIRE_KMS_UNAVAILABLE",
        sealwire.ProviderError,
        secrets=(TOKEN,),
    )
    assert time.monotonic() - t0 < 5
    st = k.stats()
    assert st.operations >= 1 and st.failures >= 1, st
    a = sealwire.KmsKey(
        f"aws-kms://arn:aws:kms:us-east-1:1:key/abc?endpoint={dead_addr}",
        aws_access_key_id="AKIAPYTHONTEST",
        aws_secret_access_key=AWS_SECRET,
    )
    raises_code(
        lambda: sealwire.seal(b"x", to=[ring, a], context=CTX),
        "ERR_SEALWIRE_KMS_UNAVAILABLE",
        sealwire.ProviderError,
        secrets=(AWS_SECRET,),
    )
    # Every entry point reports the KMS code: streams, files, the cache.
    raises_code(lambda: sealwire.EnvelopeWriter(io.BytesIO(), to=k, context=CTX), "ERR_SEALWIRE_KMS_UNAVAILABLE")
    src = tmp_path / "src"
    src.write_bytes(b"abc")
    raises_code(lambda: sealwire.seal_file(src, tmp_path / "dst", to=k, context=CTX), "ERR_SEALWIRE_KMS_UNAVAILABLE")
    assert not (tmp_path / "dst").exists()
    raises_code(lambda: sealwire.DataKeyCache().seal(b"x", to=k, context=CTX), "ERR_SEALWIRE_KMS_UNAVAILABLE")
    # Opening an object without a KMS entry: the keyring opens it; the KMS key alone owns
    # no entry, so it is never called.
    before = k.stats()
    sealed = sealwire.seal(b"y", to=ring, context=CTX)
    assert sealwire.unseal(sealed, keys=[k, ring], context=CTX) == b"y"
    raises_code(
        lambda: sealwire.unseal(sealed, keys=k, context=CTX),
        "ERR_SEALWIRE_NO_MATCHING_KEY",
        sealwire.KeyNotAvailableError,
    )
    assert k.stats() == before


# --- an in-process stand-in for Vault Transit -------------------------------------------------


class FakeVault:
    """A stand-in for Vault Transit (a network stand-in, not a reimplementation): an
    ``http.server`` thread of THIS process answering the Transit calls the provider makes,
    each after ``delay`` seconds. Its "ciphertexts" carry the data key and the derivation
    context in the clear (tests only) and ``decrypt`` refuses another context the way Vault
    does. Because it needs the GIL to answer, a sealwire call that kept the GIL while waiting
    for it would never get an answer (and end in ERR_SEALWIRE_KMS_TIMEOUT after 10 s)."""

    def __init__(self, delay: float = 0.0, token: str = TOKEN) -> None:
        self.delay = delay
        self.token = token
        self.calls: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                fake.handle(self, None)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                fake.handle(self, json.loads(self.rfile.read(n) or b"{}"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def seal(dek_b64: str, context: str) -> str:
        blob = json.dumps({"k": dek_b64, "c": context}).encode()
        return "vault:v1:" + base64.b64encode(blob).decode()

    def handle(self, h: Any, body: dict[str, Any] | None) -> None:
        time.sleep(self.delay)
        path = h.path.removeprefix("/v1/transit/")
        op = "datakey" if path.startswith("datakey/") else path.split("/")[0]
        self.calls.append(op)
        status, reply = self.answer(op, h.headers.get("X-Vault-Token"), body)
        h.reply(status, reply)

    def answer(self, op: str, token: str | None, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        if token != self.token:
            return 403, {"errors": ["permission denied"]}
        if body is None:  # GET keys/{name}: the key check
            return 200, {
                "data": {"latest_version": 1, "min_decryption_version": 1, "derived": True, "type": "aes256-gcm96"}
            }
        ctx = body.get("context", "")
        if op == "datakey":
            dek = base64.b64encode(os.urandom(32)).decode()
            return 200, {"data": {"plaintext": dek, "ciphertext": self.seal(dek, ctx)}}
        if op == "encrypt":
            return 200, {"data": {"ciphertext": self.seal(body["plaintext"], ctx)}}
        if op in ("decrypt", "rewrap"):
            inner = json.loads(base64.b64decode(body["ciphertext"].split(":", 2)[2]))
            if inner["c"] != ctx:
                return 400, {"errors": ["cipher: message authentication failed"]}
            if op == "rewrap":
                return 200, {"data": {"ciphertext": self.seal(inner["k"], ctx)}}
            return 200, {"data": {"plaintext": inner["k"]}}
        return 404, {"errors": []}

    def key(self, name: str = "orders", token: str | None = None) -> sealwire.KmsKey:
        return sealwire.KmsKey(f"vault://{name}", vault_address=self.address, vault_token=token or self.token)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_vault() -> Iterator[FakeVault]:
    v = FakeVault()
    try:
        yield v
    finally:
        v.close()


@pytest.fixture
def slow_vault() -> Iterator[FakeVault]:
    v = FakeVault(delay=0.1)
    try:
        yield v
    finally:
        v.close()


@pytest.fixture
def no_forced_switching() -> Iterator[None]:
    """The interpreter hands the GIL over only when a thread gives it up itself (see
    test_threads.py): another thread then runs during a native call if and only if that
    call released the GIL."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def ticks_during(call: Callable[[], object]) -> int:
    """Run `call` on this thread while a second thread counts; return its count."""
    stop = threading.Event()
    ticks = 0

    def counter() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            stop.wait(0.002)  # blocks: gives the GIL back between ticks

    t = threading.Thread(target=counter)
    t.start()
    try:
        call()
    finally:
        stop.set()
        t.join()
    return ticks


def test_fake_vault_round_trip_through_every_entry_point(fake_vault: FakeVault, tmp_path: Path) -> None:
    """The binding's plumbing with a KmsKey (server-free): seal / unseal / rewrap / streams /
    files / cache / aio, each result opened again."""
    k = fake_vault.key()
    ring = sealwire.Keyring()
    ring.create_key("local")
    pt = data(3000)
    sealed = sealwire.seal(pt, to=k, context=CTX)
    assert sealwire.EnvelopeHeader.parse(sealed).wrapped_keys == [("vault-transit", "orders", 1)]
    assert sealwire.unseal(sealed, keys=fake_vault.key(), context=CTX) == pt
    assert fake_vault.calls[:3] == ["keys", "datakey", "decrypt"]
    # A keyring first, the KMS key second: the KMS encrypts the keyring's data key.
    both = sealwire.seal(pt, to=[ring, k], context=CTX)
    assert fake_vault.calls[-1] == "encrypt"
    assert sealwire.unseal(both, keys=k, context=CTX) == pt
    # Wrong context: refused before any KMS call.
    n = len(fake_vault.calls)
    raises_code(
        lambda: sealwire.unseal(sealed, keys=k, context={"tenant": "x"}),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )
    assert len(fake_vault.calls) == n
    # rewrap: add, rewrap_with (server-side rewrap), remove.
    added = sealwire.rewrap(sealed, keys=k, add=ring, context=CTX)
    assert sealwire.unseal(added, keys=ring, context=CTX) == pt
    moved = sealwire.rewrap(added, keys=ring, rewrap_with=k, context=CTX)
    assert fake_vault.calls[-1] == "rewrap"
    ring_only = sealwire.rewrap(moved, keys=ring, remove=[k], context=CTX)
    assert [w[0] for w in sealwire.EnvelopeHeader.parse(ring_only).wrapped_keys] == ["keyring"]
    # Streams and files.
    sink = io.BytesIO()
    with sealwire.EnvelopeWriter(sink, to=k, context=CTX, segment_size=1024) as w:
        w.write(pt)
    with sealwire.EnvelopeReader(io.BytesIO(sink.getvalue()), keys=k, context=CTX) as r:
        assert r.read() == pt
    src, dst, out = tmp_path / "src", tmp_path / "dst", tmp_path / "out"
    src.write_bytes(pt)
    sealwire.seal_file(src, dst, to=k, context=CTX)
    sealwire.unseal_file(dst, out, keys=k, context=CTX)
    assert out.read_bytes() == pt
    # The cache, and aio.
    cache = sealwire.DataKeyCache()
    objs = [cache.seal(data(10, i), to=k, context=CTX) for i in range(20)]
    assert (cache.stats().misses, cache.stats().hits) == (1, 19)
    assert all(sealwire.unseal(o, keys=k, context=CTX) == data(10, i) for i, o in enumerate(objs))

    async def main() -> bytes:
        s = await sealwire.aio.seal(pt, to=k, context=CTX)
        s = await sealwire.aio.rewrap(s, keys=k, add=ring, context=CTX)
        c = await sealwire.aio.cache_seal(cache, b"cached", to=k, context=CTX)
        assert await sealwire.aio.unseal(c, keys=k, context=CTX) == b"cached"
        await sealwire.aio.seal_file(src, dst, to=k, context=CTX)
        await sealwire.aio.unseal_file(dst, out, keys=k, context=CTX)
        return await sealwire.aio.unseal(s, keys=ring, context=CTX)

    assert asyncio.run(main()) == pt
    assert out.read_bytes() == pt
    st = k.stats()
    assert st.failures == 0 and st.operations >= 10, st


def test_fake_vault_bad_token_and_moved_entry(fake_vault: FakeVault) -> None:
    bad = fake_vault.key(token="hvs.wrong-token-Zx81kq")
    e = raises_code(
        lambda: sealwire.seal(b"x", to=bad, context=CTX),
        "ERR_SEALWIRE_KMS_AUTH_FAILED",
        sealwire.ProviderError,
        secrets=("hvs.wrong-token-Zx81kq", TOKEN),
    )
    assert fake_vault.address.rsplit(":", 1)[1] not in str(e), "no URL in the message"
    # A wrapped key moved from another object: the KMS refuses it under this object's binding.
    k = fake_vault.key()
    a = sealwire.seal(b"a" * 64, to=k, context=CTX)
    b = sealwire.seal(b"b" * 64, to=k, context=CTX)
    ea, eb = vault_entries(a), vault_entries(b)
    forged = bytearray(a)
    forged[ea[0][0] : ea[0][1]] = b[eb[0][0] : eb[0][1]]
    raises_code(
        lambda: sealwire.unseal(bytes(forged), keys=k, context=CTX),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )


def vault_entries(sealed: bytes) -> list[tuple[int, int]]:
    """(start, end) of each Vault entry's wrapped bytes (``vault:vN:`` + base64) in an
    envelope; their length is the big-endian u16 just before them (docs/FORMATS.md)."""
    out = []
    for m in re.finditer(rb"vault:v\d+:", sealed):
        start = m.start()
        n = int.from_bytes(sealed[start - 2 : start], "big")
        assert re.fullmatch(rb"vault:v\d+:[A-Za-z0-9+/=]+", sealed[start : start + n])
        out.append((start, start + n))
    return out


# --- the GIL is released while a KMS call waits ------------------------------------------------


def gil_cases(v: FakeVault, tmp_path: Path) -> dict[str, Callable[[], object]]:
    """One call per entry point that may reach a KMS, each with a tiny payload (the size at
    which keyring-only calls keep the GIL)."""
    ring = sealwire.Keyring()
    ring.create_key("local")
    k = v.key()
    sealed = sealwire.seal(b"tiny", to=[k, ring], context=CTX)
    src = tmp_path / "src"
    src.write_bytes(b"tiny")
    sealwire.seal_file(src, tmp_path / "sealed", to=k, context=CTX)
    fresh = v.key  # a new KmsKey per call: its key check is a KMS call too
    return {
        "seal": lambda: sealwire.seal(b"tiny", to=fresh(), context=CTX),
        "seal keyring+kms": lambda: sealwire.seal(b"tiny", to=[ring, fresh()], context=CTX),
        "unseal": lambda: sealwire.unseal(sealed, keys=fresh(), context=CTX),
        "rewrap add": lambda: sealwire.rewrap(sealed, keys=ring, add=fresh(), context=CTX),
        "rewrap rewrap_with": lambda: sealwire.rewrap(sealed, keys=ring, rewrap_with=fresh(), context=CTX),
        "EnvelopeWriter": lambda: sealwire.EnvelopeWriter(io.BytesIO(), to=fresh(), context=CTX).abort(),
        "EnvelopeReader": lambda: sealwire.EnvelopeReader(io.BytesIO(sealed), keys=fresh(), context=CTX).close(),
        "seal_file": lambda: sealwire.seal_file(src, tmp_path / "out.swev", to=fresh(), context=CTX),
        "unseal_file": lambda: sealwire.unseal_file(tmp_path / "sealed", tmp_path / "out", keys=fresh(), context=CTX),
        "DataKeyCache.seal": lambda: sealwire.DataKeyCache().seal(b"tiny", to=fresh(), context=CTX),
    }


GIL_CASES = [
    "seal",
    "seal keyring+kms",
    "unseal",
    "rewrap add",
    "rewrap rewrap_with",
    "EnvelopeWriter",
    "EnvelopeReader",
    "seal_file",
    "unseal_file",
    "DataKeyCache.seal",
]


@pytest.mark.parametrize("case", GIL_CASES)
def test_kms_calls_release_the_gil(case: str, slow_vault: FakeVault, tmp_path: Path, no_forced_switching: None) -> None:
    call = gil_cases(slow_vault, tmp_path)[case]
    before = len(slow_vault.calls)
    t0 = time.monotonic()
    ticks = ticks_during(call)
    elapsed = time.monotonic() - t0
    kms_calls = len(slow_vault.calls) - before
    # The in-process server answered (it needs the GIL), after its 0.1 s delay per request...
    assert kms_calls >= 1
    assert elapsed < 5, f"{case}: {elapsed:.1f} s (an answer waited for the GIL?)"
    # ...and the counting thread ran meanwhile: the call waited without the GIL.
    assert ticks >= 3 * kms_calls, f"{case}: {ticks} ticks during {kms_calls} KMS calls"


def test_asyncio_loop_keeps_running_during_kms_calls(slow_vault: FakeVault) -> None:
    k = slow_vault.key()

    async def main() -> tuple[int, bytes]:
        ticks = 0
        done = False

        async def tick() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(tick())
        sealed = await sealwire.aio.seal(b"tiny", to=k, context=CTX)
        opened = await sealwire.aio.unseal(sealed, keys=k, context=CTX)
        done = True
        await t
        return ticks, opened

    ticks, opened = asyncio.run(main())
    assert opened == b"tiny"
    assert ticks >= 20, ticks  # 3 KMS calls of 0.1 s: the loop ran throughout


# --- DataKeyCache (local keyring) --------------------------------------------------------------


def test_cache_limits() -> None:
    d = sealwire.DataKeyCache()
    assert (d.max_age_seconds, d.max_messages, d.max_bytes, d.max_entries) == (300.0, 4096, 1 << 30, 64)
    c = sealwire.DataKeyCache(max_age_seconds=1.5, max_messages=10, max_bytes=1000, max_entries=3)
    assert (c.max_age_seconds, c.max_messages, c.max_bytes, c.max_entries) == (1.5, 10, 1000, 3)
    assert sealwire.DataKeyCache(max_age_seconds=86400, max_messages=2**32).max_messages == 2**32
    bad_values: list[dict[str, Any]] = [
        {"max_age_seconds": 0},
        {"max_age_seconds": -1},
        {"max_age_seconds": 86401},
        {"max_age_seconds": float("nan")},
        {"max_age_seconds": float("inf")},
        {"max_messages": 0},
        {"max_messages": 2**32 + 1},
        {"max_messages": -1},
        {"max_bytes": 0},
        {"max_bytes": -5},
        {"max_bytes": 2**64},
        {"max_entries": 0},
        {"max_entries": 65537},
    ]
    for bad in bad_values:
        with pytest.raises(sealwire.ParameterError) as info:
            sealwire.DataKeyCache(**bad)
        assert info.value.code == "ERR_SEALWIRE_INVALID_PARAMETER", bad
    bad_types: list[dict[str, Any]] = [
        {"max_messages": 1.5},
        {"max_messages": True},
        {"max_age_seconds": "1"},
        {"max_entries": "3"},
    ]
    for bad_type in bad_types:
        with pytest.raises(TypeError):
            sealwire.DataKeyCache(**bad_type)
    with pytest.raises(TypeError):
        sealwire.DataKeyCache(10)  # type: ignore[call-arg]  # keyword-only


class CountingProvider:
    """A Python key provider (XOR with a fixed key: tests only) that counts its calls."""

    provider_id = "counting"
    key_id = "k1"

    def __init__(self) -> None:
        self.wraps = 0
        self.unwraps = 0

    def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
        self.wraps += 1
        return bytes(b ^ 0x5A for b in data_key) + ctx.aad[-8:]

    def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> bytes:
        self.unwraps += 1
        if wrapped[32:] != ctx.aad[-8:]:
            raise sealwire.DecryptionError("not bound here", "ERR_SEALWIRE_HEADER_AUTH_FAILED")
        return bytes(b ^ 0x5A for b in wrapped[:32])


def test_cache_batches_and_opens_without_the_cache() -> None:
    ring = sealwire.Keyring()
    ring.create_key("orders")
    cache = sealwire.DataKeyCache(max_messages=5)
    objs = [cache.seal(data(100, i), to=ring, context=CTX) for i in range(12)]
    # 12 seals, 5 per data key: 3 keys made, 2 retired.
    st = cache.stats()
    assert (st.hits, st.misses, st.bypassed, st.evicted, st.entries) == (9, 3, 0, 2, 1)
    assert "hits=9" in repr(st) and "1 entry" in repr(cache)
    ids = {sealwire.EnvelopeHeader.parse(o).message_id for o in objs}
    assert len(ids) == 12
    for i, o in enumerate(objs):
        assert sealwire.unseal(o, keys=ring, context=CTX) == data(100, i)
    # Another context is another entry; a message above max_bytes bypasses the cache.
    small = sealwire.DataKeyCache(max_bytes=50)
    small.seal(data(10), to=ring, context=CTX)
    small.seal(data(10), to=ring, context={"tenant": "other"})
    big = small.seal(data(51), to=ring, context=CTX)
    assert sealwire.unseal(big, keys=ring, context=CTX) == data(51)
    st = small.stats()
    assert (st.hits, st.misses, st.bypassed, st.evicted, st.entries) == (0, 2, 1, 0, 2)
    small.clear()
    assert small.stats().entries == 0 and small.stats().evicted == 2
    # A Python provider through the cache: called once per data key, not per object.
    p = CountingProvider()
    c2 = sealwire.DataKeyCache()
    sealed = [
        c2.seal(data(20, i), to=[p, ring], context=CTX, suite="aes-256-gcm", segment_size=4096) for i in range(50)
    ]
    assert p.wraps == 1
    assert sealwire.unseal(sealed[-1], keys=p, context=CTX) == data(20, 49)
    assert sealwire.EnvelopeHeader.parse(sealed[0]).suite == "aes-256-gcm"
    # Arguments are checked as by seal.
    with pytest.raises(sealwire.ParameterError):
        cache.seal(b"x", to=[], context=CTX)
    with pytest.raises(sealwire.ParameterError):
        cache.seal(b"x", to=ring, suite="rot13")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cache.seal(b"x", to="ring")  # type: ignore[arg-type]


def test_cache_is_thread_safe() -> None:
    ring = sealwire.Keyring()
    ring.create_key("orders")
    cache = sealwire.DataKeyCache(max_messages=1000)
    results: list[list[bytes]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(200):
                results[i].append(cache.seal(data(3000, i * 1000 + j), to=ring, context=CTX))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    st = cache.stats()
    assert st.hits + st.misses == 800 and st.misses <= 4 + 1, st
    for i in range(4):
        assert sealwire.unseal(results[i][-1], keys=ring, context=CTX) == data(3000, i * 1000 + 199)


# ==================================================================== against real servers

if MISSING and not REQUIRED:
    print(
        f"\n*** SKIPPING the KMS server tests of {Path(__file__).name}: missing {', '.join(MISSING)}.\n"
        "*** Run `bash scripts/test-kms.sh`, or `bash scripts/kms-servers.sh start` and set SEALWIRE_KMS_ENV_FILE.",
        file=sys.stderr,
    )


@pytest.fixture
def servers() -> None:
    if MISSING:
        if REQUIRED:
            pytest.fail(
                f"KMS test servers are required (SEALWIRE_KMS_REQUIRED=1) but not configured: missing {', '.join(MISSING)}"
            )
        pytest.skip(f"KMS test servers not configured (missing {', '.join(MISSING)}); see scripts/kms-servers.sh")


def vault_admin(method: str, path: str, body: dict[str, Any] | None = None) -> None:
    """Raw Vault admin call (key setup the provider does not offer)."""
    req = urllib.request.Request(
        f"{S['SEALWIRE_TEST_VAULT_ADDR']}/v1/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-Vault-Token": S["SEALWIRE_TEST_VAULT_TOKEN"], "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        assert r.status < 300


def vault_key(name: str, **settings: str) -> sealwire.KmsKey:
    kw = {"vault_address": S["SEALWIRE_TEST_VAULT_ADDR"], "vault_token": S["SEALWIRE_TEST_VAULT_TOKEN"], **settings}
    return sealwire.KmsKey(f"vault://{name}", **kw)


def fresh_vault_key() -> tuple[str, sealwire.KmsKey]:
    """A new derived Transit key on the test server, and a KmsKey for it."""
    name = unique("py")
    vault_admin("POST", f"transit/keys/{name}", {"derived": True})
    return name, vault_key(name)


def aws_key(arn: str | None = None, endpoint: str | None = None, **settings: str) -> sealwire.KmsKey:
    from urllib.parse import quote

    arn = arn or S["SEALWIRE_TEST_AWS_KEY_ARN"]
    endpoint = endpoint or S["SEALWIRE_TEST_AWS_ENDPOINT"]
    kw = {
        "aws_access_key_id": S["SEALWIRE_TEST_AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"],
        **settings,
    }
    uri = f"aws-kms://{arn}?region={S['SEALWIRE_TEST_AWS_REGION']}&endpoint={quote(endpoint, safe='')}"
    return sealwire.KmsKey(uri, **kw)


def secrets() -> tuple[str, ...]:
    return tuple(
        v
        for v in (S.get("SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"), S.get("SEALWIRE_TEST_VAULT_TOKEN"))
        if v and len(v) >= 4
    )


def test_vault_round_trip(servers: None, tmp_path: Path) -> None:
    name, key = fresh_vault_key()
    pt = data(3000)
    sealed = sealwire.seal(pt, to=key, context=CTX)
    h = sealwire.EnvelopeHeader.parse(sealed)
    assert h.wrapped_keys == [("vault-transit", name, 1)]
    assert h.context == CTX
    assert len(vault_entries(sealed)) == 1
    # A separate KmsKey instance (another process would do the same) opens it.
    other = vault_key(name)
    assert sealwire.unseal(sealed, keys=other, context=CTX) == pt
    # Streams and files with a KmsKey.
    sink = io.BytesIO()
    with sealwire.EnvelopeWriter(sink, to=key, context=CTX, segment_size=1024) as w:
        w.write(pt[:1500])
        w.write(pt[1500:])
    with sealwire.EnvelopeReader(io.BytesIO(sink.getvalue()), keys=other, context=CTX) as r:
        assert r.read(10) == pt[:10] and r.read() == pt[10:]
    src = tmp_path / "v.txt"
    src.write_bytes(data(200_000))
    sealwire.seal_file(src, tmp_path / "v.swev", to=key, context=CTX, segment_size=4096)
    sealwire.unseal_file(tmp_path / "v.swev", tmp_path / "v.out", keys=other, context=CTX)
    assert (tmp_path / "v.out").read_bytes() == data(200_000)
    st = key.stats()
    assert st.failures == 0 and st.operations >= 3, st


def test_aws_round_trip(servers: None) -> None:
    key = aws_key()
    pt = data(5000, 3)
    sealed = sealwire.seal(pt, to=key, context=CTX, suite="aes256gcm")
    h = sealwire.EnvelopeHeader.parse(sealed)
    assert h.suite == "aes-256-gcm"
    assert h.wrapped_keys == [("aws-kms", S["SEALWIRE_TEST_AWS_KEY_ARN"], 0)]
    assert sealwire.unseal(sealed, keys=aws_key(), context=CTX) == pt
    # The second key cannot open an object wrapped only for the first.
    raises_code(
        lambda: sealwire.unseal(sealed, keys=aws_key(S["SEALWIRE_TEST_AWS_KEY2_ARN"]), context=CTX),
        "ERR_SEALWIRE_NO_MATCHING_KEY",
        sealwire.KeyNotAvailableError,
    )
    st = key.stats()
    assert st.failures == 0 and st.operations == 1, st  # one GenerateDataKey
    # Rewrap to the second key and back out of the first (ReEncrypt not needed: add + remove).
    k2 = aws_key(S["SEALWIRE_TEST_AWS_KEY2_ARN"])
    moved = sealwire.rewrap(sealed, keys=key, add=k2, remove=[key], context=CTX)
    assert [w[1] for w in sealwire.EnvelopeHeader.parse(moved).wrapped_keys] == [S["SEALWIRE_TEST_AWS_KEY2_ARN"]]
    assert sealwire.unseal(moved, keys=k2, context=CTX) == pt


def test_multi_kms_with_one_unreachable(servers: None) -> None:
    name, vault = fresh_vault_key()
    aws = aws_key()
    pt = data(1234, 9)
    sealed = sealwire.seal(pt, to=[vault, aws], context=CTX)
    assert [w[0] for w in sealwire.EnvelopeHeader.parse(sealed).wrapped_keys] == ["vault-transit", "aws-kms"]
    dead = f"http://127.0.0.1:{closed_port()}"
    dead_vault = vault_key(name, vault_address=dead)
    dead_aws = aws_key(endpoint=dead)
    # Entries are tried in header order: the dead Vault first (fails fast), then AWS.
    t0 = time.monotonic()
    assert sealwire.unseal(sealed, keys=[dead_vault, aws_key()], context=CTX) == pt
    assert time.monotonic() - t0 < 5
    assert dead_vault.stats().failures >= 1, dead_vault.stats()
    aws_first = sealwire.seal(pt, to=[aws, vault], context=CTX)
    assert sealwire.unseal(aws_first, keys=[dead_aws, vault_key(name)], context=CTX) == pt
    assert dead_aws.stats().failures >= 1, dead_aws.stats()
    # Both unreachable: the KMS code. Sealing needs every recipient.
    raises_code(
        lambda: sealwire.unseal(sealed, keys=[dead_vault, dead_aws], context=CTX),
        "ERR_SEALWIRE_KMS_UNAVAILABLE",
        sealwire.ProviderError,
    )
    raises_code(
        lambda: sealwire.seal(pt, to=[vault, dead_aws], context=CTX),
        "ERR_SEALWIRE_KMS_UNAVAILABLE",
        sealwire.ProviderError,
    )


def test_wrong_context_and_moved_entry(servers: None) -> None:
    _, key = fresh_vault_key()
    a = sealwire.seal(data(64, 1), to=key, context=CTX)
    b = sealwire.seal(data(64, 2), to=key, context=CTX)
    raises_code(
        lambda: sealwire.unseal(a, keys=key, context={**CTX, "tenant": "evil"}),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )
    # Same context, but b's wrapped key in a: Vault's key derivation binds it to b.
    (ea,), (eb,) = vault_entries(a), vault_entries(b)
    assert ea[1] - ea[0] == eb[1] - eb[0]
    forged = bytearray(a)
    forged[ea[0] : ea[1]] = b[eb[0] : eb[1]]
    assert bytes(forged) != a
    raises_code(
        lambda: sealwire.unseal(bytes(forged), keys=key, context=CTX),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )
    # AWS: the envelope context goes to KMS as its EncryptionContext.
    aws = aws_key()
    c = sealwire.seal(data(64, 3), to=aws, context=CTX)
    raises_code(
        lambda: sealwire.unseal(c, keys=aws, context={"tenant": "acme"}),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )
    assert sealwire.unseal(a, keys=key, context=CTX) == data(64, 1)


def test_unknown_key(servers: None) -> None:
    raises_code(
        lambda: sealwire.seal(data(10), to=vault_key(unique("no-such-key")), context=CTX),
        "ERR_SEALWIRE_KMS_KEY_NOT_FOUND",
        sealwire.ProviderError,
    )
    arn = re.sub(r"key/.*$", f"key/{uuid.uuid4()}", S["SEALWIRE_TEST_AWS_KEY_ARN"])
    raises_code(
        lambda: sealwire.seal(data(10), to=aws_key(arn), context=CTX),
        "ERR_SEALWIRE_KMS_KEY_NOT_FOUND",
        sealwire.ProviderError,
    )


def test_bad_credentials_and_no_secret_in_errors(servers: None) -> None:
    name, good = fresh_vault_key()
    bad_token = "hvs.python-bad-token-4e1c9a7b"
    bad = vault_key(name, vault_token=bad_token)
    raises_code(
        lambda: sealwire.seal(data(10), to=bad, context=CTX),
        "ERR_SEALWIRE_KMS_AUTH_FAILED",
        sealwire.ProviderError,
        secrets=(bad_token, *secrets()),
    )
    bad_secret = "python-bad-aws-secret-Wm4ZtR8vX2"
    raises_code(
        lambda: sealwire.seal(data(10), to=aws_key(aws_secret_access_key=bad_secret), context=CTX),
        "ERR_SEALWIRE_KMS_AUTH_FAILED",
        sealwire.ProviderError,
        secrets=(bad_secret, *secrets()),
    )
    raises_code(
        lambda: sealwire.seal(
            data(10), to=aws_key(aws_access_key_id="AKIANOSUCHUSER0000", aws_secret_access_key=bad_secret), context=CTX
        ),
        "ERR_SEALWIRE_KMS_AUTH_FAILED",
        sealwire.ProviderError,
        secrets=(bad_secret, *secrets()),
    )
    # Opening with a bad token: the same code (the object is fine).
    sealed = sealwire.seal(data(10), to=good, context=CTX)
    raises_code(
        lambda: sealwire.unseal(sealed, keys=bad, context=CTX),
        "ERR_SEALWIRE_KMS_AUTH_FAILED",
        sealwire.ProviderError,
        secrets=(bad_token, *secrets()),
    )
    for k in (good, bad, aws_key()):
        assert not any(s in repr(k) for s in (bad_token, *secrets()))


def test_rotation_rewrap_and_retired_versions(servers: None) -> None:
    name, vault = fresh_vault_key()
    aws = aws_key()
    pt = data(4096, 5)
    sealed = sealwire.seal(pt, to=vault, context=CTX)
    both = sealwire.rewrap(sealed, keys=vault, add=aws, context=CTX)
    assert [w[0] for w in sealwire.EnvelopeHeader.parse(both).wrapped_keys] == ["vault-transit", "aws-kms"]
    # The payload bytes are untouched.

    def tail(b: bytes) -> bytes:
        return b[sealwire.EnvelopeHeader.parse(b).header_len :]

    assert tail(both) == tail(sealed)
    assert sealwire.unseal(both, keys=aws, context=CTX) == pt
    aws_only = sealwire.rewrap(both, keys=aws, remove=[("vault-transit", name)], context=CTX)
    raises_code(
        lambda: sealwire.unseal(aws_only, keys=vault, context=CTX),
        "ERR_SEALWIRE_NO_MATCHING_KEY",
        sealwire.KeyNotAvailableError,
    )
    # Rotation: rewrap_with moves the Vault entry to version 2 (server-side rewrap).
    vault_admin("POST", f"transit/keys/{name}/rotate")
    moved = sealwire.rewrap(both, keys=vault, rewrap_with=vault, context=CTX)
    v_entry = [w for w in sealwire.EnvelopeHeader.parse(moved).wrapped_keys if w[0] == "vault-transit"]
    assert v_entry == [("vault-transit", name, 2)]
    assert b"vault:v2:" in moved
    # New objects use version 2 as well.
    assert sealwire.EnvelopeHeader.parse(sealwire.seal(b"n", to=vault, context=CTX)).wrapped_keys[0][2] == 2
    # After raising min_decryption_version, version-1 objects are retired; moved ones open.
    vault_admin("POST", f"transit/keys/{name}/config", {"min_decryption_version": 2})
    fresh = vault_key(name)
    assert sealwire.unseal(moved, keys=fresh, context=CTX) == pt
    raises_code(
        lambda: sealwire.unseal(sealed, keys=fresh, context=CTX),
        "ERR_SEALWIRE_KEY_RETIRED",
        sealwire.KeyNotAvailableError,
    )
    raises_code(
        lambda: sealwire.rewrap(sealed, keys=fresh, rewrap_with=fresh, context=CTX),
        "ERR_SEALWIRE_KEY_RETIRED",
        sealwire.KeyNotAvailableError,
    )
    # The object that kept its AWS entry still opens through AWS.
    assert sealwire.unseal(both, keys=[fresh, aws], context=CTX) == pt
    # A wrong context is refused before anything is rewrapped.
    raises_code(
        lambda: sealwire.rewrap(both, keys=aws, add=fresh, context={"tenant": "x"}),
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
    )


def test_cache_cuts_kms_calls(servers: None) -> None:
    name, vault = fresh_vault_key()
    aws = aws_key()
    cache = sealwire.DataKeyCache(max_age_seconds=300, max_messages=10_000, max_bytes=1 << 30)
    v0, a0 = vault.stats().operations, aws.stats().operations
    objs = [cache.seal(data(64, i), to=[vault, aws], context=CTX) for i in range(1000)]
    st = cache.stats()
    assert (st.hits, st.misses, st.entries) == (999, 1, 1), st
    # Vault: the key check and one data key; AWS: one Encrypt of the shared data key.
    assert 1 <= vault.stats().operations - v0 <= 2
    assert aws.stats().operations - a0 == 1
    # Without the cache every seal calls the KMS (the comparison that makes the point).
    u0 = aws.stats().operations
    for i in range(5):
        sealwire.seal(data(64, i), to=aws, context=CTX)
    assert aws.stats().operations - u0 == 5
    # Cached objects open with plain unseal, with either KMS, through new instances.
    for i in (0, 499, 999):
        assert sealwire.unseal(objs[i], keys=aws_key(), context=CTX) == data(64, i)
        assert sealwire.unseal(objs[i], keys=vault_key(name), context=CTX) == data(64, i)
    # A message limit makes a new data key per batch: one AWS call per miss.
    batch = sealwire.DataKeyCache(max_messages=100)
    b0 = aws.stats().operations
    for i in range(250):
        batch.seal(data(16, i), to=aws, context=CTX)
    assert batch.stats().misses == 3
    assert aws.stats().operations - b0 == 3


def test_threads_and_asyncio_share_kms_keys(servers: None) -> None:
    _, vault = fresh_vault_key()
    aws = aws_key()
    cache = sealwire.DataKeyCache()
    errors: list[BaseException] = []
    out: dict[int, bytes] = {}

    def work(i: int) -> None:
        try:
            out[i] = (
                cache.seal(data(32, i), to=[vault, aws], context=CTX)
                if i % 2
                else sealwire.seal(data(32, i), to=[aws, vault], context=CTX)
            )
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, sealed in out.items():
        assert sealwire.unseal(sealed, keys=[aws, vault], context=CTX) == data(32, i)

    async def main() -> list[bytes]:
        sealed = await asyncio.gather(*(sealwire.aio.seal(data(16, i), to=vault, context=CTX) for i in range(6)))
        return list(await asyncio.gather(*(sealwire.aio.unseal(s, keys=vault, context=CTX) for s in sealed)))

    assert asyncio.run(main()) == [data(16, i) for i in range(6)]
