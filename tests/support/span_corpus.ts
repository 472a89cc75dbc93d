/**
 * Spans for encoder tests, made by the real SDK: a fixed corpus covering every field OTLP carries,
 * and random spans from a seeded generator (same seed, same spans).
 */
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { seededRandom } from "./seeded_random.ts";

class Collect implements SpanProcessor {
  readonly spans: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  forceFlush = () => Promise.resolve();
  shutdown = () => Promise.resolve();
}

const recordOnly: Sampler = {
  shouldSample: () => ({ decision: SamplingDecision.RECORD }),
  toString: () => "recordOnly",
};

function provider(resource: Attributes, sampler: Sampler = new AlwaysOnSampler()) {
  const collect = new Collect();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    sampler,
    spanProcessors: [collect],
    spanLimits: { attributeCountLimit: 64, eventCountLimit: 4, linkCountLimit: 3 },
  });
  return { collect, provider };
}

function remoteParent(flags: number, traceState?: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    traceFlags: flags,
    isRemote: true,
    traceState: traceState === undefined ? undefined : new TraceState(traceState),
  });
}

const EVERY_ATTRIBUTE: Attributes = {
  "str": "value",
  "str.empty": "",
  "str.unicode": "žluťoučký kůň — 日本語 — 🚀 — \u{10FFFF}",
  "str.escapes": 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f',
  "str.long": "x".repeat(300),
  "int": 42,
  "int.zero": 0,
  "int.negative": -7,
  "int.min_safe": Number.MIN_SAFE_INTEGER,
  "int.max_safe": Number.MAX_SAFE_INTEGER,
  "int.huge": 2 ** 62,
  "double": 3.25,
  "double.tiny": 5e-324,
  "double.negative": -0.5,
  "bool.true": true,
  "bool.false": false,
  "array.str": ["a", "", "ü"],
  "array.int": [1, -1, 0, 2 ** 40],
  "array.double": [0.5, -1.5],
  "array.bool": [true, false],
  "array.empty": [],
  "array.with_null": ["a", null, "b"] as AttributeValue,
  "ключ 🔑": "unicode key",
  "": "empty key",
};

/** Every span shape the encoders must handle, ended and ready to export. */
export function spanCorpus(): ReadableSpan[] {
  const first = provider({ "service.name": "corpus", "host.arch": "amd64", "ok": true, "n": 3 });
  const second = provider({ "service.name": "other", "ünïcode": "résumé" }, recordOnly);
  const t0 = 1_764_633_600_123;
  const tracer = first.provider.getTracer("tracegate-test", "1.2.3", {
    schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
  });
  const bare = first.provider.getTracer("bare");

  const root = tracer.startSpan("GET /users/:id", {
    kind: SpanKind.SERVER,
    attributes: EVERY_ATTRIBUTE,
    startTime: t0,
  });
  root.addEvent("no attributes", t0 + 1);
  root.addEvent("with attributes", { "event.int": 1, "event.str": "ű", "event.arr": [1.5] }, [
    1_764_633_600,
    999_999_999,
  ]);
  root.setStatus({ code: SpanStatusCode.ERROR, message: "boom — ошибка" });
  root.end(t0 + 25);

  const rootContext = trace.setSpan(context.active(), root);
  const links: Link[] = [
    { context: root.spanContext() },
    {
      context: {
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
        traceState: new TraceState("vendor=value,ot=th:8"),
      },
      attributes: { "link.attr": "x", "link.n": [1, 2] },
      droppedAttributesCount: 2,
    },
    { context: { ...root.spanContext(), traceFlags: 0 }, attributes: {} },
    { context: root.spanContext(), attributes: { "dropped": "over the limit" } },
  ];
  const child = tracer.startSpan("client", { kind: SpanKind.CLIENT, links }, rootContext);
  for (let i = 0; i < 70; i++) child.setAttribute(`attr.${i}`, i);
  for (let i = 0; i < 6; i++) child.addEvent(`event ${i}`, { i });
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();

  for (
    const [kind, flags, traceState] of [
      [SpanKind.PRODUCER, TraceFlags.SAMPLED, "a=1,b=2"],
      [SpanKind.CONSUMER, TraceFlags.SAMPLED | 0x02, ""],
      [SpanKind.INTERNAL, TraceFlags.SAMPLED, undefined],
    ] as const
  ) {
    bare.startSpan("", { kind }, remoteParent(flags, traceState)).end();
  }
  bare.startSpan("many", { attributes: manyAttributes(400) }).end();

  const unsampled = second.provider.getTracer("second", "0.0.1");
  const recorded = unsampled.startSpan("record only 🧪", {
    kind: SpanKind.SERVER,
  }, remoteParent(0));
  recorded.setStatus({ code: SpanStatusCode.UNSET, message: "" });
  recorded.end();

  // Interleaved resources and scopes: each resource and scope is one group in the request.
  const [a, b, c, d, ...rest] = first.collect.spans;
  return [a, second.collect.spans[0], b, c, d, ...rest];
}

function manyAttributes(count: number): Attributes {
  const attributes: Attributes = {};
  for (let i = 0; i < count; i++) attributes[`k${i}`] = `v${i}`.repeat(i % 7);
  return attributes;
}

const ALPHABET = ["a", "Z", "0", " ", '"', "\\", "\n", "é", "日", "🚀", "\u0001", "-"];

/**
 * `count` random spans: random names, kinds, attribute types and sizes, events, links, status,
 * parents and trace states. `jsonSafe` keeps out the numbers the transformer's OTLP/JSON gets
 * wrong: NaN and ±Infinity (it writes null) and integers beyond int64 (it writes them as intValue).
 * `repeating` draws attribute keys from a few and values often from a few, as a service's spans
 * repeat them (what the protobuf encoder's attribute cache is for), types changing under a key.
 */
export function randomSpans(
  seed: number,
  count: number,
  jsonSafe = false,
  repeating = false,
): ReadableSpan[] {
  const random = seededRandom(seed);
  const int = (max: number) => Math.floor(random() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const text = (max: number) => {
    let out = "";
    for (let i = int(max); i > 0; i--) out += pick(ALPHABET);
    return out;
  };
  const hex = (bytes: number) => {
    let out = "";
    for (let i = 0; i < bytes * 2; i++) out += "0123456789abcdef"[int(16)];
    return out;
  };
  const number = (): number => {
    switch (int(6)) {
      case 0:
        return int(1000) - 500;
      case 1:
        return (random() - 0.5) * 10 ** int(jsonSafe ? 19 : 30);
      case 2:
        return Math.floor((random() - 0.5) * 2 ** 63);
      case 3:
        return jsonSafe ? 1.5 : pick([NaN, Infinity, -Infinity]);
      case 4:
        return pick([0, -0, 2 ** 53, -(2 ** 53)]);
      default:
        return random();
    }
  };
  const value = (): AttributeValue => {
    switch (int(7)) {
      case 0:
        return text(40);
      case 1:
        return number();
      case 2:
        return random() < 0.5;
      case 3:
        return Array.from({ length: int(5) }, () => text(8));
      case 4:
        return Array.from({ length: int(5) }, number);
      case 5:
        return Array.from({ length: int(5) }, () => random() < 0.5);
      default:
        return text(400);
    }
  };
  // Drawn only when repeating: the other seeds' spans stay what they were.
  const keys = repeating ? Array.from({ length: 6 }, (_, i) => `${text(12)}${i}`) : [];
  const values: AttributeValue[] = !repeating ? [] : [
    "GET",
    "x".repeat(200), // a KeyValue whose length takes two bytes
    text(20),
    0,
    -0,
    8000,
    -1,
    2.5,
    true,
    false,
  ];
  const attributes = (max: number): Attributes => {
    const out: Attributes = {};
    for (let i = int(max); i > 0; i--) {
      if (repeating) out[pick(keys)] = random() < 0.7 ? pick(values) : value();
      else out[text(12)] = value();
    }
    return out;
  };

  const { collect, provider: p } = provider(attributes(5));
  const tracers = [p.getTracer(text(10) || "t"), p.getTracer("versioned", text(6))];
  for (let i = 0; i < count; i++) {
    const parent = random() < 0.5 ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, {
      traceId: hex(16),
      spanId: hex(8),
      traceFlags: pick([0, 1, 2, 3]),
      isRemote: random() < 0.5,
      traceState: random() < 0.5 ? new TraceState(`k${int(9)}=${hex(4)}`) : undefined,
    });
    const start = 1_000_000_000_000 + int(2 ** 40);
    const span = pick(tracers).startSpan(text(30), {
      kind: int(5) as SpanKind,
      startTime: [Math.floor(start / 1000), int(1e9)],
      attributes: attributes(12),
      links: Array.from({ length: int(4) }, () => ({
        context: {
          traceId: hex(16),
          spanId: hex(8),
          traceFlags: int(2),
          isRemote: random() < 0.5,
        },
        attributes: attributes(3),
      })),
    }, parent);
    for (let e = int(6); e > 0; e--) span.addEvent(text(10), attributes(4), start + int(1000));
    if (random() < 0.5) span.setStatus({ code: int(3) as SpanStatusCode, message: text(20) });
    span.end(start + int(100_000));
  }
  return collect.spans;
}
