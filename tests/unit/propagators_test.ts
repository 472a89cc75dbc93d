import assert from "node:assert/strict";
import {
  type Context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
  TraceFlags,
  type TraceState,
} from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import {
  BaggagePropagator,
  createPropagator,
  headersGetter,
  headersSetter,
  isTraceRandom,
  PROPAGATOR_NAMES,
  TraceContextPropagator,
  traceparentOf,
  W3CTraceState,
  withTraceRandomness,
} from "../../src/propagation/mod.ts";
import { isValidSpanContext } from "../../src/propagation/valid_span_context.ts";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID = "b7ad6b7169203331";
const tracer = new BasicTracerProvider().getTracer("propagators_test");
const traceContext = new TraceContextPropagator();

function extract(headers: HeadersInit, propagator = traceContext): Context {
  return propagator.extract(ROOT_CONTEXT, new Headers(headers), headersGetter);
}

function inject(context: Context, propagator = traceContext): Headers {
  const headers = new Headers();
  propagator.inject(context, headers, headersSetter);
  return headers;
}

/** The context of a real SDK span started under `parent`, as a handler would see it. */
function childOf(parent: Context): Context {
  return trace.setSpan(parent, tracer.startSpan("child", {}, parent));
}

function withSpanContext(spanContext: SpanContext): Context {
  return trace.setSpanContext(ROOT_CONTEXT, spanContext);
}

Deno.test("extract reads a valid traceparent and tracestate as a remote parent", () => {
  const context = extract({
    TraceParent: `00-${TRACE_ID}-${PARENT_ID}-03`,
    TRACESTATE: "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7",
  });
  const spanContext = trace.getSpanContext(context);
  assert.ok(spanContext);
  assert.equal(spanContext.traceId, TRACE_ID);
  assert.equal(spanContext.spanId, PARENT_ID);
  assert.equal(spanContext.traceFlags, TraceFlags.SAMPLED);
  assert.equal(spanContext.isRemote, true);
  assert.equal(spanContext.traceState?.serialize(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  assert.equal(isTraceRandom(context, TRACE_ID), true);
  assert.equal(
    isTraceRandom(extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }), TRACE_ID),
    false,
  );
});

Deno.test("extract starts over on two traceparent header lines", () => {
  const headers = new Headers();
  headers.append("traceparent", `00-${TRACE_ID}-${PARENT_ID}-01`);
  headers.append("traceparent", `00-${TRACE_ID}-${PARENT_ID}-01`);
  headers.append("tracestate", "foo=1");
  const context = traceContext.extract(ROOT_CONTEXT, headers, headersGetter);
  assert.equal(context, ROOT_CONTEXT);
  assert.equal(trace.getSpanContext(context), undefined);
});

Deno.test("extract ignores tracestate when the traceparent is invalid", () => {
  for (
    const traceparent of [
      `ff-${TRACE_ID}-${PARENT_ID}-01`,
      `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
    ]
  ) {
    const context = extract({ traceparent, tracestate: "foo=1" });
    assert.equal(trace.getSpanContext(context), undefined, traceparent);
  }
  assert.equal(trace.getSpanContext(extract({ tracestate: "foo=1" })), undefined);
});

Deno.test("extract discards an invalid tracestate whole but keeps the traceparent", () => {
  const headers = new Headers({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
  headers.append("tracestate", "foo=1,bar=2");
  headers.append("tracestate", "Foo=3");
  const spanContext = trace.getSpanContext(
    traceContext.extract(ROOT_CONTEXT, headers, headersGetter),
  );
  assert.equal(spanContext?.traceId, TRACE_ID);
  assert.equal(spanContext?.traceState, undefined);

  // A repeated key is no reason to drop the list (W3C test suite): later duplicates go.
  const repeated = new Headers({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
  repeated.append("tracestate", "foo=1,bar=2");
  repeated.append("tracestate", "foo=3");
  const kept = trace.getSpanContext(traceContext.extract(ROOT_CONTEXT, repeated, headersGetter));
  assert.equal(kept?.traceId, TRACE_ID);
  assert.equal(kept?.traceState?.serialize(), "foo=1,bar=2");

  const thirtyThree = Array.from({ length: 33 }, (_, i) => `k${i}=${i}`).join(",");
  const tooMany = extract({
    traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
    tracestate: thirtyThree,
  });
  assert.equal(trace.getSpanContext(tooMany)?.traceState, undefined);
});

Deno.test("inject keeps the random flag on a child span of a remote parent", () => {
  const incoming = extract({
    traceparent: `00-${TRACE_ID}-${PARENT_ID}-03`,
    tracestate: "congo=t61rcWkgMzE",
  });
  const child = childOf(incoming);
  const childSpanId = trace.getSpanContext(child)?.spanId;
  assert.ok(childSpanId && childSpanId !== PARENT_ID);
  const outgoing = inject(child);
  assert.equal(outgoing.get("traceparent"), `00-${TRACE_ID}-${childSpanId}-03`);
  assert.equal(outgoing.get("tracestate"), "congo=t61rcWkgMzE");
  assert.equal(traceparentOf(child), outgoing.get("traceparent"));
});

Deno.test("inject writes the caller's flags: not random, random unsampled", () => {
  const notRandom = childOf(extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }));
  assert.match(
    inject(notRandom).get("traceparent") ?? "",
    new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`),
  );
  const unsampled = childOf(extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-02` }));
  assert.match(
    inject(unsampled).get("traceparent") ?? "",
    new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-02$`),
  );
  assert.equal(inject(unsampled).get("tracestate"), null);
});

Deno.test("inject marks a trace started in this process as random", () => {
  const root = trace.setSpan(ROOT_CONTEXT, tracer.startSpan("root", {}, ROOT_CONTEXT));
  const { traceId, spanId } = trace.getSpanContext(root)!;
  assert.equal(inject(root).get("traceparent"), `00-${traceId}-${spanId}-03`);
});

Deno.test("inject forwards an extracted traceparent with its flags unchanged", () => {
  const traceparent = `00-${TRACE_ID}-${PARENT_ID}-03`;
  const outgoing = inject(extract({ traceparent, tracestate: "a=1,b=2" }));
  assert.equal(outgoing.get("traceparent"), traceparent);
  assert.equal(outgoing.get("tracestate"), "a=1,b=2");
});

Deno.test("inject writes nothing when tracing is suppressed or there is no valid span", () => {
  const extracted = extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: "a=1" });
  const suppressed = suppressTracing(extracted);
  assert.deepEqual([...inject(suppressed).keys()], []);
  assert.equal(traceparentOf(suppressed), undefined);
  assert.deepEqual([...inject(ROOT_CONTEXT).keys()], []);
  const invalid = withSpanContext({ traceId: "0".repeat(32), spanId: PARENT_ID, traceFlags: 1 });
  assert.deepEqual([...inject(invalid).keys()], []);
  assert.equal(traceparentOf(invalid), undefined);
});

Deno.test("inject lower-cases ids and never writes an invalid tracestate", () => {
  const invalidList: TraceState = {
    get: () => undefined,
    set() {
      return this;
    },
    unset() {
      return this;
    },
    serialize: () => "foo=1,Foo=2",
  };
  const context = withSpanContext({
    traceId: TRACE_ID.toUpperCase(),
    spanId: PARENT_ID.toUpperCase(),
    traceFlags: TraceFlags.SAMPLED,
    traceState: invalidList,
  });
  const outgoing = inject(withTraceRandomness(context, TRACE_ID.toUpperCase(), false));
  assert.equal(outgoing.get("traceparent"), `00-${TRACE_ID}-${PARENT_ID}-01`);
  assert.equal(outgoing.get("tracestate"), null);

  const ours = W3CTraceState.EMPTY.set("a", "1").set("b", "2");
  const withOurs = withSpanContext({
    traceId: TRACE_ID,
    spanId: PARENT_ID,
    traceFlags: 0,
    traceState: ours,
  });
  assert.equal(inject(withOurs).get("tracestate"), "b=2,a=1");
  const emptied = withSpanContext({
    traceId: TRACE_ID,
    spanId: PARENT_ID,
    traceFlags: 0,
    traceState: ours.unset("a").unset("b"),
  });
  assert.equal(inject(emptied).get("tracestate"), null);
});

Deno.test("trace randomness is recorded per trace id and defaults to random", () => {
  const other = "1".repeat(32);
  assert.equal(isTraceRandom(ROOT_CONTEXT, TRACE_ID), true);
  const notRandom = withTraceRandomness(ROOT_CONTEXT, TRACE_ID, false);
  assert.equal(isTraceRandom(notRandom, TRACE_ID), false);
  assert.equal(isTraceRandom(notRandom, other), true);
  assert.equal(isTraceRandom(withTraceRandomness(notRandom, TRACE_ID, true), TRACE_ID), true);
  assert.equal(isTraceRandom(ROOT_CONTEXT, TRACE_ID), true);
});

Deno.test("baggage propagator round-trips through Headers, several lines included", () => {
  const baggagePropagator = new BaggagePropagator();
  const headers = new Headers();
  headers.append("Baggage", "userId=alice, serverNode=DF%2028;p=1");
  headers.append("baggage", "isProduction=false,bad key=1");
  const context = baggagePropagator.extract(ROOT_CONTEXT, headers, headersGetter);
  const baggage = propagation.getBaggage(context);
  assert.equal(baggage?.getEntry("serverNode")?.value, "DF 28");
  assert.equal(baggage?.getEntry("serverNode")?.metadata?.toString(), "p=1");
  assert.equal(baggage?.getAllEntries().length, 3);
  assert.equal(
    inject(context, baggagePropagator).get("baggage"),
    "userId=alice,serverNode=DF%2028;p=1,isProduction=false",
  );
  assert.deepEqual([...inject(suppressTracing(context), baggagePropagator).keys()], []);
  assert.equal(extract({ baggage: "bad key=1" }, baggagePropagator), ROOT_CONTEXT);
  assert.deepEqual(baggagePropagator.fields(), ["baggage"]);
});

Deno.test("createPropagator composes tracecontext and baggage", () => {
  const propagator = createPropagator(["tracecontext", "baggage"]);
  assert.deepEqual(propagator.fields(), ["traceparent", "tracestate", "baggage"]);
  assert.deepEqual(traceContext.fields(), ["traceparent", "tracestate"]);
  const incoming = {
    traceparent: `00-${TRACE_ID}-${PARENT_ID}-03`,
    tracestate: "a=1",
    baggage: "k=v%20w",
  };
  const outgoing = inject(extract(incoming, propagator), propagator);
  assert.deepEqual(Object.fromEntries(outgoing), incoming);
});

Deno.test("createPropagator with none does nothing", () => {
  for (const names of [["none"], []] as const) {
    const propagator = createPropagator(names);
    const incoming = { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, baggage: "k=v" };
    assert.equal(extract(incoming, propagator), ROOT_CONTEXT);
    assert.deepEqual([...inject(extract(incoming), propagator).keys()], []);
    assert.deepEqual(propagator.fields(), []);
  }
  assert.deepEqual(PROPAGATOR_NAMES, ["tracecontext", "baggage", "b3", "b3multi", "none"]);
});

Deno.test("createPropagator writes B3 as a single header or as several", () => {
  const context = extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
  assert.deepEqual(Object.fromEntries(inject(context, createPropagator(["b3"]))), {
    b3: `${TRACE_ID}-${PARENT_ID}-1`,
  });
  assert.deepEqual(Object.fromEntries(inject(context, createPropagator(["b3multi"]))), {
    "x-b3-traceid": TRACE_ID,
    "x-b3-spanid": PARENT_ID,
    "x-b3-sampled": "1",
  });
  const fromB3 = extract({ b3: `${TRACE_ID}-${PARENT_ID}-1` }, createPropagator(["b3"]));
  assert.equal(trace.getSpanContext(fromB3)?.traceId, TRACE_ID);
});

Deno.test("a trace brought in by B3 is not marked random in the traceparent", () => {
  const propagator = createPropagator(["tracecontext", "b3multi"]);
  const fromB3 = extract(
    { "X-B3-TraceId": TRACE_ID, "X-B3-SpanId": PARENT_ID, "X-B3-Sampled": "1" },
    propagator,
  );
  const outgoing = inject(childOf(fromB3), propagator);
  assert.match(outgoing.get("traceparent") ?? "", new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));

  const both = extract(
    { traceparent: `00-${TRACE_ID}-${PARENT_ID}-03`, b3: `${TRACE_ID}-${PARENT_ID}-1` },
    createPropagator(["tracecontext", "b3"]),
  );
  assert.equal(isTraceRandom(both, TRACE_ID), true);
});

Deno.test("B3 is read strictly: upper-case ids lower-cased, ids of the wrong length refused", () => {
  const upper = TRACE_ID.toUpperCase();
  const upperParent = PARENT_ID.toUpperCase();
  for (const name of ["b3", "b3multi"] as const) {
    const propagator = createPropagator(["tracecontext", name]);
    const headers: Record<string, string> = name === "b3"
      ? { b3: `${upper}-${upperParent}-1` }
      : { "X-B3-TraceId": upper, "X-B3-SpanId": upperParent, "X-B3-Sampled": "1" };
    const extracted = trace.getSpanContext(extract(headers, propagator));
    assert.equal(extracted?.traceId, TRACE_ID, name);
    assert.equal(extracted?.spanId, PARENT_ID, name);
    const outgoing = inject(childOf(extract(headers, propagator)), propagator);
    for (const [header, value] of outgoing) {
      assert.equal(value, value.toLowerCase(), `${name}: ${header}: ${value}`);
    }
  }
  const refused: [string, Record<string, string>][] = [
    ["15-digit X-B3-TraceId", { "X-B3-TraceId": TRACE_ID.slice(17), "X-B3-SpanId": PARENT_ID }],
    ["31-digit X-B3-TraceId", { "X-B3-TraceId": TRACE_ID.slice(1), "X-B3-SpanId": PARENT_ID }],
    ["15-digit X-B3-SpanId", { "X-B3-TraceId": TRACE_ID, "X-B3-SpanId": PARENT_ID.slice(1) }],
    ["17-digit trace id in b3", { b3: `f${TRACE_ID.slice(16)}-${PARENT_ID}-1` }],
    ["33-digit trace id in b3", { b3: `f${TRACE_ID}-${PARENT_ID}-1` }],
    ["15-digit span id in b3", { b3: `${TRACE_ID}-${PARENT_ID.slice(1)}-1` }],
    ["junk after b3", { b3: `${TRACE_ID}-${PARENT_ID}-1-${PARENT_ID}x` }],
  ];
  for (const [name, headers] of refused) {
    const propagator = createPropagator([headers.b3 ? "b3" : "b3multi"]);
    assert.equal(trace.getSpanContext(extract(headers, propagator)), undefined, name);
  }
  // A 64-bit trace id is valid B3: it is widened to 128 bits, as the B3 specification says.
  const short = trace.getSpanContext(
    extract({ b3: `${TRACE_ID.slice(16)}-${PARENT_ID}-1` }, createPropagator(["b3"])),
  );
  assert.equal(short?.traceId, `${"0".repeat(16)}${TRACE_ID.slice(16)}`);
});

Deno.test("isValidSpanContext answers as the API's isSpanContextValid, however often asked", () => {
  const contexts: SpanContext[] = [
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 },
    { traceId: "4BF92F3577B34DA6A3CE929D0E0E4736", spanId: "00F067AA0BA902B7", traceFlags: 0 },
    { traceId: "0".repeat(32), spanId: "00f067aa0ba902b7", traceFlags: 1 },
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "0".repeat(16), traceFlags: 1 },
    { traceId: "4bf92f3577b34da6a3ce929d0e0e47", spanId: "00f067aa0ba902b7", traceFlags: 1 },
    { traceId: "4bf92f3577b34da6a3ce929d0e0e473g", spanId: "00f067aa0ba902b7", traceFlags: 1 },
  ];
  for (const context of [...contexts, ...contexts]) {
    assert.equal(isValidSpanContext(context), isSpanContextValid(context), JSON.stringify(context));
  }
});
