/**
 * Decodes OTLP/HTTP trace exports (`ExportTraceServiceRequest`, as sent to `POST /v1/traces`) into a
 * flat, normalized list of spans.
 *
 * Both OTLP/HTTP encodings are supported: binary protobuf (`application/x-protobuf`) and OTLP/JSON
 * (`application/json`), optionally gzip-compressed. Runtime-neutral: Web APIs only.
 *
 * Spec: opentelemetry-proto `docs/specification.md` (OTLP/HTTP) and the trace/common/resource protos.
 */

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

/** The two OTLP/HTTP payload encodings. */
export type OtlpFormat = "json" | "protobuf";

export interface OtlpDecodeLimits {
  /** Largest body accepted, both as received and after decompression. */
  readonly maxBodyBytes?: number;
}

/** The OTLP spec recommends 20 MiB as a receiver's default body limit. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;

/** The body is not a decodable trace export: a server answers 400 Bad Request. */
export class OtlpDecodeError extends Error {
  override readonly name: string = "OtlpDecodeError";
}

/** The Content-Type or Content-Encoding is not one OTLP/HTTP uses: a server answers 415. */
export class OtlpUnsupportedMediaTypeError extends OtlpDecodeError {
  override readonly name = "OtlpUnsupportedMediaTypeError";
}

/** The body exceeds the size limit: a server answers 413 Content Too Large. */
export class OtlpPayloadTooLargeError extends Error {
  override readonly name = "OtlpPayloadTooLargeError";
  constructor(
    readonly limitBytes: number,
    readonly stage: "received" | "decompressed",
  ) {
    super(`OTLP body ${stage === "received" ? "" : "decompressed "}exceeds ${limitBytes} bytes`);
  }
}

/** The encoding named by a Content-Type header, or undefined when OTLP/HTTP does not use it. */
export function parseOtlpContentType(
  contentType: string | null | undefined,
): OtlpFormat | undefined {
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType === "application/json") return "json";
  if (mediaType === "application/x-protobuf") return "protobuf";
  return undefined;
}

/**
 * Decodes an OTLP/HTTP trace export body.
 *
 * @throws OtlpPayloadTooLargeError when the body, or its decompressed form, exceeds the limit.
 * @throws OtlpDecodeError (or its OtlpUnsupportedMediaTypeError subclass) for anything else that
 *   is not a valid export; never another error type.
 */
export async function decodeTraceExport(
  body: Uint8Array,
  contentType: string | null | undefined,
  contentEncoding?: string | null,
  limits: OtlpDecodeLimits = {},
): Promise<DecodedSpan[]> {
  const maxBytes = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const format = parseOtlpContentType(contentType);
  if (format === undefined) {
    throw new OtlpUnsupportedMediaTypeError(
      `unsupported Content-Type ${JSON.stringify(contentType ?? "")}: ` +
        `expected application/json or application/x-protobuf`,
    );
  }
  if (body.byteLength > maxBytes) throw new OtlpPayloadTooLargeError(maxBytes, "received");
  const payload = await decodeContent(body, contentEncoding, maxBytes);
  return format === "json" ? decodeJsonExport(payload) : decodeProtobufExport(payload);
}

// ---------------------------------------------------------------------------------------------
// Content-Encoding

async function decodeContent(
  body: Uint8Array,
  contentEncoding: string | null | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return body;
  if (encoding === "gzip") return await gunzip(body, maxBytes);
  throw new OtlpUnsupportedMediaTypeError(
    `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}: expected gzip or none`,
  );
}

async function gunzip(body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const compressed = new ReadableStream<BufferSource>({
    start(controller) {
      controller.enqueue(unsharedBytes(body));
      controller.close();
    },
  });
  try {
    return await readBounded(
      compressed.pipeThrough(new DecompressionStream("gzip")),
      maxBytes,
      "decompressed",
    );
  } catch (error) {
    if (error instanceof OtlpPayloadTooLargeError) throw error;
    throw new OtlpDecodeError(`gzip body could not be decompressed: ${errorMessage(error)}`);
  }
}

/**
 * Reads `stream` to the end, giving up (and cancelling it) as soon as it exceeds `maxBytes`, so
 * an oversized body is never held whole.
 *
 * @throws OtlpPayloadTooLargeError past the limit, naming `stage`; a failed read as it failed.
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  stage: OtlpPayloadTooLargeError["stage"],
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    total += chunk.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new OtlpPayloadTooLargeError(maxBytes, stage);
    }
    chunks.push(chunk.value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Compression streams take no views of a SharedArrayBuffer; such a body is copied. */
function unsharedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Shared by both encodings

const SPAN_KINDS: readonly SpanKindName[] = [
  "UNSPECIFIED",
  "INTERNAL",
  "SERVER",
  "CLIENT",
  "PRODUCER",
  "CONSUMER",
];
const STATUS_CODES: readonly StatusCodeName[] = ["UNSET", "OK", "ERROR"];
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** Bounds AnyValue recursion so a crafted body cannot overflow the stack. */
const MAX_VALUE_NESTING = 32;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function fail(path: string, problem: string): never {
  throw new OtlpDecodeError(`${path}: ${problem}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function enumName<T>(names: readonly T[], value: number, path: string): T {
  const name = names[value];
  if (name === undefined) fail(path, `unknown enum value ${value}`);
  return name;
}

/** int64 values become numbers where that is exact, so ordinary integers compare as numbers. */
function intAttr(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Plain assignment would treat a "__proto__" key as the prototype setter. */
function setEntry(record: Record<string, AttrValue>, key: string, value: AttrValue): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function hexOfBytes(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** An id of exactly `size` bytes; "" allowed only where `optional` (an absent parent). */
function checkedId(hex: string, size: number, optional: boolean, path: string): string {
  if (hex === "" && optional) return "";
  if (hex.length !== size * 2) {
    fail(path, hex === "" ? "missing" : `expected ${size} bytes, got ${hex.length / 2}`);
  }
  return hex;
}

function flattenSpans(
  resourceAttributes: Attributes,
  scope: InstrumentationScope,
  spans: readonly SpanFields[],
): DecodedSpan[] {
  return spans.map((fields) => ({ ...fields, resourceAttributes, scope }));
}

type SpanFields = Omit<DecodedSpan, "resourceAttributes" | "scope">;

// ---------------------------------------------------------------------------------------------
// Binary protobuf.
//
// A hand-written wire-format reader: no small, maintained npm package decodes OTLP without code
// generated from the .proto files (@opentelemetry/otlp-transformer only serializes). Field numbers
// below are those of opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto.
// Unknown fields are skipped, as protobuf requires for forward compatibility.

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

function decodeProtobufExport(body: Uint8Array): DecodedSpan[] {
  const request = ProtoReader.of(body, "ExportTraceServiceRequest");
  const spans: DecodedSpan[] = [];
  let index = 0;
  for (let tag = request.nextTag(); tag; tag = request.nextTag()) {
    if (tag.field === 1) {
      spans.push(...protoResourceSpans(request.message(tag, `resource_spans[${index++}]`)));
    } else request.skip(tag);
  }
  return spans;
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

// ---------------------------------------------------------------------------------------------
// OTLP/JSON: the proto3 JSON mapping with lowerCamelCase keys, except that trace and span ids are
// hex. Per proto3 JSON, 64-bit integers may be strings or numbers, enums numbers or names, and
// null stands for an absent field. Unknown keys are ignored, as the OTLP spec requires.

type JsonObject = { readonly [key: string]: unknown };

function decodeJsonExport(body: Uint8Array): DecodedSpan[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (error) {
    throw new OtlpDecodeError(`body is not valid JSON: ${errorMessage(error)}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    fail("ExportTraceServiceRequest", `expected a JSON object, got ${jsonKind(parsed)}`);
  }
  const request = parsed as JsonObject;
  return jsonArray(request.resourceSpans, "resourceSpans").flatMap((entry, i) =>
    jsonResourceSpans(entry, `resourceSpans[${i}]`)
  );
}

function jsonResourceSpans(value: unknown, path: string): DecodedSpan[] {
  const resourceSpans = jsonObject(value, path);
  const resource = jsonObject(resourceSpans.resource, `${path}.resource`);
  const resourceAttributes = jsonAttributes(resource.attributes, `${path}.resource.attributes`);
  return jsonArray(resourceSpans.scopeSpans, `${path}.scopeSpans`).flatMap((entry, i) => {
    const scopePath = `${path}.scopeSpans[${i}]`;
    const scopeSpans = jsonObject(entry, scopePath);
    const scope = jsonObject(scopeSpans.scope, `${scopePath}.scope`);
    const spans = jsonArray(scopeSpans.spans, `${scopePath}.spans`);
    return flattenSpans(
      resourceAttributes,
      {
        name: jsonString(scope.name, `${scopePath}.scope.name`),
        version: jsonString(scope.version, `${scopePath}.scope.version`),
      },
      spans.map((span, j) => jsonSpan(span, `${scopePath}.spans[${j}]`)),
    );
  });
}

function jsonSpan(value: unknown, path: string): SpanFields {
  const span = jsonObject(value, path);
  const status = jsonObject(span.status, `${path}.status`);
  return {
    traceId: jsonId(span.traceId, TRACE_ID_BYTES, false, `${path}.traceId`),
    spanId: jsonId(span.spanId, SPAN_ID_BYTES, false, `${path}.spanId`),
    parentSpanId: jsonId(span.parentSpanId, SPAN_ID_BYTES, true, `${path}.parentSpanId`),
    traceState: jsonString(span.traceState, `${path}.traceState`),
    flags: jsonUint32(span.flags, `${path}.flags`),
    name: jsonString(span.name, `${path}.name`),
    kind: jsonEnum(span.kind, SPAN_KINDS, "SPAN_KIND_", `${path}.kind`),
    startTimeUnixNano: jsonUint64(span.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: jsonUint64(span.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: jsonAttributes(span.attributes, `${path}.attributes`),
    events: jsonArray(span.events, `${path}.events`).map((entry, i) => {
      const eventPath = `${path}.events[${i}]`;
      const event = jsonObject(entry, eventPath);
      return {
        name: jsonString(event.name, `${eventPath}.name`),
        timeUnixNano: jsonUint64(event.timeUnixNano, `${eventPath}.timeUnixNano`),
        attributes: jsonAttributes(event.attributes, `${eventPath}.attributes`),
      };
    }),
    links: jsonArray(span.links, `${path}.links`).map((entry, i) => {
      const linkPath = `${path}.links[${i}]`;
      const link = jsonObject(entry, linkPath);
      return {
        traceId: jsonId(link.traceId, TRACE_ID_BYTES, false, `${linkPath}.traceId`),
        spanId: jsonId(link.spanId, SPAN_ID_BYTES, false, `${linkPath}.spanId`),
        traceState: jsonString(link.traceState, `${linkPath}.traceState`),
        attributes: jsonAttributes(link.attributes, `${linkPath}.attributes`),
      };
    }),
    status: {
      code: jsonEnum(status.code, STATUS_CODES, "STATUS_CODE_", `${path}.status.code`),
      message: jsonString(status.message, `${path}.status.message`),
    },
  };
}

function jsonAttributes(value: unknown, path: string, nesting = 0): Attributes {
  const attributes: Record<string, AttrValue> = {};
  jsonArray(value, path).forEach((entry, i) => {
    const keyValue = jsonObject(entry, `${path}[${i}]`);
    const key = jsonString(keyValue.key, `${path}[${i}].key`);
    setEntry(attributes, key, jsonAnyValue(keyValue.value, `${path}[${i}].value`, nesting));
  });
  return attributes;
}

function jsonAnyValue(value: unknown, path: string, nesting: number): AttrValue {
  if (nesting > MAX_VALUE_NESTING) fail(path, `values nested deeper than ${MAX_VALUE_NESTING}`);
  const anyValue = jsonObject(value, path);
  const set = Object.keys(anyValue).filter((key) =>
    ANY_VALUE_KEYS.has(key) && anyValue[key] != null
  );
  if (set.length === 0) return null;
  if (set.length > 1) fail(path, `more than one value set (${set.join(", ")})`);
  const key = set[0];
  const field = anyValue[key];
  const fieldPath = `${path}.${key}`;
  switch (key) {
    case "stringValue":
      return jsonString(field, fieldPath);
    case "boolValue":
      if (typeof field !== "boolean") fail(fieldPath, `expected a boolean, got ${jsonKind(field)}`);
      return field;
    case "intValue":
      return intAttr(jsonInteger(field, INT64_RANGE, fieldPath));
    case "doubleValue":
      return jsonDouble(field, fieldPath);
    case "arrayValue":
      return jsonArray(jsonObject(field, fieldPath).values, `${fieldPath}.values`).map(
        (entry, i) => jsonAnyValue(entry, `${fieldPath}.values[${i}]`, nesting + 1),
      );
    case "kvlistValue":
      return jsonAttributes(
        jsonObject(field, fieldPath).values,
        `${fieldPath}.values`,
        nesting + 1,
      );
    default:
      return jsonBytes(field, fieldPath);
  }
}

const ANY_VALUE_KEYS = new Set([
  "stringValue",
  "boolValue",
  "intValue",
  "doubleValue",
  "arrayValue",
  "kvlistValue",
  "bytesValue",
]);

function jsonObject(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    fail(path, `expected an object, got ${jsonKind(value)}`);
  }
  return value as JsonObject;
}

function jsonArray(value: unknown, path: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, `expected an array, got ${jsonKind(value)}`);
  return value;
}

function jsonString(value: unknown, path: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") fail(path, `expected a string, got ${jsonKind(value)}`);
  return value;
}

function jsonId(value: unknown, size: number, optional: boolean, path: string): string {
  const hex = jsonString(value, path);
  if (!/^[0-9a-fA-F]*$/.test(hex)) fail(path, `expected hex, got ${jsonKind(hex)}`);
  return checkedId(hex.toLowerCase(), size, optional, path);
}

interface IntegerRange {
  readonly min: bigint;
  readonly max: bigint;
  readonly name: string;
}
const INT64_RANGE: IntegerRange = { min: -(2n ** 63n), max: 2n ** 63n - 1n, name: "int64" };
const UINT64_RANGE: IntegerRange = { min: 0n, max: 2n ** 64n - 1n, name: "uint64" };
const UINT32_RANGE: IntegerRange = { min: 0n, max: 2n ** 32n - 1n, name: "uint32" };

/** An integer given as a JSON number or a decimal string, as proto3 JSON allows. */
function jsonInteger(value: unknown, range: IntegerRange, path: string): bigint {
  if (value === undefined || value === null) return 0n;
  let integer: bigint | undefined;
  if (typeof value === "number" && Number.isInteger(value)) integer = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) integer = BigInt(value);
  if (integer === undefined || integer < range.min || integer > range.max) {
    fail(path, `expected ${range.name}, got ${jsonKind(value)}`);
  }
  return integer;
}

function jsonUint64(value: unknown, path: string): bigint {
  return jsonInteger(value, UINT64_RANGE, path);
}

function jsonUint32(value: unknown, path: string): number {
  return Number(jsonInteger(value, UINT32_RANGE, path));
}

function jsonDouble(value: unknown, path: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") {
    const special = SPECIAL_DOUBLES.get(value);
    if (special !== undefined) return special;
    const parsed = Number(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return fail(path, `expected a double, got ${jsonKind(value)}`);
}

const SPECIAL_DOUBLES = new Map([["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]]);

function jsonEnum<T extends string>(
  value: unknown,
  names: readonly T[],
  prefix: string,
  path: string,
): T {
  if (value === undefined || value === null) return names[0];
  if (typeof value === "string") {
    const name = names.find((candidate) => prefix + candidate === value);
    if (name === undefined) fail(path, `unknown enum name ${jsonKind(value)}`);
    return name;
  }
  if (typeof value === "number" && Number.isInteger(value)) return enumName(names, value, path);
  return fail(path, `expected an enum number or name, got ${jsonKind(value)}`);
}

/** Standard or URL-safe base64, padded or not, as proto3 JSON accepts for bytes. */
function jsonBytes(value: unknown, path: string): Uint8Array {
  const base64 = jsonString(value, path).replace(/-/g, "+").replace(/_/g, "/");
  let binary: string;
  try {
    binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
  } catch {
    return fail(path, "expected base64");
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Names a JSON value for an error message, cut short so a huge value cannot flood logs. */
function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
