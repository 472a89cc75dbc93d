import assert from "node:assert/strict";
import {
  type AttributeValue,
  type HrTime,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { countTraceSpans, decodeTraceExport } from "../../viewer/otlp/decode.ts";
import {
  OtlpDecodeError,
  OtlpPayloadTooLargeError,
  OtlpUnsupportedMediaTypeError,
} from "../../viewer/otlp/errors.ts";
import type {
  Attributes,
  AttrValue,
  DecodedSpan,
  SpanKindName,
  StatusCodeName,
} from "../../viewer/otlp/spans.ts";

const JSON_TYPE = "application/json";
const PROTOBUF_TYPE = "application/x-protobuf";

const REMOTE_PARENT: SpanContext = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
};
const LINKED: SpanContext = {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState("linked=yes"),
};

const RECORDED_ATTRIBUTES = {
  "str": "héllo ✓",
  "str.empty": "",
  "int": 42,
  "int.negative": -7,
  "int.beyond_safe": 2 ** 60,
  "double": 3.25,
  "bool.true": true,
  "bool.false": false,
  "array.str": ["a", "b"],
  "array.num": [1, 2.5, -3],
  "array.bool": [true, false],
  "array.sparse": ["x", null, "y"],
  "array.empty": [],
};
/** What the decoder promises for those: int64 beyond the safe range as bigint, the rest as is. */
const DECODED_ATTRIBUTES: Attributes = { ...RECORDED_ATTRIBUTES, "int.beyond_safe": 2n ** 60n };

const PARENT_START: HrTime = [1_700_000_000, 123_456_789];
const EVENT_TIME: HrTime = [1_700_000_000, 500];

/** Spans from two services, every span kind, a remote-parented SERVER span and its CLIENT child. */
async function recordSpans(): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const checkout = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "checkout", "deployment.tier": 2 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const billing = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "billing" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = checkout.getTracer("tracegate-test", "1.2.3");

  const parent = tracer.startSpan(
    "GET /cart",
    {
      kind: SpanKind.SERVER,
      startTime: PARENT_START,
      attributes: RECORDED_ATTRIBUTES,
      links: [{ context: LINKED, attributes: { "link.reason": "retry", "link.attempt": 2 } }],
    },
    trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
  );
  parent.addEvent("cache.miss", { "cache.key": "user:1", "cache.size": 3 }, EVENT_TIME);
  parent.addEvent("no.attributes");
  const child = tracer.startSpan(
    "fetch inventory",
    { kind: SpanKind.CLIENT },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();
  parent.setStatus({ code: SpanStatusCode.ERROR, message: "upstream timed out" });
  parent.end();
  for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) {
    tracer.startSpan(`kind ${kind}`, { kind }).end();
  }
  billing.getTracer("billing-lib").startSpan("charge").end();

  // Not shutdown(): that would also shut the shared exporter, which then forgets its spans.
  await Promise.all([checkout.forceFlush(), billing.forceFlush()]);
  return exporter.getFinishedSpans();
}

const KIND_NAMES: Record<SpanKind, SpanKindName> = {
  [SpanKind.INTERNAL]: "INTERNAL",
  [SpanKind.SERVER]: "SERVER",
  [SpanKind.CLIENT]: "CLIENT",
  [SpanKind.PRODUCER]: "PRODUCER",
  [SpanKind.CONSUMER]: "CONSUMER",
};
const STATUS_NAMES: Record<SpanStatusCode, StatusCodeName> = {
  [SpanStatusCode.UNSET]: "UNSET",
  [SpanStatusCode.OK]: "OK",
  [SpanStatusCode.ERROR]: "ERROR",
};
/** OTLP span flags: bit 8 says whether bit 9 (parent is remote) is known. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

function nanos([seconds, nanoseconds]: HrTime): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
}

/** An attribute value as the decoder promises to return it. */
function decodedValue(value: AttributeValue | undefined | null): AttrValue {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map(decodedValue);
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return BigInt(value);
  }
  return value as AttrValue;
}

function decodedAttributes(attributes: Record<string, AttributeValue | undefined> = {}) {
  return Object.fromEntries(
    Object.entries(attributes).map(([key, value]) => [key, decodedValue(value)]),
  );
}

/** What decoding an export of `span` must give back: everything the SDK recorded. */
function expectedDecoding(span: ReadableSpan): DecodedSpan {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? "",
    traceState: context.traceState?.serialize() ?? "",
    flags: context.traceFlags | HAS_IS_REMOTE | (span.parentSpanContext?.isRemote ? IS_REMOTE : 0),
    name: span.name,
    kind: KIND_NAMES[span.kind],
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: decodedAttributes(span.attributes),
    events: span.events.map((event) => ({
      name: event.name,
      timeUnixNano: nanos(event.time),
      attributes: decodedAttributes(event.attributes),
    })),
    links: span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      traceState: link.context.traceState?.serialize() ?? "",
      attributes: decodedAttributes(link.attributes),
    })),
    status: { code: STATUS_NAMES[span.status.code], message: span.status.message ?? "" },
    resourceAttributes: decodedAttributes(span.resource.attributes),
    scope: {
      name: span.instrumentationScope.name,
      version: span.instrumentationScope.version ?? "",
    },
  };
}

function serialize(spans: ReadableSpan[], contentType: string): Uint8Array {
  const serializer = contentType === JSON_TYPE ? JsonTraceSerializer : ProtobufTraceSerializer;
  const body = serializer.serializeRequest(spans);
  assert.ok(body, "the serializer produced no body");
  return body;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).bytes();
}

function bySpanId(spans: readonly DecodedSpan[]): Map<string, DecodedSpan> {
  return new Map(spans.map((span) => [span.spanId, span]));
}

for (const contentType of [JSON_TYPE, PROTOBUF_TYPE]) {
  for (const compressed of [false, true]) {
    Deno.test(`${contentType}${compressed ? " gzip" : ""}: decodes exactly what the SDK recorded`, async () => {
      const recorded = await recordSpans();
      const plain = serialize(recorded, contentType);
      const body = compressed ? await gzip(plain) : plain;

      const decoded = await decodeTraceExport(body, contentType, compressed ? "gzip" : undefined);

      assert.equal(decoded.length, recorded.length);
      assert.equal(
        await countTraceSpans(body, contentType, compressed ? "gzip" : undefined),
        recorded.length,
      );
      const decodedById = bySpanId(decoded);
      for (const span of recorded) {
        assert.deepStrictEqual(decodedById.get(span.spanContext().spanId), expectedDecoding(span));
      }
      // The values the test chose, checked as literals rather than through expectedDecoding.
      const parent = decoded.find((span) => span.name === "GET /cart");
      const child = decoded.find((span) => span.name === "fetch inventory");
      assert.ok(parent && child);
      assert.deepStrictEqual(parent.attributes, DECODED_ATTRIBUTES);
      assert.equal(parent.parentSpanId, REMOTE_PARENT.spanId);
      assert.equal(parent.traceId, REMOTE_PARENT.traceId);
      assert.equal(parent.traceState, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
      assert.equal(parent.startTimeUnixNano, 1_700_000_000_123_456_789n);
      assert.equal(parent.flags, TraceFlags.SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
      assert.deepStrictEqual(parent.status, { code: "ERROR", message: "upstream timed out" });
      assert.deepStrictEqual(parent.events[0], {
        name: "cache.miss",
        timeUnixNano: 1_700_000_000_000_000_500n,
        attributes: { "cache.key": "user:1", "cache.size": 3 },
      });
      assert.deepStrictEqual(parent.links, [{
        traceId: LINKED.traceId,
        spanId: LINKED.spanId,
        traceState: "linked=yes",
        attributes: { "link.reason": "retry", "link.attempt": 2 },
      }]);
      assert.equal(child.parentSpanId, parent.spanId);
      assert.equal(child.kind, "CLIENT");
      assert.deepStrictEqual(parent.resourceAttributes, {
        "service.name": "checkout",
        "deployment.tier": 2,
      });
      assert.deepStrictEqual(parent.scope, { name: "tracegate-test", version: "1.2.3" });
      const charge = decoded.find((span) => span.name === "charge");
      assert.deepStrictEqual(charge?.resourceAttributes, { "service.name": "billing" });
      assert.deepStrictEqual(
        new Set(decoded.map((span) => span.kind)),
        new Set(["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER"]),
      );
    });
  }
}

Deno.test("bytes and key-value-list values, which the JS API cannot record, survive both encodings", async () => {
  const [span] = (await recordSpans()).filter((recorded) => recorded.name === "charge");
  // OTLP AnyValue carries them (other SDKs send them) and the serializers encode them.
  // JSON.parse makes "__proto__" an own key, as an object literal would not.
  const map = () => JSON.parse('{"nested.int": 5, "nested.list": ["a"], "__proto__": "a key"}');
  Object.assign(span.attributes, { "bytes": new Uint8Array([0, 1, 254, 255]), "map": map() });
  const expected = { "bytes": new Uint8Array([0, 1, 254, 255]), "map": map() };
  for (const contentType of [JSON_TYPE, PROTOBUF_TYPE]) {
    const [decoded] = await decodeTraceExport(serialize([span], contentType), contentType);
    assert.deepStrictEqual(decoded.attributes, expected, contentType);
    assert.equal(Object.getPrototypeOf(decoded.attributes.map), Object.prototype);
  }
});

Deno.test("OTLP/JSON as the spec allows it: hex in any case, enum names, int64 as strings", async () => {
  const body = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "hand" } }] },
      futureField: { ignored: true },
      scopeSpans: [{
        scope: { name: "manual" },
        spans: [{
          traceId: "4BF92F3577B34DA6A3CE929D0E0E4736",
          spanId: "00F067AA0BA902B7",
          parentSpanId: "",
          name: "by hand",
          kind: "SPAN_KIND_PRODUCER",
          flags: 1,
          startTimeUnixNano: "18446744073709551615",
          endTimeUnixNano: 1_700_000_000_000_000,
          attributes: [
            { key: "int.string", value: { intValue: "-9223372036854775808" } },
            { key: "int.number", value: { intValue: 12 } },
            { key: "nan", value: { doubleValue: "NaN" } },
            { key: "inf", value: { doubleValue: "-Infinity" } },
            { key: "double.string", value: { doubleValue: "1.5" } },
            { key: "url.safe.bytes", value: { bytesValue: "-_8" } },
            { key: "empty", value: {} },
            { key: "absent" },
            { key: "null.alongside", value: { stringValue: "s", intValue: null } },
          ],
          events: [{ name: "e", timeUnixNano: "42" }],
          status: { code: "STATUS_CODE_OK", message: null },
        }],
      }],
    }],
  };
  const [span] = await decodeTraceExport(
    new TextEncoder().encode(JSON.stringify(body)),
    "application/json; charset=utf-8",
  );

  assert.deepStrictEqual(span, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "",
    traceState: "",
    flags: 1,
    name: "by hand",
    kind: "PRODUCER",
    startTimeUnixNano: 2n ** 64n - 1n,
    endTimeUnixNano: 1_700_000_000_000_000n,
    attributes: {
      "int.string": -(2n ** 63n),
      "int.number": 12,
      "nan": NaN,
      "inf": -Infinity,
      "double.string": 1.5,
      "url.safe.bytes": new Uint8Array([0xfb, 0xff]),
      "empty": null,
      "absent": null,
      "null.alongside": "s",
    },
    events: [{ name: "e", timeUnixNano: 42n, attributes: {} }],
    links: [],
    status: { code: "OK", message: "" },
    resourceAttributes: { "service.name": "hand" },
    scope: { name: "manual", version: "" },
  });
});

/** Protobuf wire-format helpers, only to craft bodies the real serializer never produces. */
function varint(value: number): number[] {
  const bytes = [];
  for (; value >= 0x80; value = Math.floor(value / 128)) bytes.push((value % 128) | 0x80);
  bytes.push(value);
  return bytes;
}
function lengthDelimited(field: number, payload: readonly number[]): number[] {
  return [...varint(field * 8 + 2), ...varint(payload.length), ...payload];
}
function varintField(field: number, value: number): number[] {
  return [...varint(field * 8), ...varint(value)];
}
function textBytes(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}
function protoSpan(fields: readonly number[]): Uint8Array {
  return new Uint8Array(lengthDelimited(1, lengthDelimited(2, lengthDelimited(2, fields))));
}
const VALID_IDS = [
  ...lengthDelimited(1, new Array(16).fill(0xab)),
  ...lengthDelimited(2, new Array(8).fill(0xcd)),
];
/** One unknown field of each wire type: varint, fixed64, length-delimited, fixed32. */
const UNKNOWN_FIELDS = [
  ...varintField(99, 300),
  ...varint(100 * 8 + 1),
  ...new Array(8).fill(7),
  ...lengthDelimited(101, textBytes("future")),
  ...varint(102 * 8 + 5),
  ...new Array(4).fill(9),
];

Deno.test("protobuf: unknown fields of every wire type are skipped, at the top and nested", async () => {
  const spans = await recordSpans();
  const plain = serialize(spans, PROTOBUF_TYPE);
  const extended = new Uint8Array([
    ...UNKNOWN_FIELDS,
    ...plain,
    ...lengthDelimited(1, UNKNOWN_FIELDS), // a ResourceSpans holding only unknown fields
    ...protoSpan([...VALID_IDS, ...UNKNOWN_FIELDS, ...lengthDelimited(5, textBytes("late"))]),
  ]);

  const decoded = await decodeTraceExport(extended, PROTOBUF_TYPE);

  assert.deepStrictEqual(
    decoded.slice(0, spans.length),
    await decodeTraceExport(plain, PROTOBUF_TYPE),
  );
  assert.equal(decoded.length, spans.length + 1);
  assert.equal(decoded[spans.length].name, "late");
  assert.equal(decoded[spans.length].spanId, "cd".repeat(8));
});

Deno.test("empty exports decode to no spans", async () => {
  assert.deepStrictEqual(await decodeTraceExport(new Uint8Array(), PROTOBUF_TYPE), []);
  for (const json of ["{}", '{"resourceSpans":[]}', '{"resourceSpans":null}']) {
    assert.deepStrictEqual(await decodeTraceExport(new TextEncoder().encode(json), JSON_TYPE), []);
  }
});

function nestedArrays(depth: number): unknown {
  let value: unknown = { stringValue: "bottom" };
  for (let i = 0; i < depth; i++) value = { arrayValue: { values: [value] } };
  return value;
}
function jsonSpanBody(span: Record<string, unknown>): string {
  const ids = { traceId: "ab".repeat(16), spanId: "cd".repeat(8) };
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...ids, ...span }] }] }] });
}

const UNDECODABLE_JSON: ReadonlyArray<[string, string | Uint8Array, RegExp]> = [
  ["not JSON", "traces, please", /not valid JSON/],
  ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /not valid JSON/],
  ["an array", "[]", /expected a JSON object, got an array/],
  ["resourceSpans of the wrong type", '{"resourceSpans":5}', /^resourceSpans: expected an array/],
  [
    "a non-hex trace id",
    jsonSpanBody({ traceId: "zz".repeat(16) }),
    /resourceSpans\[0]\.scopeSpans\[0]\.spans\[0]\.traceId: expected hex/,
  ],
  [
    "a short span id",
    jsonSpanBody({ spanId: "abcd" }),
    /spans\[0]\.spanId: expected 8 bytes, got 2/,
  ],
  ["a missing trace id", jsonSpanBody({ traceId: undefined }), /spans\[0]\.traceId: missing/],
  [
    "a fractional time",
    jsonSpanBody({ startTimeUnixNano: "1.5" }),
    /startTimeUnixNano: expected uint64/,
  ],
  ["a negative time", jsonSpanBody({ endTimeUnixNano: -1 }), /endTimeUnixNano: expected uint64/],
  ["an unknown kind name", jsonSpanBody({ kind: "SPAN_KIND_BOGUS" }), /kind: unknown enum name/],
  ["an unknown kind number", jsonSpanBody({ kind: 9 }), /kind: unknown enum value 9/],
  ["an unknown status code", jsonSpanBody({ status: { code: 3 } }), /status\.code: unknown enum/],
  [
    "an AnyValue with two values",
    jsonSpanBody({ attributes: [{ key: "k", value: { stringValue: "a", boolValue: true } }] }),
    /attributes\[0]\.value: more than one value set \(stringValue, boolValue\)/,
  ],
  [
    "an int64 out of range",
    jsonSpanBody({ attributes: [{ key: "k", value: { intValue: "9223372036854775808" } }] }),
    /attributes\[0]\.value\.intValue: expected int64/,
  ],
  [
    "invalid base64",
    jsonSpanBody({ attributes: [{ key: "k", value: { bytesValue: "%%%" } }] }),
    /bytesValue: expected base64/,
  ],
  [
    "values nested without end",
    jsonSpanBody({ attributes: [{ key: "deep", value: nestedArrays(1000) }] }),
    /nested deeper than 32/,
  ],
];

for (const [what, body, message] of UNDECODABLE_JSON) {
  Deno.test(`OTLP/JSON with ${what} → OtlpDecodeError`, async () => {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    await assert.rejects(decodeTraceExport(bytes, JSON_TYPE), (error) => {
      assert.ok(error instanceof OtlpDecodeError, `not an OtlpDecodeError: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

function nestedProtoArrays(depth: number): number[] {
  let anyValue = lengthDelimited(1, textBytes("bottom"));
  for (let i = 0; i < depth; i++) anyValue = lengthDelimited(5, lengthDelimited(1, anyValue));
  return anyValue;
}

const UNDECODABLE_PROTOBUF: ReadonlyArray<[string, Uint8Array, RegExp]> = [
  [
    "a length past the end",
    new Uint8Array([0x0a, 0x05, 0x01]),
    /^ExportTraceServiceRequest: unexpected end of data/,
  ],
  ["an endless varint", new Uint8Array(11).fill(0xff), /varint longer than 10 bytes/],
  [
    "a wire type mismatch",
    new Uint8Array(varintField(1, 1)),
    /field 1 has wire type 0, expected 2/,
  ],
  ["a group", new Uint8Array(varint(5 * 8 + 3)), /field 5 has unsupported wire type 3/],
  ["field number 0", new Uint8Array([0x02, 0x00]), /field number 0/],
  [
    "a 3-byte trace id",
    protoSpan([...lengthDelimited(1, [1, 2, 3]), ...lengthDelimited(2, new Array(8).fill(1))]),
    /^resource_spans\[0]\.scope_spans\[0]\.spans\[0]\.trace_id: expected 16 bytes, got 3/,
  ],
  [
    "no span id",
    protoSpan(lengthDelimited(1, new Array(16).fill(1))),
    /spans\[0]\.span_id: missing/,
  ],
  [
    "an invalid UTF-8 name",
    protoSpan([...VALID_IDS, ...lengthDelimited(5, [0xc3, 0x28])]),
    /spans\[0]: field 5 is not valid UTF-8/,
  ],
  [
    "an unknown kind",
    protoSpan([...VALID_IDS, ...varintField(6, 6)]),
    /kind: unknown enum value 6/,
  ],
  [
    "values nested without end",
    protoSpan([
      ...VALID_IDS,
      ...lengthDelimited(9, [
        ...lengthDelimited(1, textBytes("k")),
        ...lengthDelimited(2, nestedProtoArrays(100)),
      ]),
    ]),
    /nested deeper than 32/,
  ],
];

for (const [what, body, message] of UNDECODABLE_PROTOBUF) {
  Deno.test(`protobuf with ${what} → OtlpDecodeError`, async () => {
    await assert.rejects(decodeTraceExport(body, PROTOBUF_TYPE), (error) => {
      assert.ok(error instanceof OtlpDecodeError, `not an OtlpDecodeError: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

/** What counting checks too: the structure down to the spans, and each span's two ids. */
const BROKEN_FOR_COUNTING = new Set([
  "not JSON",
  "invalid UTF-8",
  "an array",
  "resourceSpans of the wrong type",
  "a non-hex trace id",
  "a short span id",
  "a missing trace id",
  "a length past the end",
  "an endless varint",
  "a wire type mismatch",
  "a group",
  "field number 0",
  "a 3-byte trace id",
  "no span id",
]);

Deno.test("counting rejects a broken structure or a span's bad ids as decoding does", async () => {
  const cases = [
    ...UNDECODABLE_JSON.map(([what, body, message]) => [what, body, message, JSON_TYPE] as const),
    ...UNDECODABLE_PROTOBUF.map(([what, body, message]) =>
      [what, body, message, PROTOBUF_TYPE] as const
    ),
  ].filter(([what]) => BROKEN_FOR_COUNTING.has(what));
  assert.equal(cases.length, BROKEN_FOR_COUNTING.size);
  for (const [what, body, message, contentType] of cases) {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const decodeError = await decodeTraceExport(bytes, contentType).then(
      () => assert.fail(`${what}: decoded`),
      (error: Error) => error,
    );
    await assert.rejects(countTraceSpans(bytes, contentType), (error) => {
      assert.ok(error instanceof OtlpDecodeError, `${what}: not an OtlpDecodeError: ${error}`);
      assert.match(error.message, message, what);
      // The same path and problem: a message names the place in the body the same way.
      assert.equal(error.message, decodeError.message, what);
      return true;
    });
  }
  assert.equal(await countTraceSpans(new Uint8Array(), PROTOBUF_TYPE), 0);
  assert.equal(await countTraceSpans(new TextEncoder().encode("{}"), JSON_TYPE), 0);
});

Deno.test("every truncation of a real protobuf export is rejected cleanly or decodes (and counts) a prefix", async () => {
  const body = serialize(await recordSpans(), PROTOBUF_TYPE);
  const whole = await decodeTraceExport(body, PROTOBUF_TYPE);
  // Two services, so two top-level resource_spans: a cut between them leaves a valid export.
  assert.equal(new Set(whole.map((span) => span.resourceAttributes["service.name"])).size, 2);
  const prefixLengths: number[] = [];
  for (let length = 1; length < body.length; length++) {
    let decoded: DecodedSpan[];
    try {
      decoded = await decodeTraceExport(body.subarray(0, length), PROTOBUF_TYPE);
    } catch (error) {
      assert.ok(error instanceof OtlpDecodeError, `length ${length}: ${error}`);
      // A cut inside a span breaks a length around it, and counting reads every length too.
      await assert.rejects(
        countTraceSpans(body.subarray(0, length), PROTOBUF_TYPE),
        OtlpDecodeError,
      );
      continue;
    }
    assert.equal(
      await countTraceSpans(body.subarray(0, length), PROTOBUF_TYPE),
      decoded.length,
      `length ${length}: counted`,
    );
    assert.ok(decoded.length < whole.length, `length ${length} decoded every span`);
    assert.deepStrictEqual(decoded, whole.slice(0, decoded.length), `length ${length}`);
    prefixLengths.push(length);
  }
  // Exactly one cut falls on the boundary between the two resource_spans.
  assert.equal(
    prefixLengths.length,
    1,
    `decoded at lengths ${prefixLengths.slice(0, 10).join(", ")}…`,
  );
});

Deno.test("gzip that is not gzip, or is cut short → OtlpDecodeError", async () => {
  const whole = await gzip(serialize(await recordSpans(), JSON_TYPE));
  for (
    const body of [new TextEncoder().encode("plain text"), whole.subarray(0, whole.length / 2)]
  ) {
    await assert.rejects(decodeTraceExport(body, JSON_TYPE, "gzip"), (error) => {
      assert.ok(error instanceof OtlpDecodeError, `not an OtlpDecodeError: ${error}`);
      assert.match(error.message, /gzip body could not be decompressed/);
      return true;
    });
  }
});

Deno.test("unsupported Content-Type or Content-Encoding → OtlpUnsupportedMediaTypeError", async () => {
  const body = new TextEncoder().encode("{}");
  const cases: Array<[string | null, string | undefined, RegExp]> = [
    ["text/plain", undefined, /unsupported Content-Type "text\/plain"/],
    [null, undefined, /unsupported Content-Type ""/],
    [JSON_TYPE, "br", /unsupported Content-Encoding "br"/],
  ];
  for (const [contentType, contentEncoding, message] of cases) {
    await assert.rejects(decodeTraceExport(body, contentType, contentEncoding), (error) => {
      assert.ok(error instanceof OtlpUnsupportedMediaTypeError, `wrong error: ${error}`);
      assert.ok(error instanceof OtlpDecodeError);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.deepStrictEqual(await decodeTraceExport(body, "Application/JSON", "identity"), []);
});

Deno.test("the size limit applies to the body as received and after gunzip", async () => {
  const spans = await recordSpans();
  const plain = serialize(spans, JSON_TYPE);
  const limits = { maxBodyBytes: plain.length - 1 };
  const compressed = await gzip(plain);
  assert.ok(compressed.length <= limits.maxBodyBytes, "the test needs gzip to shrink the body");

  for (
    const [body, encoding, stage] of [[plain, undefined, "received"], [
      compressed,
      "gzip",
      "decompressed",
    ]] as const
  ) {
    await assert.rejects(decodeTraceExport(body, JSON_TYPE, encoding, limits), (error) => {
      assert.ok(error instanceof OtlpPayloadTooLargeError, `wrong error: ${error}`);
      assert.ok(!(error instanceof OtlpDecodeError));
      assert.equal(error.stage, stage);
      assert.equal(error.limitBytes, limits.maxBodyBytes);
      return true;
    });
  }
  const atLimit = { maxBodyBytes: plain.length };
  const decoded = await decodeTraceExport(compressed, JSON_TYPE, "gzip", atLimit);
  assert.equal(decoded.length, spans.length);
});
