"""sealwire.hygiene: the core's scrubbing rules through Python's logging and the real
OpenTelemetry SDK (in-memory exporter), and tests/vectors/config/scrub.json replayed."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import VECTORS_DIR
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import sealwire
from sealwire import _native
from sealwire.hygiene import (
    SCRUB_FIELDS,
    SECRET_FIELDS,
    SIZE_FIELDS,
    ScrubFilter,
    Scrubber,
    ScrubSpanProcessor,
    field_tokens,
    size_bucket,
)

DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
PUBKEY_HEX = "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"
TOKEN = re.compile(r"h:[0-9a-f]{16}")

with (VECTORS_DIR / "config" / "scrub.json").open(encoding="utf-8") as _f:
    SCRUB: dict[str, Any] = json.load(_f)
KEY = bytes.fromhex(SCRUB["key_hex"])


def _token_with_key(key: bytes, value: str | bytes) -> str:
    return _native._token_with_key(key, value)


def is_token(v: object) -> bool:
    return isinstance(v, str) and TOKEN.fullmatch(v) is not None


# --- scrub.json ------------------------------------------------------------------------------


def normalize(out: str, text: str) -> str:
    """Map every per-process token in ``out`` back to the fixed-key token of the same input
    (a substring of ``text``): the process key is random, the reference's is bytes 0..31.
    Each process token must come from some substring, or the output is wrong."""
    probe = Scrubber("hash")
    found: dict[str, str] = {}
    for tok in set(TOKEN.findall(out)):
        for i in range(len(text)):
            for j in range(i + 1, len(text) + 1):
                if probe.scrub("peer_id", text[i:j]) == tok:
                    found[tok] = _token_with_key(KEY, text[i:j])
                    break
            if tok in found:
                break
        assert tok in found, f"{tok} is the token of no part of {text!r}"
    for tok, fixed in found.items():
        out = out.replace(tok, fixed)
    return out


def test_vector_lists_tokens_classes_hashes_and_buckets() -> None:
    assert list(SCRUB_FIELDS) == SCRUB["scrub_fields"]
    assert list(SECRET_FIELDS) == SCRUB["secret_fields"]
    assert list(SIZE_FIELDS) == SCRUB["size_fields"]
    for c in SCRUB["tokens"]:
        assert field_tokens(c["name"]) == c["tokens"], c
    for c in SCRUB["classify"]:
        s = Scrubber(extra_fields=c.get("extra", []))
        assert s.classify(c["name"]) == c["class"], c
    assert len(SCRUB["hash"]) >= 4
    for c in SCRUB["hash"]:
        assert _token_with_key(KEY, c["value"]) == c["token"], c
        assert _token_with_key(KEY, c["value"].encode()) == c["token"], c
    for c in SCRUB["size_buckets"]:
        assert size_bucket(c["len"]) == c["bucket"], c


def test_vector_redact_and_scrub_byte_for_byte() -> None:
    n = 0
    for c in SCRUB["redact"]:
        got = Scrubber(c["mode"]).redact_text(c["text"])
        assert normalize(got, c["text"]) == c["out"], c
        n += 1
    for c in SCRUB["scrub"]:
        out = Scrubber(c["mode"]).scrub(c["name"], c["value"])
        assert (None if out is None else normalize(out, c["value"])) == c["out"], c
        n += 1
    assert n >= 30


def test_token_with_key_checks_the_key() -> None:
    with pytest.raises(sealwire.ParameterError):
        _token_with_key(b"short", "x")


# --- Scrubber ------------------------------------------------------------------------------


def test_scrub_follows_the_core_rules() -> None:
    h = Scrubber()
    t = h.scrub("peer_id", DID)
    assert is_token(t)
    # One process key: the same value gives the same token in any field; not the fixed key's.
    assert h.scrub("remotePeerId", DID) == t == Scrubber().scrub("sender", DID)
    assert t != _token_with_key(KEY, DID)
    assert Scrubber("drop").scrub("peer_id", DID) is None
    assert h.scrub("api_key", "sk-1") is None and h.scrub("password", 5) is None
    assert h.scrub("payload_size", 1234) == "<=4KiB"
    assert h.scrub("payload_size", 1234.0) == "<=4KiB"
    assert h.scrub("len", "70000") == "<=256KiB"
    assert h.scrub("size", "large") is None
    assert h.scrub("prekey_id", 7) == h.scrub("prekey_id", "7")
    assert h.scrub("flag", True) == "true"
    assert h.scrub("count", -3) == "-3"
    assert h.scrub("count", 2**70) == str(2**70)
    with pytest.raises(TypeError):
        h.scrub("count", [1])  # type: ignore[arg-type]
    assert Scrubber(redact_values=False).scrub("message", f"to {DID}") == f"to {DID}"


def test_constructor_and_config_errors() -> None:
    with pytest.raises(sealwire.ParameterError):
        Scrubber("sha1")
    for rate in (1.5, -0.1, float("nan")):
        with pytest.raises(sealwire.ParameterError):
            Scrubber(sample_rate=rate)
    with pytest.raises(sealwire.ParameterError):
        Scrubber.from_config("version = 1\n[metadata]\nmode = \"rot13\"\n")
    with pytest.raises(sealwire.ParameterError):
        Scrubber.from_config("version = 1\n[metadata]\nscrub = false\n")  # not allowed


CONFIG = """version = 1
[metadata]
mode = "drop"
extra_fields = ["tenant"]
[metadata.sampling]
rate = 0.5
events = ["app.hot"]
"""


def test_from_config_text_object_and_off() -> None:
    for src in (CONFIG, sealwire.SecurityConfig.load(CONFIG)):
        s = Scrubber.from_config(src)
        assert s is not None
        assert (s.mode, s.sample_rate, s.sample_prefixes) == ("drop", 0.5, ("app.hot",))
        assert s.classify("orgTenant") == "identifying"
        assert s.scrub("tenant", "acme") is None
    d = Scrubber.from_config("version = 1\n")
    assert d is not None and d.mode == "hash" and d.sample_rate == 1.0
    assert d.classify("tenant") == "other"
    off = "version = 1\n[metadata]\nscrub = false\n[overrides]\nallow_no_scrubbing = true\n"
    assert Scrubber.from_config(off) is None


def test_scrub_mapping_keeps_types_and_walks_nested_values() -> None:
    s = Scrubber(extra_fields=["tenant"])
    out = s.scrub_mapping(
        {
            "peer_id": DID,
            "tenant": "acme",
            "api_key": "sk-1",
            "payload_size": 1234,
            "count": 3,
            "ratio": 0.5,
            "ok": True,
            "note": None,
            "recipient": [DID, "bob"],
            "chunk_len": (10, 100),
            "tags": ["a", f"x {DID}"],
            "ctx": {"sender_id": "bob", "depth": 2},
            "obj": Exception(f"failed for {DID}"),
            "plain": Exception("plain"),
        }
    )
    tok = s.scrub("peer_id", DID)
    assert out["peer_id"] == tok and is_token(out["tenant"])
    assert "api_key" not in out
    assert out["payload_size"] == "<=4KiB"
    assert out["count"] == 3 and out["ratio"] == 0.5 and out["ok"] is True and out["note"] is None
    assert out["recipient"] == [tok, s.scrub("recipient", "bob")]
    assert out["chunk_len"] == ("<=64", "<=256")
    assert out["tags"] == ["a", f"x {tok}"]
    assert out["ctx"] == {"sender_id": s.scrub("sender_id", "bob"), "depth": 2}
    assert out["obj"] == f"failed for {tok}"
    assert isinstance(out["plain"], Exception)
    d = Scrubber("drop").scrub_mapping({"sender": ["bob", DID], "peer": None, "n": 1})
    assert d == {"n": 1}


# --- OpenTelemetry -------------------------------------------------------------------------


def pipeline(scrubber: Scrubber) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ScrubSpanProcessor(scrubber, SimpleSpanProcessor(exporter)))
    return provider, exporter


def all_text(span: ReadableSpan) -> str:
    return str(span.to_json())


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_spans_are_exported_scrubbed(mode: str) -> None:
    s = Scrubber(mode, extra_fields=["tenant"])
    provider, exporter = pipeline(s)
    tracer = provider.get_tracer("app.messaging")
    with tracer.start_as_current_span(f"deliver to {DID}") as span:
        span.set_attribute("peer_id", DID)
        span.set_attribute("routing_hint", "rh-7f3a9")
        span.set_attribute("message_type", "invoice")
        span.set_attribute("tenant", "acme-corp")
        span.set_attribute("payload_size", 123456)
        span.set_attribute("api_key", "sk-live-1")
        span.set_attribute("http.method", "GET")
        span.set_attribute("retry_count", 3)
        span.set_attribute("cached", True)
        span.set_attribute("note", f"key {PUBKEY_HEX}")
        span.add_event("sent", {"sealwire.peer_id": DID, "bytes": 70000, "attempt": 2})
        span.set_status(Status(StatusCode.ERROR, f"peer {DID} unreachable"))
    provider.shutdown()
    (got,) = exporter.get_finished_spans()
    text = all_text(got)
    for secret in (DID, "z6Mk", "rh-7f3a9", "invoice", "acme-corp", "123456", "sk-live-1", PUBKEY_HEX, "70000"):
        assert secret not in text, secret
    a = dict(got.attributes or {})
    assert a["http.method"] == "GET" and a["retry_count"] == 3 and a["cached"] is True
    assert a["payload_size"] == "<=256KiB"
    assert "api_key" not in a
    (event,) = got.events
    ea = dict(event.attributes or {})
    assert ea["bytes"] == "<=256KiB" and ea["attempt"] == 2
    if mode == "hash":
        tok = s.scrub("peer_id", DID)
        assert a["peer_id"] == tok and ea["sealwire.peer_id"] == tok
        assert a["routing_hint"] == s.scrub("routing_hint", "rh-7f3a9")
        assert is_token(a["message_type"]) and is_token(a["tenant"])
        assert got.name == f"deliver to {tok}"
        assert got.status.description == f"peer {tok} unreachable"
        assert a["note"] == f"key {s.redact_text(PUBKEY_HEX)}" and is_token(s.redact_text(PUBKEY_HEX))
    else:
        for k in ("peer_id", "routing_hint", "message_type", "tenant"):
            assert k not in a
        assert "sealwire.peer_id" not in ea
        assert got.name == "deliver to [redacted]"
        assert a["note"] == "key [redacted]"
    # The trace context survives the copy.
    assert got.context is not None and got.context.trace_id != 0
    assert got.instrumentation_scope is not None and got.instrumentation_scope.name == "app.messaging"


def test_span_sampling_keeps_the_configured_fraction() -> None:
    n, rate = 20_000, 0.25
    provider, exporter = pipeline(Scrubber(sample_rate=rate, sample_prefixes=["app.hot"]))
    tracer = provider.get_tracer("app")
    for _ in range(n):
        tracer.start_span("app.hot.tick").end()
    for _ in range(500):
        tracer.start_span("app.cold").end()
    names = [sp.name for sp in exporter.get_finished_spans()]
    hot = names.count("app.hot.tick")
    # Binomial(20000, 0.25): mean 5000, sd ~61; +-400 is 6.5 sd.
    assert abs(hot - n * rate) <= 400, hot
    assert names.count("app.cold") == 500


def test_sampling_rate_one_keeps_all_and_zero_none() -> None:
    provider, exporter = pipeline(Scrubber(sample_rate=1.0, sample_prefixes=["app.hot"]))
    tracer = provider.get_tracer("app")
    for _ in range(2000):
        tracer.start_span("app.hot.tick").end()
    assert len(exporter.get_finished_spans()) == 2000
    # By instrumentation scope, and events by name.
    provider, exporter = pipeline(Scrubber(sample_rate=0.0, sample_prefixes=["app.hot"]))
    for _ in range(50):
        provider.get_tracer("app.hot.module").start_span("work").end()
    with provider.get_tracer("app").start_as_current_span("request") as span:
        for _ in range(20):
            span.add_event("app.hot.retry")
        span.add_event("done")
    (got,) = exporter.get_finished_spans()
    assert got.name == "request" and [e.name for e in got.events] == ["done"]
    s = Scrubber(sample_rate=0.0, sample_prefixes=["app.hot"])
    assert not s.keep_event("x", "app.hot.y") and s.keep_event("x", "app.cold")


def test_processor_forwards_flush_and_shutdown() -> None:
    class Recorder(SimpleSpanProcessor):
        calls: list[str] = []

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            self.calls.append(f"flush {timeout_millis}")
            return False

        def shutdown(self) -> None:
            self.calls.append("shutdown")

    rec = Recorder(InMemorySpanExporter())
    p = ScrubSpanProcessor(Scrubber(), rec)
    assert p.force_flush(123) is False
    p.shutdown()
    assert rec.calls == ["flush 123", "shutdown"]


# --- logging -------------------------------------------------------------------------------


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]]:
    logger = logging.getLogger("sealwire-test.hygiene")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    records: list[logging.LogRecord] = []
    yield logger, stream, records
    logger.handlers.clear()


def attach(logger: logging.Logger, stream: io.StringIO, records: list[logging.LogRecord], s: Scrubber) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(message)s | %(peer_id)s %(size)s", defaults={"peer_id": "-", "size": "-"})
    )
    handler.addFilter(ScrubFilter(s))

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(handler)
    logger.addHandler(Keep())


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_logging_filter_scrubs_extras_message_and_exception(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]], mode: str
) -> None:
    logger, stream, records = log
    s = Scrubber(mode, extra_fields=["tenant"])
    attach(logger, stream, records, s)
    logger.info(
        "handshake with %s, static key %s",
        DID,
        PUBKEY_HEX,
        extra={"peer_id": "alice", "size": 1234, "tenant": "acme-corp", "request_id": 42},
    )
    logger.warning("to %(recipient)s (%(n)d)", {"recipient": "bob", "n": 3})
    try:
        raise RuntimeError(f"no session with {DID}")
    except RuntimeError:
        logger.exception("failed")
    out = stream.getvalue()
    for secret in (DID, "z6Mk", PUBKEY_HEX, "alice", "acme-corp", "1234", "bob"):
        assert secret not in out, (secret, out)
    first, second = records[0], records[1]
    assert first.args == () and first.__dict__["request_id"] == 42
    assert first.__dict__["size"] == "<=4KiB"
    if mode == "hash":
        line = out.splitlines()[0]
        assert line == (
            f"INFO handshake with {s.redact_text(DID)}, static key {s.redact_text(PUBKEY_HEX)}"
            f" | {s.scrub('peer_id', 'alice')} <=4KiB"
        )
        assert is_token(first.__dict__["tenant"])
        assert second.getMessage() == f"to {s.scrub('recipient', 'bob')} (3)"
        assert f"no session with {s.redact_text(DID)}" in out
    else:
        assert "peer_id" not in first.__dict__ and "tenant" not in first.__dict__
        assert out.splitlines()[0] == "INFO handshake with [redacted], static key [redacted] | - <=4KiB"
        assert second.getMessage() == "to [redacted] (3)"
        assert "no session with [redacted]" in out


def test_logging_filter_samples_by_logger_name(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = log
    attach(logger, stream, records, Scrubber(sample_rate=0.25, sample_prefixes=["sealwire-test.hygiene"]))
    n = 20_000
    for i in range(n):
        logger.debug("tick %d", i)
    kept = len(stream.getvalue().splitlines())
    assert abs(kept - n * 0.25) <= 400, kept
    # The filter sits on the stream handler only: the other handler saw every record.
    assert len(records) == n
    cold = logging.getLogger("sealwire-test.cold")
    cold.propagate = False
    cold_stream = io.StringIO()
    handler = logging.StreamHandler(cold_stream)
    handler.addFilter(ScrubFilter(Scrubber(sample_rate=0.0, sample_prefixes=["sealwire-test.hygiene"])))
    cold.addHandler(handler)
    try:
        for _ in range(100):
            cold.warning("kept")
    finally:
        cold.removeHandler(handler)
    assert len(cold_stream.getvalue().splitlines()) == 100


def test_a_record_is_scrubbed_once_for_every_handler(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = log
    s = Scrubber(sample_rate=0.5, sample_prefixes=["sealwire-test"])
    second = io.StringIO()
    attach(logger, stream, records, s)
    attach(logger, second, [], s)
    for _ in range(200):
        logger.info("to %s", DID, extra={"peer_id": "alice"})
    a, b = stream.getvalue(), second.getvalue()
    # Same records kept, same (single) scrubbing: the token of the value, not of a token.
    assert a == b and 0 < len(a.splitlines()) < 200
    assert a.splitlines()[0] == f"INFO to {s.redact_text(DID)} | {s.scrub('peer_id', 'alice')} -"


def test_works_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from sealwire.hygiene import Scrubber, ScrubSpanProcessor, ScrubFilter\n"
        "s = Scrubber('drop'); assert s.scrub('peer_id', 'x') is None\n"
        "try:\n    ScrubSpanProcessor(s, None)\nexcept ImportError as e:\n    print('ImportError', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("ImportError ScrubSpanProcessor needs opentelemetry-sdk"), out
