/**
 * tracegate's lean span (src/tracing/recording_span.ts, started by src/tracing/span_starter.ts)
 * against the SDK's span: the same operations on both, in one tracing setup (same sampler,
 * processors, export queue and exporter), and what a real OTLP receiver decodes must match field
 * by field, but for the span id and the start time (the SDK chooses its own).
 */
import assert from "node:assert/strict";
import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { samplerFromSettings } from "../../src/sampling.ts";
import { PooledIdGenerator } from "../../src/tracing/ids.ts";
import { SpanStarter } from "../../src/tracing/span_starter.ts";
import { W3CTraceState } from "../../src/propagation/tracestate.ts";
import { RecordingSpan } from "../../src/tracing/recording_span.ts";
import { DeferredSpan } from "../../src/tracing/deferred_span.ts";
import { TailRecordingSampler } from "../../src/sampling/tail.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { testTracing } from "../support/tracing.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const REMOTE_PARENT = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: W3CTraceState.parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
});
const LINKED = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
const LINK = {
  context: { ...LINKED, traceFlags: TraceFlags.SAMPLED, isRemote: true },
  attributes: { "tracegate.link": "inbound", count: 3, bad: {} as unknown as string },
};
/** A fixed clock for every timestamp the operations give, after the spans' own start. */
const AT = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
/** One error for both spans, so that their stack traces match. */
const THROWN = new TypeError("bad input");

/** Everything the API lets a user do to a span, limits and invalid input included. */
function exercise(span: Span, own: (attributes: Attributes) => void): void {
  span.setAttribute("string", "v");
  span.setAttribute("int", 42);
  span.setAttribute("double", 1.5);
  span.setAttribute("bool", false);
  const mutable = ["a", "b"];
  span.setAttribute("strings", mutable);
  mutable.push("changed later");
  span.setAttribute("numbers", [1, 2.5, 3]);
  span.setAttribute("with null", ["x", null as unknown as string]);
  span.setAttribute("", "empty key");
  span.setAttribute("object", {} as unknown as string);
  span.setAttribute("mixed", [1, "a"] as unknown as string[]);
  span.setAttribute("undefined", undefined as unknown as string);
  span.setAttributes({ "several.one": 1, "several.two": "2", string: "overwritten" });
  own({ "http.request.method": "GET", "url.path": "/orders/42", "server.port": 8000 });
  for (let i = 0; i < 130; i++) span.setAttribute(`filler.${i}`, i);
  span.setAttribute("string", "overwritten again, an existing key passes the limit");
  span.addEvent("plain", AT);
  span.addEvent("with attributes", { "event.key": "v", "event.bad": {} as unknown as string }, AT);
  const many: Attributes = {};
  for (let i = 0; i < 130; i++) many[`k${i}`] = i;
  span.addEvent("many attributes", many, AT);
  span.addEvent("at a time", [1_764_658_800, 5]);
  span.recordException(THROWN, AT);
  span.recordException("a string thrown", AT);
  span.recordException({ code: 503, message: "with a code" }, AT);
  span.addLink({ context: { ...LINKED, spanId: "b7ad6b7169203332", traceFlags: 0 } });
  span.setStatus({ code: SpanStatusCode.ERROR, message: "failed" });
  span.setStatus({ code: SpanStatusCode.UNSET });
  span.updateName("GET /orders/:id");
  span.end(AT.getTime() + 250);
  span.setAttribute("after end", true);
  span.addEvent("after end", AT);
  span.updateName("after end");
  span.end();
}

/** What must match: everything but the span id and the start time. */
function comparable(span: DecodedSpan) {
  const { spanId: _spanId, startTimeUnixNano: _start, ...rest } = span;
  return rest;
}

Deno.test("a recording span exports the same fields as the SDK's span for the same calls", async () => {
  await using receiver = await startOtlpReceiver();
  await using tracing = testTracing({
    OTEL_SERVICE_NAME: "lean",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });
  const lean = tracing.startSpan("GET", SpanKind.SERVER, REMOTE_PARENT, [LINK]);
  assert.ok(lean instanceof RecordingSpan);
  const sdk = tracing.tracer.startSpan(
    "GET",
    { kind: SpanKind.SERVER, links: [LINK] },
    REMOTE_PARENT,
  );
  assert.ok(!(sdk instanceof RecordingSpan));
  exercise(lean, (attributes) => lean.recordOwnAttributes(attributes));
  exercise(sdk, (attributes) => sdk.setAttributes(attributes));
  await tracing.flush();

  const spans = await receiver.waitForSpans((spans) => spans.length === 2);
  const [fromLean, fromSdk] = [lean, sdk].map((span) =>
    spans.find((decoded) => decoded.spanId === span.spanContext().spanId)!
  );
  assert.deepStrictEqual(comparable(fromLean), comparable(fromSdk));
  // What the comparison is meant to cover is really in it.
  assert.equal(fromLean.parentSpanId, "00f067aa0ba902b7");
  assert.equal(fromLean.traceState, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  assert.equal(fromLean.attributes["tracegate.sampling.reason"], "parent");
  assert.deepEqual(fromLean.attributes["strings"], ["a", "b"]);
  assert.equal(fromLean.name, "GET /orders/:id");
  assert.equal(fromLean.events.length, 7);
  assert.equal(fromLean.links.length, 2);
  assert.equal(fromLean.status.code, "ERROR");
  assert.equal(fromLean.endTimeUnixNano, BigInt(AT.getTime() + 250) * 1_000_000n);
  const startedNear = BigInt(Date.now()) * 1_000_000n - fromLean.startTimeUnixNano;
  assert.ok(startedNear >= 0n && startedNear < 60_000_000_000n);
});

Deno.test("a recording span counts what the SDK's limits drop", () => {
  using spans = recordedBy();
  const lean = spans.start("GET", SpanKind.SERVER, ROOT_CONTEXT) as RecordingSpan;
  const sdk = spans.tracer.startSpan("GET", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  exercise(lean, (attributes) => lean.recordOwnAttributes(attributes));
  exercise(sdk, (attributes) => sdk.setAttributes(attributes));
  const [fromLean, fromSdk] = spans.ended;
  for (
    const count of ["droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"] as const
  ) {
    assert.equal(fromLean[count], fromSdk[count], count);
  }
  assert.ok(fromLean.droppedAttributesCount > 0);
  assert.deepEqual(
    fromLean.events.map((event) => event.droppedAttributesCount),
    fromSdk.events.map((event) => event.droppedAttributesCount),
  );
  assert.ok(fromLean.events.some((event) => (event.droppedAttributesCount ?? 0) > 0));
});

Deno.test("the starter follows the SDK's tracer: sampler, suppression, parents, processors", () => {
  using spans = recordedBy();
  const root = spans.start("root", SpanKind.SERVER, ROOT_CONTEXT);
  assert.ok(root instanceof RecordingSpan);
  assert.match(root.spanContext().traceId, /^[0-9a-f]{32}$/);
  assert.match(root.spanContext().spanId, /^[0-9a-f]{16}$/);
  assert.equal(root.parentSpanContext, undefined);
  assert.equal(root.attributes["tracegate.sampling.reason"], "always_on");

  // Users' SDK spans nest under it, and tracegate's spans under theirs.
  const rootContext = trace.setSpan(ROOT_CONTEXT, root);
  const child = spans.tracer.startSpan("child", {}, rootContext) as unknown as ReadableSpan;
  assert.equal(child.spanContext().traceId, root.spanContext().traceId);
  assert.equal(child.parentSpanContext?.spanId, root.spanContext().spanId);
  const client = spans.start("GET", SpanKind.CLIENT, trace.setSpan(rootContext, child as never));
  assert.ok(client instanceof RecordingSpan);
  assert.equal(client.parentSpanContext?.spanId, child.spanContext().spanId);
  assert.equal(client.attributes["tracegate.sampling.reason"], undefined);

  // An unsampled caller: a context carrier, no record, nothing for the processors.
  const unsampled = spans.start(
    "GET",
    SpanKind.SERVER,
    trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    }),
  );
  assert.ok(!(unsampled instanceof RecordingSpan));
  assert.equal(unsampled.isRecording(), false);
  assert.equal(unsampled.spanContext().traceId, TRACE_ID);
  assert.equal(unsampled.spanContext().traceFlags, TraceFlags.NONE);

  const suppressed = spans.start("GET", SpanKind.CLIENT, suppressTracing(rootContext));
  assert.equal(trace.isSpanContextValid(suppressed.spanContext()), false);

  for (const span of [client, child as never as Span, root, unsampled]) span.end();
  assert.deepEqual(spans.events, [
    "start root",
    "start child",
    "start GET",
    "ending GET",
    "end GET",
    "ending child",
    "end child",
    "ending root",
    "end root",
  ]);
});

Deno.test("a deferred record-only span is recorded from its start, the processors told then", () => {
  // What the proxy's sampler does with a request not head-sampled: record it for the tail rules.
  const sampler = new TailRecordingSampler(
    samplerFromSettings({ name: "parentbased_always_off", ratio: 1 }),
  );
  using spans = recordedBy({ sampler, deferRecordOnly: true });
  const before = Date.now();
  const server = spans.start("GET", SpanKind.SERVER, ROOT_CONTEXT);
  assert.ok(server instanceof DeferredSpan);
  assert.equal(server.isRecording(), false);
  // A span under it is deferred too, with its own ids in the same trace.
  const client = spans.start("GET", SpanKind.CLIENT, trace.setSpan(ROOT_CONTEXT, server));
  assert.ok(client instanceof DeferredSpan);
  assert.equal(client.spanContext().traceId, server.spanContext().traceId);
  server.setAttribute("dropped", true).end();
  assert.deepEqual(spans.events, []);

  // The clock moves on before the outcome is known (not a wait for anything).
  while (Date.now() < before + 3);
  const recorded = server.record();
  assert.ok(recorded instanceof RecordingSpan);
  assert.equal(recorded.isRecording(), true);
  assert.equal(recorded.spanContext(), server.spanContext());
  assert.equal(recorded.spanContext().traceFlags, TraceFlags.NONE);
  const [seconds, nanos] = recorded.startTime;
  const startMillis = seconds * 1000 + nanos / 1e6;
  assert.ok(startMillis >= before - 1 && startMillis < before + 3, `${startMillis - before} ms`);
  assert.equal(recorded.attributes["dropped"], undefined);
  const recordedClient = client.record();
  assert.equal(recordedClient.parentSpanContext?.spanId, server.spanContext().spanId);
  assert.deepEqual(spans.events, ["start GET", "start GET"]);
  recordedClient.end();
  recorded.end();
  assert.deepEqual(spans.ended.map((span) => span.kind), [SpanKind.CLIENT, SpanKind.SERVER]);
});

Deno.test("a recording span's end and duration read as the SDK span's, an end before the start clamped", () => {
  using spans = recordedBy();
  const pairs = [AT, new Date(0), undefined].map((end) => {
    const lean = spans.start("GET", SpanKind.SERVER, ROOT_CONTEXT) as RecordingSpan;
    const sdk = spans.tracer.startSpan("GET", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    assert.deepEqual([lean.endTime, lean.duration], [[0, 0], [-1, -1]]);
    lean.end(end);
    sdk.end(end);
    return [lean, sdk as unknown as ReadableSpan] as const;
  });
  for (const [lean, sdk] of pairs) {
    for (const span of [lean, sdk]) {
      const [start, end, duration] = [span.startTime, span.endTime, span.duration];
      const nanos = (time: readonly number[]) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
      assert.equal(nanos(end) - nanos(start), nanos(duration));
      assert.ok(nanos(duration) >= 0n);
    }
  }
  const [[atLean, atSdk], [earlyLean, earlySdk]] = pairs;
  assert.deepEqual(atLean.endTime, atSdk.endTime);
  assert.deepEqual([earlyLean.endTime, earlyLean.duration], [earlyLean.startTime, [0, 0]]);
  assert.deepEqual(earlySdk.duration, [0, 0]);
  // A performance timestamp: both spans turn it into wall time with their start's clock offset,
  // which differ by the wall clock's millisecond at most.
  const lean = spans.start("GET", SpanKind.SERVER, ROOT_CONTEXT) as RecordingSpan;
  const sdk = spans.tracer.startSpan("GET", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const at = performance.now();
  lean.end(at);
  sdk.end(at);
  const millis = (time: readonly number[]) => time[0] * 1000 + time[1] / 1e6;
  const apart = millis(lean.endTime) - millis((sdk as unknown as ReadableSpan).endTime);
  assert.ok(Math.abs(apart) < 1000, `${apart} ms apart`);
});

/**
 * tracegate's starter and an SDK provider over the same sampler and one processor that writes
 * down what it is told and keeps the ended spans (users cannot plug processors into tracegate's
 * provider: this is the contract the baggage processor and the export queue rely on).
 */
function recordedBy(
  { sampler = samplerFromSettings({ name: "parentbased_always_on", ratio: 1 }), deferRecordOnly }: {
    sampler?: Sampler;
    deferRecordOnly?: boolean;
  } = {},
) {
  const events: string[] = [];
  const ended: ReadableSpan[] = [];
  const processor: SpanProcessor = {
    onStart: (span) => void events.push(`start ${span.name}`),
    onEnding: (span) => void events.push(`ending ${span.name}`),
    onEnd: (span) => {
      events.push(`end ${span.name}`);
      ended.push(span);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const resource = resourceFromAttributes({ "service.name": "lean" });
  const provider = new BasicTracerProvider({ resource, sampler, spanProcessors: [processor] });
  const starter = new SpanStarter({
    sampler,
    processors: [processor],
    resource,
    scope: { name: "tracegate" },
    ids: new PooledIdGenerator(),
    deferRecordOnly,
  });
  return {
    start: starter.start,
    tracer: provider.getTracer("tracegate"),
    events,
    ended,
    [Symbol.dispose]: () => {},
  };
}
