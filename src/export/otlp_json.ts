/**
 * `ExportTraceServiceRequest` as OTLP/JSON, written as text straight from the SDK's span data:
 * no OTLP object tree for `JSON.stringify` to walk (the transformer's path). Ids are hex and
 * 64-bit times decimal strings, as the OTLP/JSON encoding asks; strings are escaped by
 * `JSON.stringify`. Checked against @opentelemetry/otlp-transformer in
 * tests/unit/otlp_encode_test.ts.
 */
import type { Attributes, AttributeValue, HrTime } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { groupSpans, isInt64, spanFlags } from "./otlp_common.ts";

const encoder = new TextEncoder();

export function encodeJsonTraces(spans: readonly ReadableSpan[]): Uint8Array<ArrayBuffer> {
  let out = '{"resourceSpans":[';
  let firstResource = true;
  for (const group of groupSpans(spans)) {
    out += `${firstResource ? "" : ","}{"resource":{"attributes":${
      attributes(group.resource.attributes)
    }},"scopeSpans":[`;
    firstResource = false;
    let firstScope = true;
    for (const { scope, spans } of group.scopes.values()) {
      out += `${firstScope ? "" : ","}{"scope":{"name":${JSON.stringify(scope.name)}${
        optionalString("version", scope.version)
      }},"spans":[`;
      firstScope = false;
      for (let i = 0; i < spans.length; i++) out += (i === 0 ? "" : ",") + span(spans[i]);
      out += `]${optionalString("schemaUrl", scope.schemaUrl)}}`;
    }
    out += `]${optionalString("schemaUrl", group.resource.schemaUrl)}}`;
  }
  return encoder.encode(`${out}]}`);
}

function span(span: ReadableSpan): string {
  const context = span.spanContext();
  const parent = span.parentSpanContext;
  let out = `{"traceId":"${context.traceId}","spanId":"${context.spanId}"` +
    optionalString("traceState", context.traceState?.serialize()) +
    (parent?.spanId ? `,"parentSpanId":"${parent.spanId}"` : "") +
    // The API's kinds start at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
    `,"name":${JSON.stringify(span.name)},"kind":${span.kind + 1}` +
    `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"` +
    `,"attributes":${attributes(span.attributes)}` +
    count("droppedAttributesCount", span.droppedAttributesCount);
  if (span.events.length > 0) {
    out += ',"events":[';
    for (let i = 0; i < span.events.length; i++) {
      const event = span.events[i];
      out += `${i === 0 ? "" : ","}{"timeUnixNano":"${nanos(event.time)}","name":${
        JSON.stringify(event.name)
      },"attributes":${attributes(event.attributes ?? {})}${
        count("droppedAttributesCount", event.droppedAttributesCount)
      }}`;
    }
    out += "]";
  }
  out += count("droppedEventsCount", span.droppedEventsCount);
  if (span.links.length > 0) {
    out += ',"links":[';
    for (let i = 0; i < span.links.length; i++) {
      const link = span.links[i];
      const linked = link.context;
      out += `${i === 0 ? "" : ","}{"traceId":"${linked.traceId}","spanId":"${linked.spanId}"${
        optionalString("traceState", linked.traceState?.serialize())
      },"attributes":${attributes(link.attributes ?? {})}${
        count("droppedAttributesCount", link.droppedAttributesCount)
      },"flags":${spanFlags(linked.traceFlags, linked.isRemote)}}`;
    }
    out += "]";
  }
  out += count("droppedLinksCount", span.droppedLinksCount);
  const { code, message } = span.status;
  out += `,"status":{${message ? `"message":${JSON.stringify(message)},` : ""}"code":${code}}`;
  return `${out},"flags":${spanFlags(context.traceFlags, parent?.isRemote)}}`;
}

function optionalString(name: string, value: string | undefined): string {
  return value ? `,"${name}":${JSON.stringify(value)}` : "";
}

function count(name: string, value: number | undefined): string {
  return value ? `,"${name}":${value}` : "";
}

/** Nanoseconds since the epoch as a decimal string, exactly (the value exceeds 2^53). */
function nanos([seconds, nanos]: HrTime): string {
  if (seconds === 0) return String(nanos);
  return `${seconds}${String(nanos).padStart(9, "0")}`;
}

function attributes(attributes: Attributes): string {
  let out = "[";
  let first = true;
  for (const key in attributes) {
    out += `${first ? "" : ","}{"key":${JSON.stringify(key)},"value":${anyValue(attributes[key])}}`;
    first = false;
  }
  return `${out}]`;
}

/**
 * Integers that fit in an int64 as intValue and other numbers as doubleValue, as the protobuf
 * encoder does; non-finite doubles as the proto3 JSON mapping spells them ("NaN", "Infinity"),
 * which JSON numbers cannot.
 */
function anyValue(value: AttributeValue | null | undefined): string {
  switch (typeof value) {
    case "string":
      return `{"stringValue":${JSON.stringify(value)}}`;
    case "boolean":
      return `{"boolValue":${value}}`;
    case "number":
      if (Number.isSafeInteger(value)) return `{"intValue":"${value}"}`;
      if (isInt64(value)) {
        return `{"intValue":"${BigInt(value)}"}`;
      }
      return Number.isFinite(value) ? `{"doubleValue":${value}}` : `{"doubleValue":"${value}"}`;
  }
  if (Array.isArray(value)) {
    return `{"arrayValue":{"values":[${value.map(anyValue).join(",")}]}}`;
  }
  return "{}";
}
