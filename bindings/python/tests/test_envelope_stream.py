"""Streaming envelopes: sealwire.EnvelopeWriter / EnvelopeReader over Python file objects."""

from __future__ import annotations

import gc
import io
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import sealwire

CTX = {"bucket": "b1"}


@pytest.fixture
def ring() -> sealwire.Keyring:
    r = sealwire.Keyring()
    r.create_key("k")
    return r


def seal_stream(data: bytes, ring: sealwire.Keyring, step: int, **kw: Any) -> bytes:
    out = io.BytesIO()
    with sealwire.EnvelopeWriter(out, to=ring, context=CTX, **kw) as w:
        for i in range(0, len(data), step):
            assert w.write(data[i : i + step]) == len(data[i : i + step])
    return out.getvalue()


@pytest.mark.parametrize("segment_size", [64, 1000, 65536])
@pytest.mark.parametrize("step", [1, 63, 64, 65, 4096, 1 << 20])
def test_round_trip_any_write_and_read_sizes(ring: sealwire.Keyring, segment_size: int, step: int) -> None:
    data = os.urandom(7000 if step == 1 else 150_000)
    sealed = seal_stream(data, ring, step, segment_size=segment_size)
    # Streaming output is exactly what the one-shot API reads, and vice versa.
    assert sealwire.unseal(sealed, keys=ring, context=CTX) == data
    for source in (sealed, sealwire.seal(data, to=ring, context=CTX, segment_size=segment_size)):
        r = sealwire.EnvelopeReader(io.BytesIO(source), keys=ring, context=CTX)
        got = bytearray()
        while chunk := r.read(step):
            assert len(chunk) <= step
            got += chunk
        assert bytes(got) == data and r.is_finished
        r.close()


def test_empty_and_exact_multiple(ring: sealwire.Keyring) -> None:
    for data in (b"", bytes(128)):
        sealed = seal_stream(data, ring, 64, segment_size=64)
        assert sealed == sealed  # deterministic length
        assert sealwire.unseal(sealed, keys=ring, context=CTX) == data
        with sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX) as r:
            assert r.read() == data and r.read() == b"" and r.read(10) == b""


def test_reader_is_a_raw_io_stream(ring: sealwire.Keyring) -> None:
    lines = b"".join(b"line %d\n" % i for i in range(5000))
    sealed = sealwire.seal(lines, to=ring, context=CTX, segment_size=100)
    r = sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX)
    assert isinstance(r, io.RawIOBase) and r.readable() and not r.writable() and not r.seekable()
    assert r.header.segment_size == 100 and r.header.context == CTX
    buf = bytearray(50)
    assert r.readinto(buf) == 50 and bytes(buf) == lines[:50]
    view = memoryview(bytearray(8)).cast("B")
    assert r.readinto(view) == 8 and view.tobytes() == lines[50:58]
    assert r.read(None) == lines[58:]
    r.close()
    assert r.closed
    with pytest.raises(ValueError):
        r.read()
    with io.BufferedReader(sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX)) as b:
        assert b.readline() == b"line 0\n"
        assert list(b)[-1] == b"line 4999\n"
    raw = sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX)
    with io.TextIOWrapper(io.BufferedReader(raw), encoding="ascii") as t:
        assert t.read().splitlines()[1234] == "line 1234"


def test_writer_is_a_raw_io_stream(ring: sealwire.Keyring) -> None:
    out = io.BytesIO()
    w = sealwire.EnvelopeWriter(out, to=ring)
    assert isinstance(w, io.RawIOBase) and w.writable() and not w.readable()
    assert w.write(memoryview(b"abc")) == 3 and w.write(bytearray(b"def")) == 3
    w.writelines([b"g", b"h"])
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError):
        w.write(b"x")
    with pytest.raises(ValueError):
        w.finish()
    assert sealwire.unseal(out.getvalue(), keys=ring) == b"abcdefgh"
    assert not out.closed  # the file object is the caller's
    out2 = io.BytesIO()
    with io.BufferedWriter(sealwire.EnvelopeWriter(out2, to=ring, segment_size=64)) as b:
        b.write(b"z" * 1000)
    assert sealwire.unseal(out2.getvalue(), keys=ring) == b"z" * 1000


def test_exception_in_with_block_aborts(ring: sealwire.Keyring) -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with sealwire.EnvelopeWriter(out, to=ring, segment_size=64) as w:
            w.write(bytes(1000))
            raise RuntimeError("producer failed")
    assert w.closed
    # Only the header and the full segments went out: no final segment, so it never opens.
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.unseal(out.getvalue(), keys=ring)
    assert info.value.code == "ERR_SEALWIRE_TRUNCATED"


def test_unclosed_writer_is_aborted_with_a_warning(ring: sealwire.Keyring) -> None:
    out = io.BytesIO()
    w = sealwire.EnvelopeWriter(out, to=ring)
    w.write(b"partial")
    with pytest.warns(ResourceWarning, match="aborted"):
        del w
        gc.collect()
    with pytest.raises(sealwire.DecodeError):
        sealwire.unseal(out.getvalue(), keys=ring)


def test_explicit_abort(ring: sealwire.Keyring) -> None:
    out = io.BytesIO()
    w = sealwire.EnvelopeWriter(out, to=ring)
    w.write(b"secret draft")
    w.abort()
    assert w.closed
    w.close()  # nothing more
    with pytest.raises(sealwire.DecodeError):
        sealwire.unseal(out.getvalue(), keys=ring)


def test_never_releases_unverified_bytes(ring: sealwire.Keyring) -> None:
    data = os.urandom(64 * 6 + 10)
    sealed = bytearray(sealwire.seal(data, to=ring, segment_size=64))
    hlen = sealwire.EnvelopeHeader.parse(sealed).header_len
    sealed[hlen + 3 * 80 + 5] ^= 1  # inside segment 3
    r = sealwire.EnvelopeReader(io.BytesIO(bytes(sealed)), keys=ring)
    got = b""
    with pytest.raises(sealwire.DecryptionError) as info:
        while chunk := r.read(64):
            got += chunk
    assert info.value.code == "ERR_SEALWIRE_DECRYPTION_FAILED"
    assert got == data[: 3 * 64]
    for _ in range(2):  # sticky
        with pytest.raises(sealwire.DecryptionError):
            r.read(1)
    # A read spanning the bad segment raises rather than returning the good part short.
    r = sealwire.EnvelopeReader(io.BytesIO(bytes(sealed)), keys=ring)
    assert r.read(100) == data[:100]
    with pytest.raises(sealwire.DecryptionError):
        r.read(1000)
    with pytest.raises(sealwire.DecryptionError):
        sealwire.EnvelopeReader(io.BytesIO(bytes(sealed)), keys=ring).read()


def test_early_end_raises(ring: sealwire.Keyring) -> None:
    data = os.urandom(64 * 3 + 20)  # 3 full segments (80 bytes sealed) + a final one of 36
    sealed = sealwire.seal(data, to=ring, segment_size=64)
    hlen = sealwire.EnvelopeHeader.parse(sealed).header_len
    assert len(sealed) == hlen + 3 * 80 + 36
    # Cut at a segment boundary or inside a tag: the final segment is missing.
    for cut in (5, hlen - 1, hlen, hlen + 80, hlen + 160, hlen + 240, hlen + 250):
        with pytest.raises(sealwire.DecodeError) as info:
            sealwire.EnvelopeReader(io.BytesIO(sealed[:cut]), keys=ring).read()
        assert info.value.code == "ERR_SEALWIRE_TRUNCATED", cut
    # Cut inside the final segment: it is read as final and fails to authenticate.
    with pytest.raises(sealwire.DecryptionError):
        sealwire.EnvelopeReader(io.BytesIO(sealed[:-1]), keys=ring).read()


def test_construction_authenticates(ring: sealwire.Keyring) -> None:
    sealed = sealwire.seal(b"x", to=ring, context=CTX)
    with pytest.raises(sealwire.ContextMismatchError):
        sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring)
    with pytest.raises(sealwire.KeyNotAvailableError):
        sealwire.EnvelopeReader(io.BytesIO(sealed), keys=sealwire.Identity.generate(), context=CTX)
    with pytest.raises(sealwire.DecodeError):
        sealwire.EnvelopeReader(io.BytesIO(b"not an envelope"), keys=ring)
    with pytest.raises(sealwire.ParameterError):
        sealwire.EnvelopeWriter(io.BytesIO(), to=[])
    with pytest.raises(sealwire.ParameterError):
        sealwire.EnvelopeWriter(io.BytesIO(), to=ring, segment_size=10)
    with pytest.raises(TypeError):
        sealwire.EnvelopeWriter(io.BytesIO(), to=None)  # type: ignore[arg-type]


class Trickle(io.RawIOBase):
    """A raw file that reads at most `n` bytes per call, and accepts at most `n` per write."""

    def __init__(self, data: bytes = b"", n: int = 1) -> None:
        self.data = io.BytesIO(data)
        self.out = bytearray()
        self.n = n

    def read(self, size: int = -1, /) -> bytes:
        return self.data.read(min(size, self.n))

    def write(self, b: Any, /) -> int:
        chunk = bytes(b)[: self.n]
        self.out += chunk
        return len(chunk)


def test_short_reads_and_partial_writes(ring: sealwire.Keyring) -> None:
    data = os.urandom(3000)
    sink = Trickle(n=7)
    with sealwire.EnvelopeWriter(sink, to=ring, segment_size=100) as w:
        w.write(data)
    assert sealwire.unseal(bytes(sink.out), keys=ring) == data
    assert sealwire.EnvelopeReader(Trickle(bytes(sink.out), 1), keys=ring).read() == data

    class NoneWriter:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def write(self, b: bytes) -> None:  # like many ad-hoc file objects
            self.chunks.append(b)

    nw = NoneWriter()
    with sealwire.EnvelopeWriter(nw, to=ring) as w:
        w.write(data)
    assert sealwire.unseal(b"".join(nw.chunks), keys=ring) == data


class Failing:
    def __init__(self, after: int, exc: BaseException) -> None:
        self.left = after
        self.exc = exc
        self.data = io.BytesIO()

    def write(self, b: bytes) -> int:
        if self.left <= 0:
            raise self.exc
        self.left -= 1
        return self.data.write(b)

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            raise self.exc
        self.left -= 1
        return self.data.read(n)


def test_file_object_exceptions_are_chained(ring: sealwire.Keyring) -> None:
    boom = OSError(28, "No space left on device")
    f = Failing(3, boom)
    w = sealwire.EnvelopeWriter(f, to=ring, segment_size=64)
    with pytest.raises(sealwire.StorageError) as info:
        w.write(bytes(1000))
    assert info.value.code == "ERR_SEALWIRE_IO" and info.value.__cause__ is boom
    assert isinstance(info.value, OSError)
    with pytest.raises(sealwire.StorageError):  # sticky
        w.write(b"x")
    w.abort()

    with pytest.raises(sealwire.StorageError) as info:
        sealwire.EnvelopeWriter(Failing(0, boom), to=ring)  # the header write fails
    assert info.value.__cause__ is boom

    sealed = sealwire.seal(bytes(1000), to=ring, segment_size=64)
    src = Failing(4, ValueError("connection reset"))
    src.data = io.BytesIO(sealed)
    r = sealwire.EnvelopeReader(src, keys=ring)
    with pytest.raises(sealwire.StorageError) as info:
        r.read()
    assert isinstance(info.value.__cause__, ValueError)

    class NonBlocking:
        def read(self, n: int) -> None:
            return None

    with pytest.raises(sealwire.StorageError) as info:
        sealwire.EnvelopeReader(NonBlocking(), keys=ring)
    assert isinstance(info.value.__cause__, BlockingIOError)

    class TooMuch:
        def read(self, n: int) -> bytes:
            return bytes(n + 1)

    with pytest.raises(sealwire.StorageError) as info:
        sealwire.EnvelopeReader(TooMuch(), keys=ring)
    assert isinstance(info.value.__cause__, ValueError)

    with pytest.raises(KeyboardInterrupt):
        sealwire.EnvelopeWriter(Failing(0, KeyboardInterrupt()), to=ring)


def test_streaming_many_mib_in_constant_memory(tmp_path: Path, ring: sealwire.Keyring) -> None:
    """16 MiB through EnvelopeWriter into a file and back through EnvelopeReader: the Python
    heap never holds more than a few segments (tracemalloc peak well under 1 MiB)."""
    total, chunk = 16 * 1024 * 1024, 64 * 1024
    block = os.urandom(chunk)
    path = tmp_path / "big.swev"
    tracemalloc.start()
    try:
        with path.open("wb") as f, sealwire.EnvelopeWriter(f, to=ring, context=CTX) as w:
            for _ in range(total // chunk):
                w.write(block)
        _, peak_write = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        n = 0
        with path.open("rb") as src, sealwire.EnvelopeReader(src, keys=ring, context=CTX) as r:
            while data := r.read(chunk):
                assert data == block
                n += len(data)
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == total
    assert path.stat().st_size > total
    assert peak_write < 1024 * 1024, peak_write
    assert peak_read < 1024 * 1024, peak_read


def test_seal_file_in_constant_memory(tmp_path: Path, ring: sealwire.Keyring) -> None:
    src = tmp_path / "src.bin"
    with src.open("wb") as f:
        for _ in range(16):
            f.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        sealwire.seal_file(src, tmp_path / "s.swev", to=ring)
        sealwire.unseal_file(tmp_path / "s.swev", tmp_path / "out.bin", keys=ring)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024, peak
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


def test_read_allocates_what_is_asked_or_what_is_there(ring: sealwire.Keyring) -> None:
    """read(n) returns exactly-sized bytes; a huge n on a short stream allocates only what the
    stream holds (no MemoryError, no n-sized buffer), and errors still come after the good
    bytes, never instead of them."""
    data = os.urandom(3 * 1024 * 1024 + 123)
    sealed = seal_stream(data, ring, 1 << 20)
    for huge in (100 * 1024 * 1024, 2**40, 2**62):
        tracemalloc.start()
        try:
            with sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX) as r:
                got = r.read(huge)
                assert r.read(huge) == b"" and r.is_finished
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got == data
        assert peak < 16 * 1024 * 1024, (huge, peak)
    # Reads of every size, across segment boundaries: each result exactly as long as asked.
    with sealwire.EnvelopeReader(io.BytesIO(sealed), keys=ring, context=CTX) as r:
        pos = 0
        for size in (0, 1, 65535, 65536, 65536 + 16, 65536 + 17, 1 << 20, 3 << 20):
            chunk = r.read(size)
            assert chunk == data[pos : pos + size]
            assert len(chunk) == min(size, len(data) - pos)
            pos += len(chunk)
        assert pos == len(data) and r.read(1) == b""
    # A bad segment in the middle of a large read: the read raises, and a fresh reader
    # returns everything before the bad segment, and then raises.
    bad = bytearray(sealed)
    bad[-(2 << 20)] ^= 1
    with sealwire.EnvelopeReader(io.BytesIO(bytes(bad)), keys=ring, context=CTX) as r:
        with pytest.raises(sealwire.DecryptionError):
            r.read(200 * 1024 * 1024)
        with pytest.raises(sealwire.DecryptionError):
            r.read(1)  # sticky
    with sealwire.EnvelopeReader(io.BytesIO(bytes(bad)), keys=ring, context=CTX) as r:
        good = b""
        with pytest.raises(sealwire.DecryptionError):
            while chunk := r.read(65536):
                good += chunk
        assert 0 < len(good) < len(data) and data.startswith(good)


# Run in a fresh interpreter: a 1 GiB envelope sealed on the fly from a generator (never
# held) read back through EnvelopeReader with read(n) of many sizes and readinto; prints
# the bytes read, whether their SHA-256 matched, and the resident-set growth.
GIB_CHILD = r"""
import hashlib, json, sys
import sealwire

TOTAL = 1 << 30
BLOCK = hashlib.shake_256(b"sealwire bounded read").digest(1 << 20)
ring = sealwire.Keyring()
ring.create_key("k")


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])


class SealingSource:
    # A file object: read(n) returns the next bytes of an envelope that is sealed only as
    # far as needed, from a generator of TOTAL plaintext bytes.
    def __init__(self):
        self.pending = bytearray()
        self.plain = (BLOCK for _ in range(TOTAL // len(BLOCK)))
        self.writer = sealwire.EnvelopeWriter(self, to=ring)
        self.done = False

    def write(self, b):
        self.pending += b
        return len(b)

    def read(self, n):
        while len(self.pending) < n and not self.done:
            block = next(self.plain, None)
            if block is None:
                self.writer.close()
                self.done = True
            else:
                self.writer.write(block)
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out


r = sealwire.EnvelopeReader(SealingSource(), keys=ring)
h = hashlib.sha256()
n = 0
buf = bytearray(3 << 20)
sizes = [65536, 1 << 20, 1000, 3 << 20, 65536 + 16, 7]
first = r.read(1 << 20)
h.update(first)
n += len(first)
baseline = status("VmRSS")
i = 0
while True:
    size = sizes[i % len(sizes)]
    if i % 3 == 2:
        view = memoryview(buf)[:size]
        k = r.readinto(view)
        h.update(view[:k])
        view.release()
    else:
        chunk = r.read(size)
        k = len(chunk)
        h.update(chunk)
    if k == 0:
        break
    n += k
    i += 1
want = hashlib.sha256()
for _ in range(TOTAL // len(BLOCK)):
    want.update(BLOCK)
print(json.dumps({"n": n, "ok": h.digest() == want.digest() and r.is_finished,
                  "baseline_kib": baseline, "peak_kib": status("VmHWM")}))
"""


def test_gigabyte_stream_reads_in_bounded_memory() -> None:
    import json
    import subprocess
    import sys

    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux)")
    out = subprocess.run([sys.executable, "-c", GIB_CHILD], capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(out.stdout)
    assert result["n"] == 1 << 30 and result["ok"], result
    growth_mib = (result["peak_kib"] - result["baseline_kib"]) / 1024
    # The reads hold at most a few segments and one 3 MiB result at a time.
    assert growth_mib < 32, result
