/**
 * A span as the OTLP decoders hand it out: flat, with ids as lowercase hex, attributes as plain
 * values, and its resource and instrumentation scope attached.
 */
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

/** OTLP span kind, without the `SPAN_KIND_` prefix. */
export type SpanKindName =
  | "UNSPECIFIED"
  | "INTERNAL"
  | "SERVER"
  | "CLIENT"
  | "PRODUCER"
  | "CONSUMER";

/** OTLP status code, without the `STATUS_CODE_` prefix. */
export type StatusCodeName = "UNSET" | "OK" | "ERROR";

/**
 * An OTLP `AnyValue`. Integers (`int_value`) become numbers when they are safe integers and bigints
 * otherwise; `bytes_value` is a Uint8Array, `kvlist_value` a nested record, and an `AnyValue` with no
 * value set (e.g. a null element of an attribute array) is null.
 */
export type AttrValue =
  | string
  | number
  | boolean
  | bigint
  | Uint8Array
  | null
  | readonly AttrValue[]
  | { readonly [key: string]: AttrValue };

export type Attributes = { readonly [key: string]: AttrValue };

export interface SpanEvent {
  readonly name: string;
  readonly timeUnixNano: bigint;
  readonly attributes: Attributes;
}

export interface SpanLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string;
  readonly attributes: Attributes;
}

export interface SpanStatus {
  readonly code: StatusCodeName;
  readonly message: string;
}

export interface InstrumentationScope {
  readonly name: string;
  readonly version: string;
}

export interface DecodedSpan {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  /** 16 lowercase hex characters, or "" for a root span. */
  readonly parentSpanId: string;
  /** W3C tracestate header value, "" when none. */
  readonly traceState: string;
  /** Low 8 bits: W3C trace flags; bits 8-9: OTLP "has is_remote" / "is_remote" of the parent. */
  readonly flags: number;
  readonly name: string;
  readonly kind: SpanKindName;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Attributes;
  readonly events: readonly SpanEvent[];
  readonly links: readonly SpanLink[];
  readonly status: SpanStatus;
  readonly resourceAttributes: Attributes;
  readonly scope: InstrumentationScope;
}

const UNKNOWN_SERVICE = "unknown_service";

/** The name of a span's service, as its resource gives it. */
export function serviceOf(span: DecodedSpan): string {
  const name = span.resourceAttributes[ATTR_SERVICE_NAME];
  return typeof name === "string" && name !== "" ? name : UNKNOWN_SERVICE;
}
