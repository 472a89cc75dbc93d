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

/** One value's whole `KeyValue` field, as a field of message `field`: tag, length and content. */
interface CachedField {
  readonly value: AttributeValue | undefined;
  readonly field: number;
  readonly bytes: Uint8Array;
}

/** What the cache knows of one attribute key. */
interface KeyEntry {
  /** `KeyValue.key`, tag included. */
  readonly key: Uint8Array;
  /** The values seen first under this key, written again in one copy each. */
  readonly fields: CachedField[];
  /** Writes of a value not among `fields`, and of one that was. */
  misses: number;
  hits: number;
}

/** Keys past this many are written without the cache: memory stays bounded whatever the keys. */
const MAX_CACHED_KEYS = 1024;
/** Values kept per key: a few serve the keys whose values repeat (method, host, port, status). */
const MAX_CACHED_VALUES = 4;
/** Longer `KeyValue`s are not kept (nor are arrays): a long value is rarely the same twice. */
const MAX_CACHED_BYTES = 256;
/**
 * Misses past this many more than the hits, and the key's values are no longer looked for: its
 * values do not repeat (a URL, a request id) and its key bytes alone serve.
 */
const MAX_MISSES_AHEAD = 64;

/**
 * Attributes as `KeyValue` messages, each key's bytes and the whole `KeyValue` fields of its first
 * few values kept for the next spans: most attributes of a service repeat (the method, the host,
 * the user agent, the route), so most are one copy instead of two strings' worth of UTF-8 and four
 * headers. Several values per key, as the proxy's server and client spans write one key (a port)
 * with two values in turn. The values kept are never replaced: a key whose values keep changing (a
 * request id, shared by the two spans of a request) would otherwise cost a copy per span; its
 * misses soon outnumber its hits, and then it is written without looking (its key bytes still serve).
 */
class AttributeCache {
  readonly #keys = new Map<string, KeyEntry>();

  write(w: ProtoWriter, field: number, attributes: Attributes): void {
    next: for (const key in attributes) {
      const value = attributes[key];
      let entry = this.#keys.get(key);
      if (entry !== undefined && entry.misses - entry.hits < MAX_MISSES_AHEAD) {
        const fields = entry.fields;
        for (let i = 0; i < fields.length; i++) {
          const cached = fields[i];
          if (cached.value === value && cached.field === field) {
            entry.hits++;
            w.raw(cached.bytes);
            continue next;
          }
        }
        entry.misses++;
      }
      const fieldStart = w.pos;
      w.tag(field, WIRE_LEN);
      const keyValue = w.begin();
      if (entry !== undefined) {
        w.raw(entry.key);
      } else {
        writeString(w, 1, key);
        if (this.#keys.size < MAX_CACHED_KEYS) {
          entry = { key: w.copyLast(w.pos - keyValue - 1), fields: [], misses: 1, hits: 0 };
          this.#keys.set(key, entry);
        }
      }
      w.tag(2, WIRE_LEN);
      const anyValue = w.begin();
      writeAnyValue(w, value);
      w.end(anyValue);
      w.end(keyValue);
      if (
        entry !== undefined && entry.fields.length < MAX_CACHED_VALUES &&
        typeof value !== "object" && w.pos - fieldStart <= MAX_CACHED_BYTES
      ) {
        entry.fields.push({ value, field, bytes: w.copyLast(w.pos - fieldStart) });
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
