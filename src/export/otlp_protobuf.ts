/**
 * `ExportTraceServiceRequest` in binary protobuf, written straight from the SDK's span data into
 * one reused buffer: no OTLP object tree in between (that tree, then its serialisation, was most of
 * the export cost per span). Field numbers are those of opentelemetry/proto
 * {collector/trace,trace,common,resource}/v1/*.proto. Fields at their proto3 default (0, "") are
 * left out, as protobuf does; AnyValue's oneof is always written since its presence is its meaning.
 * Checked field by field against @opentelemetry/otlp-transformer in tests/unit/otlp_encode_test.ts.
 */
import type { Attributes, AttributeValue, HrTime } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import {
  ProtoWriter,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  writeHrTime,
} from "./proto_writer.ts";
import { groupSpans, isInt64, spanFlags } from "./otlp_common.ts";

/** Encodes batches; keep one per exporter so its buffer is reused. */
export class ProtobufTraceEncoder {
  readonly #writer = new ProtoWriter();

  encode(spans: readonly ReadableSpan[]): Uint8Array<ArrayBuffer> {
    const w = this.#writer;
    w.reset();
    for (const group of groupSpans(spans)) {
      w.tag(1, WIRE_LEN); // ExportTraceServiceRequest.resource_spans
      const resourceSpans = w.begin();
      w.tag(1, WIRE_LEN); // ResourceSpans.resource
      const resource = w.begin();
      writeAttributes(w, 1, group.resource.attributes);
      w.end(resource);
      for (const { scope, spans } of group.scopes.values()) {
        w.tag(2, WIRE_LEN); // ResourceSpans.scope_spans
        const scopeSpans = w.begin();
        w.tag(1, WIRE_LEN); // ScopeSpans.scope
        const scopeStart = w.begin();
        writeString(w, 1, scope.name);
        writeString(w, 2, scope.version);
        w.end(scopeStart);
        for (const span of spans) writeSpan(w, span);
        writeString(w, 3, scope.schemaUrl);
        w.end(scopeSpans);
      }
      writeString(w, 3, group.resource.schemaUrl);
      w.end(resourceSpans);
    }
    return w.finish();
  }
}

function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.tag(2, WIRE_LEN); // ScopeSpans.spans
  const start = w.begin();
  const context = span.spanContext();
  w.tag(1, WIRE_LEN);
  w.hexBytes(context.traceId);
  w.tag(2, WIRE_LEN);
  w.hexBytes(context.spanId);
  writeString(w, 3, context.traceState?.serialize());
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, WIRE_LEN);
    w.hexBytes(parent.spanId);
  }
  writeString(w, 5, span.name);
  // The API's kinds start at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
  w.tag(6, WIRE_VARINT);
  w.varint(span.kind + 1);
  writeTime(w, 7, span.startTime);
  writeTime(w, 8, span.endTime);
  writeAttributes(w, 9, span.attributes);
  writeCount(w, 10, span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, WIRE_LEN);
    const eventStart = w.begin();
    writeTime(w, 1, event.time);
    writeString(w, 2, event.name);
    if (event.attributes) writeAttributes(w, 3, event.attributes);
    writeCount(w, 4, event.droppedAttributesCount);
    w.end(eventStart);
  }
  writeCount(w, 12, span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, WIRE_LEN);
    const linkStart = w.begin();
    const linked = link.context;
    w.tag(1, WIRE_LEN);
    w.hexBytes(linked.traceId);
    w.tag(2, WIRE_LEN);
    w.hexBytes(linked.spanId);
    writeString(w, 3, linked.traceState?.serialize());
    if (link.attributes) writeAttributes(w, 4, link.attributes);
    writeCount(w, 5, link.droppedAttributesCount);
    w.tag(6, WIRE_FIXED32);
    w.fixed32(spanFlags(linked.traceFlags, linked.isRemote));
    w.end(linkStart);
  }
  writeCount(w, 14, span.droppedLinksCount);
  const { code, message } = span.status;
  if (code !== 0 || message) {
    w.tag(15, WIRE_LEN);
    const status = w.begin();
    writeString(w, 2, message);
    writeCount(w, 3, code);
    w.end(status);
  }
  w.tag(16, WIRE_FIXED32);
  w.fixed32(spanFlags(context.traceFlags, parent?.isRemote));
  w.end(start);
}

function writeString(w: ProtoWriter, field: number, value: string | undefined): void {
  if (!value) return;
  w.tag(field, WIRE_LEN);
  w.string(value);
}

function writeCount(w: ProtoWriter, field: number, value: number | undefined): void {
  if (!value) return;
  w.tag(field, WIRE_VARINT);
  w.varint(value);
}

function writeTime(w: ProtoWriter, field: number, time: HrTime): void {
  w.tag(field, WIRE_FIXED64);
  writeHrTime(w, time[0], time[1]);
}

function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    w.tag(field, WIRE_LEN);
    const keyValue = w.begin();
    writeString(w, 1, key);
    w.tag(2, WIRE_LEN);
    const value = w.begin();
    writeAnyValue(w, attributes[key]);
    w.end(value);
    w.end(keyValue);
  }
}

/**
 * An AnyValue's content. Integers go as int_value when they fit in an int64 and the rest of the
 * numbers as double_value, as the transformer does; a null element of an array is an empty
 * AnyValue.
 */
function writeAnyValue(w: ProtoWriter, value: AttributeValue | null | undefined): void {
  switch (typeof value) {
    case "string":
      w.tag(1, WIRE_LEN);
      w.string(value);
      return;
    case "boolean":
      w.tag(2, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    case "number":
      if (isInt64(value)) {
        w.tag(3, WIRE_VARINT);
        w.varint(value);
      } else {
        w.tag(4, WIRE_FIXED64);
        w.double(value);
      }
      return;
  }
  if (Array.isArray(value)) {
    w.tag(5, WIRE_LEN);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, WIRE_LEN);
      const itemStart = w.begin();
      writeAnyValue(w, item);
      w.end(itemStart);
    }
    w.end(array);
  }
}
