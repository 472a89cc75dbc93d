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

/**
 * Encodes batches; keep one per exporter so its buffer and its attribute cache are reused. What
 * `encode` returns is a view of that buffer, valid until the next `encode`.
 */
export class ProtobufTraceEncoder {
  readonly #writer = new ProtoWriter();
  readonly #attributes = new AttributeCache();

  encode(spans: readonly ReadableSpan[]): Uint8Array<ArrayBuffer> {
    const w = this.#writer;
    w.reset();
    for (const group of groupSpans(spans)) {
      w.tag(1, WIRE_LEN); // ExportTraceServiceRequest.resource_spans
      const resourceSpans = w.begin();
      w.tag(1, WIRE_LEN); // ResourceSpans.resource
      const resource = w.begin();
      this.#attributes.write(w, 1, group.resource.attributes);
      w.end(resource);
      for (const { scope, spans } of group.scopes.values()) {
        w.tag(2, WIRE_LEN); // ResourceSpans.scope_spans
        const scopeSpans = w.begin();
        w.tag(1, WIRE_LEN); // ScopeSpans.scope
        const scopeStart = w.begin();
        writeString(w, 1, scope.name);
        writeString(w, 2, scope.version);
        w.end(scopeStart);
        for (const span of spans) writeSpan(w, span, this.#attributes);
        writeString(w, 3, scope.schemaUrl);
        w.end(scopeSpans);
      }
      writeString(w, 3, group.resource.schemaUrl);
      w.end(resourceSpans);
    }
    return w.written();
  }
}

function writeSpan(w: ProtoWriter, span: ReadableSpan, attributes: AttributeCache): void {
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
  attributes.write(w, 9, span.attributes);
  writeCount(w, 10, span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, WIRE_LEN);
    const eventStart = w.begin();
    writeTime(w, 1, event.time);
    writeString(w, 2, event.name);
    if (event.attributes) attributes.write(w, 3, event.attributes);
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
    if (link.attributes) attributes.write(w, 4, link.attributes);
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

/** What the cache knows of one attribute key. */
interface KeyEntry {
  /** `KeyValue.key`, tag included. */
  readonly key: Uint8Array;
  /**
   * The last value cached for this key (a string, number or boolean) and its whole `KeyValue`
   * as a field of message `field`: tag, length and content, written again in one copy.
   */
  value: AttributeValue | undefined;
  field: number;
  keyValue: Uint8Array | undefined;
  hits: number;
  misses: number;
}

/** Keys past this many are written without the cache: memory stays bounded whatever the keys. */
const MAX_CACHED_KEYS = 1024;
/** Longer `KeyValue`s are not kept (nor are arrays): a long value is rarely the same twice. */
const MAX_CACHED_BYTES = 256;

/**
 * Attributes as `KeyValue` messages, each key's bytes and its last value's whole `KeyValue` field kept
 * for the next span: most attributes of a service repeat (the method, the host, the user agent,
 * the route), so most are one copy instead of two strings' worth of UTF-8 and four headers. A key
 * whose value keeps changing (a URL, a request id) stops caching values after its misses
 * outnumber its hits, so it costs no allocation per span; its key bytes still serve.
 */
class AttributeCache {
  readonly #keys = new Map<string, KeyEntry>();

  write(w: ProtoWriter, field: number, attributes: Attributes): void {
    for (const key in attributes) {
      const value = attributes[key];
      let entry = this.#keys.get(key);
      if (
        entry !== undefined && entry.keyValue !== undefined && entry.value === value &&
        entry.field === field
      ) {
        entry.hits++;
        w.raw(entry.keyValue);
        continue;
      }
      const fieldStart = w.pos;
      w.tag(field, WIRE_LEN);
      const keyValue = w.begin();
      if (entry !== undefined) {
        w.raw(entry.key);
      } else {
        writeString(w, 1, key);
        if (this.#keys.size < MAX_CACHED_KEYS) {
          entry = {
            key: w.copyLast(w.pos - keyValue - 1),
            value: undefined,
            field,
            keyValue: undefined,
            hits: 0,
            misses: 0,
          };
          this.#keys.set(key, entry);
        }
      }
      w.tag(2, WIRE_LEN);
      const anyValue = w.begin();
      writeAnyValue(w, value);
      w.end(anyValue);
      const length = w.pos - keyValue - 1;
      w.end(keyValue);
      if (entry === undefined || typeof value === "object" || length > MAX_CACHED_BYTES) continue;
      if (entry.misses++ <= entry.hits) {
        entry.value = value;
        entry.field = field;
        entry.keyValue = w.copyLast(w.pos - fieldStart);
      }
    }
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
