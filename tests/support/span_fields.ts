/**
 * One plain shape for a span, built both from what the SDK recorded (ReadableSpan) and from what
 * the Collector decoded and wrote (OTLP/JSON), so a test compares every field with one deepEqual.
 * Attribute values keep their OTLP type: a JS number is an `int` when it is an integer (as the
 * OTLP transformer encodes it), else a `double`.
 */
import type { AttributeValue, HrTime, Link, SpanContext } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { OtlpJsonAnyValue, OtlpJsonKeyValue, WrittenSpan } from "./collector.ts";

export type TypedValue =
  | { readonly string: string }
  | { readonly int: string }
  | { readonly double: number }
  | { readonly bool: boolean }
  | { readonly array: readonly TypedValue[] };

export type TypedAttributes = Readonly<Record<string, TypedValue>>;

export interface SpanFields {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly flags: number;
  readonly name: string;
  /** OTLP's numbering: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: TypedAttributes;
  readonly droppedAttributesCount: number;
  readonly events: readonly {
    readonly timeUnixNano: string;
    readonly name: string;
    readonly attributes: TypedAttributes;
    readonly droppedAttributesCount: number;
  }[];
  readonly droppedEventsCount: number;
  readonly links: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly traceState: string;
    readonly flags: number;
    readonly attributes: TypedAttributes;
    readonly droppedAttributesCount: number;
  }[];
  readonly droppedLinksCount: number;
  readonly status: { readonly code: number; readonly message: string };
  readonly resource: TypedAttributes;
  readonly scope: { readonly name: string; readonly version: string };
}

/** OTLP SpanFlags bits 8 and 9: whether the parent's remoteness is known, and that it is remote. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

function flagsOf(context: SpanContext, parent: SpanContext | undefined): number {
  return (context.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0);
}

function nanos([seconds, nanoseconds]: HrTime): string {
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
}

function typed(value: AttributeValue): TypedValue {
  if (Array.isArray(value)) {
    return { array: value.map((item) => typed(item as AttributeValue)) };
  }
  switch (typeof value) {
    case "string":
      return { string: value };
    case "boolean":
      return { bool: value };
    case "number":
      return Number.isInteger(value) ? { int: String(value) } : { double: value };
  }
  throw new Error(`no OTLP type for attribute value ${String(value)}`);
}

function typedAttributes(attributes: Readonly<Record<string, AttributeValue | undefined>>) {
  const entries = Object.entries(attributes).flatMap(([key, value]) =>
    value === undefined ? [] : [[key, typed(value)] as const]
  );
  return Object.fromEntries(entries.sort(([a], [b]) => a < b ? -1 : 1));
}

/** What the SDK recorded, as an OTLP exporter should send it. */
export function recordedFields(span: ReadableSpan): SpanFields {
  const context = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: parent?.spanId ?? "",
    traceState: context.traceState?.serialize() ?? "",
    flags: flagsOf(context, parent),
    name: span.name,
    kind: span.kind + 1,
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: typedAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((event) => ({
      timeUnixNano: nanos(event.time),
      name: event.name,
      attributes: typedAttributes(event.attributes ?? {}),
      droppedAttributesCount: event.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map((link: Link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      traceState: link.context.traceState?.serialize() ?? "",
      flags: flagsOf(link.context, link.context),
      attributes: typedAttributes(link.attributes ?? {}),
      droppedAttributesCount: link.droppedAttributesCount ?? 0,
    })),
    droppedLinksCount: span.droppedLinksCount,
    status: { code: span.status.code, message: span.status.message ?? "" },
    resource: typedAttributes(span.resource.attributes),
    scope: {
      name: span.instrumentationScope.name,
      version: span.instrumentationScope.version ?? "",
    },
  };
}

function decodedValue(value: OtlpJsonAnyValue): TypedValue {
  if (value.stringValue !== undefined) return { string: value.stringValue };
  if (value.boolValue !== undefined) return { bool: value.boolValue };
  if (value.intValue !== undefined) return { int: String(value.intValue) };
  if (value.doubleValue !== undefined) return { double: value.doubleValue };
  if (value.arrayValue !== undefined) {
    return { array: (value.arrayValue.values ?? []).map(decodedValue) };
  }
  throw new Error(`an attribute value of a type tracegate never sends: ${JSON.stringify(value)}`);
}

function decodedAttributes(attributes: readonly OtlpJsonKeyValue[] | undefined) {
  const entries = (attributes ?? []).map(({ key, value }) => [key, decodedValue(value)] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => a < b ? -1 : 1));
}

/** What the Collector decoded and wrote. */
export function writtenFields({ span, resource, scope }: WrittenSpan): SpanFields {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId ?? "",
    traceState: span.traceState ?? "",
    flags: span.flags ?? 0,
    name: span.name,
    kind: span.kind ?? 0,
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano,
    attributes: decodedAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount ?? 0,
    events: (span.events ?? []).map((event) => ({
      timeUnixNano: event.timeUnixNano,
      name: event.name,
      attributes: decodedAttributes(event.attributes),
      droppedAttributesCount: event.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: span.droppedEventsCount ?? 0,
    links: (span.links ?? []).map((link) => ({
      traceId: link.traceId,
      spanId: link.spanId,
      traceState: link.traceState ?? "",
      flags: link.flags ?? 0,
      attributes: decodedAttributes(link.attributes),
      droppedAttributesCount: link.droppedAttributesCount ?? 0,
    })),
    droppedLinksCount: span.droppedLinksCount ?? 0,
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
    resource: decodedAttributes(resource),
    scope,
  };
}
