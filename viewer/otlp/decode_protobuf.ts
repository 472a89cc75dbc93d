/**
 * OTLP/HTTP binary protobuf bodies.
 *
 * A hand-written wire-format reader: no small, maintained npm package decodes OTLP without code
 * generated from the .proto files (@opentelemetry/otlp-transformer only serializes). Field numbers
 * below are those of opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto.
 * Unknown fields are skipped, as protobuf requires for forward compatibility.
 */
import {
  checkedId,
  checkIdSize,
  enumName,
  fail,
  flattenSpans,
  hexOfBytes,
  intAttr,
  MAX_VALUE_NESTING,
  setEntry,
  SPAN_ID_BYTES,
  SPAN_KINDS,
  type SpanFields,
  STATUS_CODES,
  TRACE_ID_BYTES,
  utf8,
} from "./fields.ts";
import type {
  Attributes,
  AttrValue,
  DecodedSpan,
  InstrumentationScope,
  SpanEvent,
  SpanKindName,
  SpanLink,
  SpanStatus,
  StatusCodeName,
} from "./spans.ts";

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

interface Tag {
  readonly field: number;
  readonly wire: number;
}

class ProtoReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    private readonly view: DataView,
    start: number,
    private readonly end: number,
    readonly path: string,
  ) {
    this.pos = start;
  }

  static of(buf: Uint8Array, path: string): ProtoReader {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    return new ProtoReader(buf, view, 0, buf.byteLength, path);
  }

  /** The next field's tag, or undefined at the end of this message. */
  nextTag(): Tag | undefined {
    if (this.pos >= this.end) return undefined;
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) this.fail("field number 0");
    return { field, wire: key % 8 };
  }

  uint(tag: Tag): number {
    this.expect(tag, WIRE_VARINT);
    return this.varint();
  }

  int64(tag: Tag): bigint {
    this.expect(tag, WIRE_VARINT);
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.byte();
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asIntN(64, value);
    }
    return this.fail("varint longer than 10 bytes");
  }

  bool(tag: Tag): boolean {
    return this.uint(tag) !== 0;
  }

  fixed64(tag: Tag): bigint {
    this.expect(tag, WIRE_FIXED64);
    return this.view.getBigUint64(this.take(8), true);
  }

  double(tag: Tag): number {
    this.expect(tag, WIRE_FIXED64);
    return this.view.getFloat64(this.take(8), true);
  }

  fixed32(tag: Tag): number {
    this.expect(tag, WIRE_FIXED32);
    return this.view.getUint32(this.take(4), true);
  }

  /** A view into the body: copy it before handing it out. */
  bytes(tag: Tag): Uint8Array {
    this.expect(tag, WIRE_LEN);
    const length = this.varint();
    const start = this.take(length);
    return this.buf.subarray(start, start + length);
  }

  string(tag: Tag): string {
    const bytes = this.bytes(tag);
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail(`field ${tag.field} is not valid UTF-8`);
    }
  }

  message(tag: Tag, path: string): ProtoReader {
    this.expect(tag, WIRE_LEN);
    const length = this.varint();
    const start = this.take(length);
    return new ProtoReader(this.buf, this.view, start, start + length, path);
  }

  skip(tag: Tag): void {
    switch (tag.wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.take(8);
        return;
      case WIRE_LEN:
        this.take(this.varint());
        return;
      case WIRE_FIXED32:
        this.take(4);
        return;
      default:
        // Groups (3, 4) are deprecated proto2 constructs that no OTLP message contains.
        this.fail(`field ${tag.field} has unsupported wire type ${tag.wire}`);
    }
  }

  fail(problem: string): never {
    return fail(this.path, `${problem} (at byte ${this.pos})`);
  }

  private expect(tag: Tag, wire: number): void {
    if (tag.wire !== wire) {
      this.fail(`field ${tag.field} has wire type ${tag.wire}, expected ${wire}`);
    }
  }

  /** Unsigned varint as a number: exact up to 2^53, which covers every length, enum and count. */
  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return this.fail("varint longer than 10 bytes");
  }

  private byte(): number {
    return this.buf[this.take(1)];
  }

  /** Advances past `length` bytes of this message and returns where they start. */
  private take(length: number): number {
    if (length > this.end - this.pos) this.fail("unexpected end of data");
    const start = this.pos;
    this.pos += length;
    return start;
  }
}

export function decodeProtobufExport(body: Uint8Array): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  eachResourceSpans(body, (resourceSpans) => spans.push(...protoResourceSpans(resourceSpans)));
  return spans;
}

/** Calls `read` with every `resource_spans` message of an export, each named by its index. */
function eachResourceSpans(body: Uint8Array, read: (resourceSpans: ProtoReader) => void): void {
  const request = ProtoReader.of(body, "ExportTraceServiceRequest");
  // Named from the root, as the decoder's other paths are: `resource_spans[0].scope_spans[1]…`.
  eachMessage(request, 1, "resource_spans", read, "");
}

/**
 * How many spans a body holds, each checked to carry a trace id and a span id, without building
 * them (see `countTraceSpans`).
 */
export function countProtobufSpans(body: Uint8Array): number {
  let count = 0;
  eachResourceSpans(body, (resourceSpans) => {
    eachMessage(resourceSpans, 2, "scope_spans", (scopeSpans) => {
      eachMessage(scopeSpans, 2, "spans", (span) => {
        checkIds(span);
        count++;
      });
    });
  });
  return count;
}

/**
 * Calls `read` with every message in field `field` of `r`, each named `<prefix><name>[<index>]`,
 * skipping the other fields.
 */
function eachMessage(
  r: ProtoReader,
  field: number,
  name: string,
  read: (message: ProtoReader) => void,
  prefix = `${r.path}.`,
): void {
  let index = 0;
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === field) read(r.message(tag, `${prefix}${name}[${index++}]`));
    else r.skip(tag);
  }
}

/** A span's trace id and span id, each present and of its size; the rest skipped. */
function checkIds(span: ProtoReader): void {
  let traceIdBytes = 0;
  let spanIdBytes = 0;
  for (let tag = span.nextTag(); tag; tag = span.nextTag()) {
    if (tag.field === 1) traceIdBytes = span.bytes(tag).length;
    else if (tag.field === 2) spanIdBytes = span.bytes(tag).length;
    else span.skip(tag);
  }
  checkIdSize(traceIdBytes, TRACE_ID_BYTES, false, `${span.path}.trace_id`);
  checkIdSize(spanIdBytes, SPAN_ID_BYTES, false, `${span.path}.span_id`);
}

function protoResourceSpans(r: ProtoReader): DecodedSpan[] {
  let resourceAttributes: Attributes = {};
  const scopeSpans: ProtoReader[] = [];
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) {
      resourceAttributes = protoResource(r.message(tag, `${r.path}.resource`));
    } else if (tag.field === 2) {
      scopeSpans.push(r.message(tag, `${r.path}.scope_spans[${scopeSpans.length}]`));
    } else r.skip(tag);
  }
  // The resource may follow its scope_spans on the wire, so spans are built once it is known.
  return scopeSpans.flatMap((scope) => protoScopeSpans(scope, resourceAttributes));
}

function protoResource(r: ProtoReader): Attributes {
  const attributes: Record<string, AttrValue> = {};
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) protoKeyValue(r.message(tag, `${r.path}.attributes`), attributes);
    else r.skip(tag);
  }
  return attributes;
}

function protoScopeSpans(r: ProtoReader, resourceAttributes: Attributes): DecodedSpan[] {
  let scope: InstrumentationScope = { name: "", version: "" };
  const spans: SpanFields[] = [];
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) scope = protoScope(r.message(tag, `${r.path}.scope`));
    else if (tag.field === 2) {
      spans.push(protoSpan(r.message(tag, `${r.path}.spans[${spans.length}]`)));
    } else r.skip(tag);
  }
  return flattenSpans(resourceAttributes, scope, spans);
}

function protoScope(r: ProtoReader): InstrumentationScope {
  let name = "";
  let version = "";
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) name = r.string(tag);
    else if (tag.field === 2) version = r.string(tag);
    else r.skip(tag);
  }
  return { name, version };
}

function protoSpan(r: ProtoReader): SpanFields {
  let traceId = "";
  let spanId = "";
  let parentSpanId = "";
  let traceState = "";
  let flags = 0;
  let name = "";
  let kind: SpanKindName = "UNSPECIFIED";
  let startTimeUnixNano = 0n;
  let endTimeUnixNano = 0n;
  const attributes: Record<string, AttrValue> = {};
  const events: SpanEvent[] = [];
  const links: SpanLink[] = [];
  let status: SpanStatus = { code: "UNSET", message: "" };
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    switch (tag.field) {
      case 1:
        traceId = hexOfBytes(r.bytes(tag));
        break;
      case 2:
        spanId = hexOfBytes(r.bytes(tag));
        break;
      case 3:
        traceState = r.string(tag);
        break;
      case 4:
        parentSpanId = hexOfBytes(r.bytes(tag));
        break;
      case 5:
        name = r.string(tag);
        break;
      case 6:
        kind = enumName(SPAN_KINDS, r.uint(tag), `${r.path}.kind`);
        break;
      case 7:
        startTimeUnixNano = r.fixed64(tag);
        break;
      case 8:
        endTimeUnixNano = r.fixed64(tag);
        break;
      case 9:
        protoKeyValue(r.message(tag, `${r.path}.attributes`), attributes);
        break;
      case 11:
        events.push(protoEvent(r.message(tag, `${r.path}.events[${events.length}]`)));
        break;
      case 13:
        links.push(protoLink(r.message(tag, `${r.path}.links[${links.length}]`)));
        break;
      case 15:
        status = protoStatus(r.message(tag, `${r.path}.status`));
        break;
      case 16:
        flags = r.fixed32(tag);
        break;
      default:
        r.skip(tag);
    }
  }
  return {
    traceId: checkedId(traceId, TRACE_ID_BYTES, false, `${r.path}.trace_id`),
    spanId: checkedId(spanId, SPAN_ID_BYTES, false, `${r.path}.span_id`),
    parentSpanId: checkedId(parentSpanId, SPAN_ID_BYTES, true, `${r.path}.parent_span_id`),
    traceState,
    flags,
    name,
    kind,
    startTimeUnixNano,
    endTimeUnixNano,
    attributes,
    events,
    links,
    status,
  };
}

function protoEvent(r: ProtoReader): SpanEvent {
  let name = "";
  let timeUnixNano = 0n;
  const attributes: Record<string, AttrValue> = {};
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) timeUnixNano = r.fixed64(tag);
    else if (tag.field === 2) name = r.string(tag);
    else if (tag.field === 3) protoKeyValue(r.message(tag, `${r.path}.attributes`), attributes);
    else r.skip(tag);
  }
  return { name, timeUnixNano, attributes };
}

function protoLink(r: ProtoReader): SpanLink {
  let traceId = "";
  let spanId = "";
  let traceState = "";
  const attributes: Record<string, AttrValue> = {};
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) traceId = hexOfBytes(r.bytes(tag));
    else if (tag.field === 2) spanId = hexOfBytes(r.bytes(tag));
    else if (tag.field === 3) traceState = r.string(tag);
    else if (tag.field === 4) protoKeyValue(r.message(tag, `${r.path}.attributes`), attributes);
    else r.skip(tag);
  }
  return {
    traceId: checkedId(traceId, TRACE_ID_BYTES, false, `${r.path}.trace_id`),
    spanId: checkedId(spanId, SPAN_ID_BYTES, false, `${r.path}.span_id`),
    traceState,
    attributes,
  };
}

function protoStatus(r: ProtoReader): SpanStatus {
  let message = "";
  let code: StatusCodeName = "UNSET";
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 2) message = r.string(tag);
    else if (tag.field === 3) code = enumName(STATUS_CODES, r.uint(tag), `${r.path}.code`);
    else r.skip(tag);
  }
  return { code, message };
}

/** Reads one KeyValue message into `into` (a repeated key keeps its last value). */
function protoKeyValue(r: ProtoReader, into: Record<string, AttrValue>, nesting = 0): void {
  let key = "";
  let value: AttrValue = null;
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) key = r.string(tag);
    else if (tag.field === 2) value = protoAnyValue(r.message(tag, `${r.path}.value`), nesting);
    else r.skip(tag);
  }
  setEntry(into, key, value);
}

function protoAnyValue(r: ProtoReader, nesting: number): AttrValue {
  if (nesting > MAX_VALUE_NESTING) r.fail(`values nested deeper than ${MAX_VALUE_NESTING}`);
  let value: AttrValue = null;
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    switch (tag.field) {
      case 1:
        value = r.string(tag);
        break;
      case 2:
        value = r.bool(tag);
        break;
      case 3:
        value = intAttr(r.int64(tag));
        break;
      case 4:
        value = r.double(tag);
        break;
      case 5:
        value = protoArrayValue(r.message(tag, `${r.path}.array_value`), nesting + 1);
        break;
      case 6:
        value = protoKeyValueList(r.message(tag, `${r.path}.kvlist_value`), nesting + 1);
        break;
      case 7:
        value = r.bytes(tag).slice();
        break;
      default:
        r.skip(tag);
    }
  }
  return value;
}

function protoArrayValue(r: ProtoReader, nesting: number): AttrValue[] {
  const values: AttrValue[] = [];
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) {
      values.push(protoAnyValue(r.message(tag, `${r.path}[${values.length}]`), nesting));
    } else r.skip(tag);
  }
  return values;
}

function protoKeyValueList(r: ProtoReader, nesting: number): Attributes {
  const entries: Record<string, AttrValue> = {};
  for (let tag = r.nextTag(); tag; tag = r.nextTag()) {
    if (tag.field === 1) protoKeyValue(r.message(tag, `${r.path}.values`), entries, nesting);
    else r.skip(tag);
  }
  return entries;
}
