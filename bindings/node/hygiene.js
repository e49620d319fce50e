'use strict'
// Hand-written (not generated): scrub the application's own telemetry — attribute maps, log
// records and OpenTelemetry spans — with the core's rules (docs/CONFIG.md "Scrubbing rules")
// through the native `Scrubber` (index.js). Every decision (field class, keyed hash or drop,
// size bucket, identifiers in text, sampling) is the core's; this file only walks JavaScript
// objects and asks the core about each field. Types: hygiene.d.ts. Needs no OpenTelemetry
// package: `ScrubSpanProcessor` implements the SDK's `SpanProcessor` interface structurally.

const { Scrubber, sizeBucket, fieldTokens, scrubFieldLists } = require('./index.js')

const DROP = Symbol('drop')
// Nested objects and arrays are walked this deep; deeper values are scrubbed as text.
const MAX_DEPTH = 8

const isPlainObject = (v) => {
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const textOf = (v) => {
  try {
    return String(v)
  } catch {
    return ''
  }
}

const jsonOf = (v) => {
  try {
    return JSON.stringify(v) ?? textOf(v)
  } catch {
    return textOf(v)
  }
}

/** The value to keep for one field, or DROP. */
function scrubValue(scrubber, name, value, depth) {
  const t = typeof value
  if (t === 'string') {
    const out = scrubber.scrub(name, value)
    return out === null ? DROP : out
  }
  if (t === 'number' || t === 'boolean' || t === 'bigint') {
    if (scrubber.classify(name) === 'other') return value
    const out = scrubber.scrub(name, value)
    return out === null ? DROP : out
  }
  const cls = scrubber.classify(name)
  if (cls === 'secret') return DROP
  if (value === null || value === undefined) return cls === 'other' ? value : DROP
  if (depth < MAX_DEPTH && Array.isArray(value)) {
    const items = value.map((v) => scrubValue(scrubber, name, v, depth + 1))
    return items.includes(DROP) ? DROP : items
  }
  if (cls === 'other') {
    if (depth < MAX_DEPTH && isPlainObject(value)) return scrubObject(scrubber, value, depth + 1)
    if (t === 'function' || t === 'symbol') return value
    // Any other object: kept as it is unless its text holds an identifier.
    const text = textOf(value)
    const red = scrubber.redactText(text)
    return red === text ? value : red
  }
  if (t === 'function' || t === 'symbol') return DROP
  const out = scrubber.scrub(name, isPlainObject(value) || Array.isArray(value) ? jsonOf(value) : textOf(value))
  return out === null ? DROP : out
}

function scrubObject(scrubber, obj, depth) {
  const out = {}
  for (const key of Object.keys(obj)) {
    const v = scrubValue(scrubber, key, obj[key], depth)
    if (v !== DROP) out[key] = v
  }
  return out
}

function checkScrubber(scrubber) {
  if (!(scrubber instanceof Scrubber)) {
    const err = new TypeError('expected a Scrubber')
    err.code = 'ERR_SEALWIRE_INVALID_PARAMETER'
    throw err
  }
}

/**
 * A scrubbed copy of an attribute map (own enumerable string keys): dropped fields left out,
 * identifying values hashed, sizes bucketed, text redacted. Numbers, booleans and bigints of
 * other fields keep their type; arrays are scrubbed element by element (an identifying array
 * is dropped if any element is); nested plain objects are walked with their own keys.
 */
function scrubAttributes(scrubber, attributes) {
  checkScrubber(scrubber)
  return attributes == null ? {} : scrubObject(scrubber, attributes, 0)
}

/**
 * A scrubbed copy of a structured log record (pino, bunyan, winston `info`, console
 * objects), or `null` when sampling drops it: its event name is `record.event` or, failing
 * that, `record.name` (the logger name in pino and bunyan). Fields are scrubbed as by
 * `scrubAttributes` (the message fields `msg` / `message` are text: identifiers redacted);
 * symbol-keyed properties (winston's LEVEL, MESSAGE, SPLAT) are copied unchanged, so put the
 * scrubbing format before the one that renders the final message.
 */
function scrubLogRecord(scrubber, record) {
  checkScrubber(scrubber)
  if (record == null) return record
  const event = record.event ?? record.name
  if (!scrubber.keepEvent(typeof event === 'string' ? event : '')) return null
  const out = scrubObject(scrubber, record, 0)
  for (const sym of Object.getOwnPropertySymbols(record)) out[sym] = record[sym]
  return out
}

/**
 * The scrubbed copy of an ended span that `ScrubSpanProcessor` hands on (a `ReadableSpan`),
 * or `null` when sampling drops it.
 */
function scrubSpan(scrubber, span) {
  checkScrubber(scrubber)
  const scope = span.instrumentationScope?.name
  if (!scrubber.keepEvent(span.name, scope)) return null
  const redact = (s) => (typeof s === 'string' ? scrubber.redactText(s) : s)
  const status = span.status?.message ? { ...span.status, message: redact(span.status.message) } : span.status
  return {
    name: redact(span.name),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status,
    attributes: scrubAttributes(scrubber, span.attributes),
    links: (span.links ?? []).map((l) => ({ ...l, attributes: scrubAttributes(scrubber, l.attributes) })),
    events: (span.events ?? [])
      .filter((e) => scrubber.keepEvent(e.name))
      .map((e) => ({ ...e, name: redact(e.name), attributes: scrubAttributes(scrubber, e.attributes) })),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  }
}

/**
 * An OpenTelemetry `SpanProcessor` (the interface of @opentelemetry/sdk-trace-base 2.x) that
 * hands `next` (for instance a `BatchSpanProcessor` with your exporter) a scrubbed copy of
 * every ended span: span, event and link attributes scrubbed, span and event names and the
 * status message redacted; spans whose name or instrumentation scope, and events whose
 * name, start with a sampling prefix are kept with the configured probability.
 *
 * Register only this processor for the exporter: other processors on the same provider see
 * the unscrubbed span. `next.onStart` receives the live span (at start; it must not export
 * from there). Resource attributes are not changed.
 */
class ScrubSpanProcessor {
  #scrubber
  #next

  constructor(scrubber, next) {
    checkScrubber(scrubber)
    if (next == null || typeof next.onEnd !== 'function') {
      throw new TypeError('next must be a SpanProcessor')
    }
    this.#scrubber = scrubber
    this.#next = next
  }

  onStart(span, parentContext) {
    this.#next.onStart(span, parentContext)
  }

  onEnd(span) {
    const scrubbed = scrubSpan(this.#scrubber, span)
    if (scrubbed !== null) this.#next.onEnd(scrubbed)
  }

  forceFlush() {
    return this.#next.forceFlush()
  }

  shutdown() {
    return this.#next.shutdown()
  }
}

const lists = scrubFieldLists()
const SCRUB_FIELDS = Object.freeze(lists.scrub)
const SECRET_FIELDS = Object.freeze(lists.secret)
const SIZE_FIELDS = Object.freeze(lists.size)

// Shorthand properties only: Node's ESM loader finds the names of a CommonJS module's
// exports in this literal (`import { scrubLogRecord } from 'sealwire/hygiene'`).

module.exports = {
  Scrubber,
  ScrubSpanProcessor,
  scrubAttributes,
  scrubLogRecord,
  scrubSpan,
  sizeBucket,
  fieldTokens,
  SCRUB_FIELDS,
  SECRET_FIELDS,
  SIZE_FIELDS,
}
