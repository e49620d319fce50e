// Hand-written (not generated): types of hygiene.js (`require('sealwire/hygiene')`). The
// OpenTelemetry types are structural, so this package does not depend on @opentelemetry/*:
// `ScrubSpanProcessor` is assignable to the SDK's `SpanProcessor`.
import { Scrubber, sizeBucket, fieldTokens } from './index'

export { Scrubber, sizeBucket, fieldTokens }
export type { ScrubberOptions, ScrubFieldLists } from './index'

/** A value of a scrubbed attribute map: the original (other fields) or the scrubbed text. */
export type ScrubbedValue = unknown

/**
 * A scrubbed copy of an attribute map (own enumerable string keys): dropped fields left out,
 * identifying values hashed (`h:` + 16 hex digits) or dropped, sizes bucketed, text redacted.
 * Numbers, booleans and bigints of other fields keep their type; arrays are scrubbed element
 * by element (an identifying array is dropped if any element is); nested plain objects are
 * walked with their own keys.
 */
export declare function scrubAttributes(
  scrubber: Scrubber,
  attributes: Readonly<Record<string, unknown>> | null | undefined,
): Record<string, ScrubbedValue>

/**
 * A scrubbed copy of a structured log record (pino, bunyan, winston `info`), or `null` when
 * sampling drops it (event name: `record.event`, else `record.name`). Symbol-keyed
 * properties are copied unchanged.
 */
export declare function scrubLogRecord<T extends object>(scrubber: Scrubber, record: T): Record<string | symbol, unknown> | null

/** The parts of an OpenTelemetry `ReadableSpan` the scrubber reads (sdk-trace-base 2.x). */
export interface ScrubbableSpan {
  readonly name: string
  readonly attributes: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes?: Readonly<Record<string, unknown>> }>
  readonly links: ReadonlyArray<{ readonly attributes?: Readonly<Record<string, unknown>> }>
  readonly status: { readonly code: number; readonly message?: string }
  readonly instrumentationScope: { readonly name: string }
  spanContext(): unknown
}

/** The scrubbed copy of an ended span (a `ReadableSpan`), or `null` when sampling drops it. */
export declare function scrubSpan<S extends ScrubbableSpan>(scrubber: Scrubber, span: S): S | null

/** The `SpanProcessor` interface of @opentelemetry/sdk-trace-base 2.x, structurally. */
export interface SpanProcessorLike {
  onStart(span: any, parentContext: any): void
  onEnd(span: any): void
  forceFlush(): Promise<void>
  shutdown(): Promise<void>
}

/**
 * An OpenTelemetry `SpanProcessor` that hands `next` (e.g. a `BatchSpanProcessor` with your
 * exporter) a scrubbed copy of every ended span: span, event and link attributes scrubbed,
 * span and event names and the status message redacted; spans whose name or
 * instrumentation scope, and events whose name, start with a sampling prefix are kept with
 * the configured probability. Register only this processor for the exporter: others on the
 * same provider see the unscrubbed span.
 */
export declare class ScrubSpanProcessor implements SpanProcessorLike {
  constructor(scrubber: Scrubber, next: SpanProcessorLike)
  onStart(span: any, parentContext: any): void
  onEnd(span: any): void
  forceFlush(): Promise<void>
  shutdown(): Promise<void>
}

/** Identifying fields (hashed or dropped), matched by token suffix. */
export declare const SCRUB_FIELDS: readonly string[]
/** Fields that may hold secrets: always dropped. */
export declare const SECRET_FIELDS: readonly string[]
/** Size fields: a number becomes its size bucket, anything else is dropped. */
export declare const SIZE_FIELDS: readonly string[]
