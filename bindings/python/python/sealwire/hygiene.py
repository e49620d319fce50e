"""Scrub the application's own telemetry: ``logging`` records and OpenTelemetry spans.

The rules are the core's (``sealwire::hygiene``, docs/CONFIG.md "Scrubbing rules"): one list
of identifying fields (``peer_id``, ``routing_hint``, ``message_type``, DIDs, fingerprints,
mailboxes, ... plus the configuration's ``metadata.extra_fields``) that are replaced by a
per-process keyed hash (``h:`` and 16 hex digits) or dropped; secret fields that are always
dropped; size fields that become a size bucket; identifiers inside free text replaced; and
sampling of high-frequency events. This module only walks Python's attribute maps and asks
the core about each field::

    import logging
    from sealwire.hygiene import Scrubber, ScrubFilter

    scrubber = Scrubber.from_config(open("sealwire.toml").read())   # None if scrub = false
    handler = logging.StreamHandler()
    handler.addFilter(ScrubFilter(scrubber))
    logging.getLogger().addHandler(handler)
    logging.getLogger("app").info("delivered", extra={"peer_id": did, "size": 1234})
    # -> peer_id=h:3f0c..., size=<=4KiB

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from sealwire.hygiene import ScrubSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(ScrubSpanProcessor(scrubber, BatchSpanProcessor(exporter)))

``ScrubSpanProcessor`` needs ``opentelemetry-sdk``; everything else works without it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sealwire._native import _field_lists, _field_tokens, _Scrubber, _size_bucket

_lists = _field_lists()
#: Identifying fields (dropped or hashed), matched by token suffix: ``peer_id`` also covers
#: ``remote_peer_id`` and ``peerId``.
SCRUB_FIELDS: tuple[str, ...] = tuple(_lists[0])
#: Fields that may hold secrets: always dropped.
SECRET_FIELDS: tuple[str, ...] = tuple(_lists[1])
#: Size fields: a number becomes its size bucket, anything else is dropped.
SIZE_FIELDS: tuple[str, ...] = tuple(_lists[2])

# Nested mappings and sequences are walked this deep; deeper values are scrubbed as text.
_MAX_DEPTH = 8


class _Dropped:
    __slots__ = ()


_DROP = _Dropped()


def size_bucket(n: int) -> str:
    """The size bucket of a length: ``0``, ``<=64``, ``<=256``, ``<=1KiB``, ``<=4KiB``,
    ``<=16KiB``, ``<=64KiB``, ``<=256KiB``, ``<=1MiB``, ``<=16MiB`` or ``>16MiB``."""
    return _size_bucket(n)


def field_tokens(name: str) -> list[str]:
    """The lower-case tokens a field name is matched by (``remotePeerID`` -> remote, peer, id)."""
    return _field_tokens(name)


class Scrubber:
    """The core's scrubbing rules for telemetry fields, with sampling of high-frequency events.

    ``mode``: ``"hash"`` (identifying values become a per-process keyed hash) or ``"drop"``.
    ``extra_fields``: the application's own identifying field names. ``redact_values``:
    replace identifiers found inside text values. ``sample_rate`` (0 ..= 1) and
    ``sample_prefixes``: events whose name or target starts with a prefix are kept with that
    probability. ``ParameterError`` for an unknown mode or a rate outside 0 ..= 1.
    """

    __slots__ = ("_core",)

    def __init__(
        self,
        mode: str = "hash",
        *,
        extra_fields: Iterable[str] = (),
        redact_values: bool = True,
        sample_rate: float = 1.0,
        sample_prefixes: Iterable[str] = (),
    ) -> None:
        self._core = _Scrubber(mode, list(extra_fields), redact_values, sample_rate, list(sample_prefixes))

    @classmethod
    def from_config(cls, config: object) -> Scrubber | None:
        """The scrubber of a configuration's ``[metadata]`` section (mode, extra fields,
        value redaction, sampling), or None when ``metadata.scrub`` is off. ``config``: a
        ``sealwire.SecurityConfig``, TOML / JSON text, or a mapping; ``ParameterError`` when
        it does not load."""
        core = _Scrubber.from_config(config)
        if core is None:
            return None
        self = cls.__new__(cls)
        self._core = core
        return self

    @property
    def mode(self) -> str:
        """``"hash"`` or ``"drop"``."""
        return self._core.mode

    @property
    def sample_rate(self) -> float:
        return self._core.sample_rate

    @property
    def sample_prefixes(self) -> tuple[str, ...]:
        return self._core.sample_prefixes

    def classify(self, name: str) -> str:
        """The rule for a field name: ``secret``, ``identifying``, ``size`` or ``other``."""
        return self._core.classify(name)

    def scrub(self, name: str, value: str | int | float | bool) -> str | None:
        """One field as the core scrubs it: the text to keep, or None to drop the field."""
        return self._core.scrub(name, value)

    def redact_text(self, text: str) -> str:
        """``text`` with DIDs, fingerprints and long hex / base64 / base58 runs replaced by
        their keyed hash (mode ``hash``) or ``[redacted]`` (mode ``drop``)."""
        return self._core.redact_text(text)

    def keep_event(self, name: str, target: str | None = None) -> bool:
        """Sampling: False for a sampled-out event (name or target matches a prefix)."""
        return self._core.keep_event(name, target)

    def scrub_mapping(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of an attribute map: dropped fields left out, identifying values
        hashed, sizes bucketed, text redacted. Numbers and booleans of other fields keep their
        type; sequences are scrubbed element by element (an identifying sequence is dropped if
        any element is); nested mappings are walked with their own keys."""
        return self._mapping(mapping, 0)

    def _mapping(self, mapping: Mapping[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            kept = self._value(str(key), value, depth)
            if kept is not _DROP:
                out[key] = kept
        return out

    def _value(self, name: str, value: Any, depth: int) -> Any:
        """The value to keep for one field, or ``_DROP``."""
        core = self._core
        if isinstance(value, str):
            out = core.scrub(name, value)
            return _DROP if out is None else out
        if isinstance(value, (bool, int, float)):
            if core.classify(name) == "other":
                return value
            out = core.scrub(name, value)
            return _DROP if out is None else out
        cls = core.classify(name)
        if cls == "secret":
            return _DROP
        if value is None:
            return None if cls == "other" else _DROP
        if depth < _MAX_DEPTH and isinstance(value, (list, tuple)):
            items = [self._value(name, v, depth + 1) for v in value]
            if any(v is _DROP for v in items):
                return _DROP
            return tuple(items) if isinstance(value, tuple) else items
        if depth < _MAX_DEPTH and cls == "other" and isinstance(value, Mapping):
            return self._mapping(value, depth + 1)
        # Any other object: judged by its text. An "other" object is kept as it is unless its
        # text holds an identifier (then the redacted text replaces it).
        text = str(value)
        if cls == "other":
            red = core.redact_text(text)
            return value if red == text else red
        out = core.scrub(name, text)
        return _DROP if out is None else out

    def __repr__(self) -> str:
        return repr(self._core)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_PLACEHOLDER = "[redacted]"
# Records a ScrubFilter has judged (kept: True, sampled out: False): a record that reaches
# several filtered handlers is scrubbed and sampled once.
_JUDGED: weakref.WeakKeyDictionary[logging.LogRecord, bool] = weakref.WeakKeyDictionary()


class ScrubFilter(logging.Filter):
    """A ``logging.Filter`` that scrubs records in place (add it to every handler, or to the
    logger that records are created on; a logger's filters do not see records propagated
    from child loggers).

    * Sampling: a record whose logger name starts with a sampling prefix is kept with the
      configured probability.
    * ``extra=`` attributes: scrubbed by name like ``Scrubber.scrub_mapping`` (dropped ones
      are removed from the record: with mode ``drop`` a format string naming such a field
      needs ``logging.Formatter(defaults=...)``).
    * The message: mapping ``args`` are scrubbed by name first (a dropped value is formatted
      as ``[redacted]``), then the formatted message is redacted and stored as ``msg`` (with
      ``args`` emptied), so every handler sees only the scrubbed text. Exception and stack
      text are redacted too.

    A record is judged once: further ``ScrubFilter``s (on other handlers) keep or drop it
    as the first did, without scrubbing it again.
    """

    def __init__(self, scrubber: Scrubber, name: str = "") -> None:
        super().__init__(name)
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return False
        judged = _JUDGED.get(record)
        if judged is not None:
            return judged
        s = self.scrubber
        keep = s.keep_event(record.name)
        _JUDGED[record] = keep
        if not keep:
            return False
        attrs = record.__dict__
        for key in [k for k in attrs if k not in _RECORD_ATTRS]:
            kept = s._value(key, attrs[key], 0)
            if kept is _DROP:
                del attrs[key]
            else:
                attrs[key] = kept
        args = record.args
        if isinstance(args, Mapping) and args:
            scrubbed = {k: s._value(str(k), v, 0) for k, v in args.items()}
            record.args = {k: (_PLACEHOLDER if v is _DROP else v) for k, v in scrubbed.items()}
        try:
            text = record.getMessage()
        except Exception:  # a malformed format string: keep the template and the args' text
            text = f"{record.msg} {record.args!r}" if record.args else str(record.msg)
        record.msg = s.redact_text(text)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = s.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = s.redact_text(record.stack_info)
        return True


# --- OpenTelemetry (optional) -------------------------------------------------------------

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
    from opentelemetry.sdk.trace import SpanProcessor as _ProcessorBase
else:
    try:
        from opentelemetry.sdk.trace import SpanProcessor as _ProcessorBase
    except ImportError:  # opentelemetry-sdk is optional
        _ProcessorBase = object


class ScrubSpanProcessor(_ProcessorBase):
    """An OpenTelemetry ``SpanProcessor`` that hands ``next_processor`` (for instance a
    ``BatchSpanProcessor`` with your exporter) a scrubbed copy of every ended span: span,
    event and link attributes scrubbed (``Scrubber.scrub_mapping``), span name, event names
    and status description redacted; spans whose name or instrumentation scope, and events
    whose name, start with a sampling prefix are kept with the configured probability.

    Register only this processor for the exporter: other processors on the same provider
    see the unscrubbed span. ``next_processor.on_start`` receives the live span (at start);
    it must not export from there. Resource attributes are not changed. Requires
    ``opentelemetry-sdk`` (ImportError without it).
    """

    def __init__(self, scrubber: Scrubber, next_processor: SpanProcessor) -> None:
        if _ProcessorBase is object:
            raise ImportError("ScrubSpanProcessor needs opentelemetry-sdk (pip install opentelemetry-sdk)")
        super().__init__()
        self.scrubber = scrubber
        self.next_processor = next_processor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.next_processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        scrubbed = _scrub_span(self.scrubber, span)
        if scrubbed is not None:
            self.next_processor.on_end(scrubbed)

    def shutdown(self) -> None:
        self.next_processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.next_processor.force_flush(timeout_millis)


def _bounded(attrs: dict[str, Any], dropped: int) -> Any:
    """A read-only attribute map keeping the original count of dropped attributes."""
    from opentelemetry.attributes import BoundedAttributes

    out = BoundedAttributes(maxlen=None, attributes=attrs, immutable=True)
    out.dropped = dropped
    return out


def _scrub_span(s: Scrubber, span: ReadableSpan) -> ReadableSpan | None:
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, Status

    scope = span.instrumentation_scope.name if span.instrumentation_scope is not None else None
    if not s.keep_event(span.name, scope):
        return None
    events: Sequence[Event] = [
        Event(
            s.redact_text(e.name),
            _bounded(s.scrub_mapping(e.attributes or {}), getattr(e, "dropped_attributes", 0)),
            e.timestamp,
        )
        for e in span.events
        if s.keep_event(e.name)
    ]
    links = [
        Link(link.context, _bounded(s.scrub_mapping(link.attributes or {}), link.dropped_attributes))
        for link in span.links
    ]
    status = span.status
    if status.description:
        status = Status(status.status_code, s.redact_text(status.description))
    return ReadableSpan(
        name=s.redact_text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_bounded(s.scrub_mapping(span.attributes or {}), span.dropped_attributes),
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
