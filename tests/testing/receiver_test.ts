/**
 * The public testing module (`tracegate/testing`) under Deno: real exporters and the real
 * middleware send to its receiver; what they sent must come out decoded, grouped and waited for.
 */
import assert from "node:assert/strict";
import { SpanKind } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import { tracegate } from "../../middleware/mod.ts";
import {
  newTraceparent,
  startTraceReceiver,
  traceOfResponse,
  type TraceReceiver,
} from "../../testing/mod.ts";

/** Exports, through a real OTLP exporter, one parent and one child span of a new trace. */
async function exportTwoSpans(
  receiver: TraceReceiver,
  exporter: "json" | "protobuf" | "json gzip",
): Promise<{ traceId: string; parentId: string; childId: string }> {
  const config = {
    url: receiver.tracesUrl,
    ...(exporter === "json gzip" ? { compression: "gzip" as never } : {}),
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "shop", "deployment.tier": 2 }),
    spanProcessors: [
      new SimpleSpanProcessor(
        exporter === "protobuf" ? new ProtobufExporter(config) : new JsonExporter(config),
      ),
    ],
  });
  const tracer = provider.getTracer("shop-tests", "1.0.0");
  const parent = tracer.startSpan("checkout", {
    kind: SpanKind.SERVER,
    attributes: { "cart.items": 3, "cart.tags": ["a", "b"], "cart.paid": true },
  });
  const parentContext = parent.spanContext();
  const { trace: traceApi, context } = await import("@opentelemetry/api");
  const child = tracer.startSpan(
    "charge card",
    { kind: SpanKind.CLIENT },
    traceApi.setSpan(context.active(), parent),
  );
  child.end();
  parent.end();
  await provider.shutdown();
  return {
    traceId: parentContext.traceId,
    parentId: parentContext.spanId,
    childId: child.spanContext().spanId,
  };
}

for (const exporter of ["json", "protobuf", "json gzip"] as const) {
  Deno.test(`testing: ${exporter} export arrives decoded, with resource, scope and a tree`, async () => {
    await using receiver = await startTraceReceiver();
    const sent = await exportTwoSpans(receiver, exporter);

    const trace = await receiver.waitForTrace(sent.traceId, { spans: 2 });

    assert.equal(trace.traceId, sent.traceId);
    assert.equal(trace.outline(), "SERVER shop checkout\n  CLIENT shop charge card");
    assert.equal(trace.roots.length, 1);
    assert.equal(trace.roots[0].span.spanId, sent.parentId);
    assert.equal(trace.roots[0].children[0].span.spanId, sent.childId);
    const parent = trace.roots[0].span;
    assert.match(parent.traceId, /^[0-9a-f]{32}$/);
    assert.equal(parent.parentSpanId, "");
    assert.deepEqual(parent.attributes, {
      "cart.items": 3,
      "cart.tags": ["a", "b"],
      "cart.paid": true,
    });
    assert.equal(parent.resourceAttributes["service.name"], "shop");
    assert.equal(parent.resourceAttributes["deployment.tier"], 2);
    assert.deepEqual(parent.scope, { name: "shop-tests", version: "1.0.0" });
    assert.equal(receiver.spans.length, 2);
  });
}

Deno.test("testing: a Hono app with the middleware, as the module docs show it", async () => {
  await using receiver = await startTraceReceiver();
  const app = new Hono()
    .use(tracegate({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } }))
    .get("/hello/:name", (c) => c.text(`hi ${c.req.param("name")}`));

  const caller = newTraceparent();
  const response = await app.request("/hello/ada", { headers: { traceparent: caller.header } });
  assert.equal(await response.text(), "hi ada");

  const handedBack = traceOfResponse(response);
  assert.equal(handedBack?.traceId, caller.traceId);
  assert.equal(handedBack?.sampled, true);
  const trace = await receiver.waitForTrace(caller.traceId, { spans: 1 });
  assert.equal(trace.outline(), "SERVER unknown_service GET /hello/:name");
  assert.equal(trace.spans[0].parentSpanId, caller.parentId);
  assert.equal(trace.spans[0].spanId, handedBack?.spanId);
  assert.equal(trace.spans[0].attributes["http.response.status_code"], 200);
});

Deno.test("testing: the receiver leaves the runtime's Request and Response alone", async () => {
  const { Request, Response } = globalThis;
  await using receiver = await startTraceReceiver();
  await exportTwoSpans(receiver, "json");
  assert.equal(globalThis.Request, Request);
  assert.equal(globalThis.Response, Response);
});

Deno.test("testing: a wait for a trace that never comes fails in bounded time, listing what came", async () => {
  await using receiver = await startTraceReceiver();
  const sent = await exportTwoSpans(receiver, "json");
  const missing = newTraceparent().traceId;

  await assert.rejects(
    receiver.waitForTrace(missing, { spans: 1, timeoutMs: 100 }),
    (error: Error) => {
      assert.match(error.message, new RegExp(`^waitForTrace\\(${missing}, \\{ spans: 1 \\}\\)`));
      assert.match(error.message, /not there after 100 ms/);
      assert.match(error.message, /2 span\(s\) arrived/);
      assert.match(error.message, new RegExp(`trace ${sent.traceId}:`));
      assert.match(error.message, /- SERVER "checkout" span=[0-9a-f]{16} service=shop/);
      assert.match(error.message, /- CLIENT "charge card" .* parent=[0-9a-f]{16} service=shop/);
      return true;
    },
  );
  // Too few spans of the right trace also times out, rather than resolving early.
  await assert.rejects(
    receiver.waitForTrace(sent.traceId, { spans: 3, timeoutMs: 100 }),
    /spans: 3 \}\): not there after 100 ms/,
  );
});

Deno.test("testing: refused exports are named in the failure message", async () => {
  await using receiver = await startTraceReceiver();
  const refused = await fetch(receiver.tracesUrl, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "spans?",
  });
  assert.equal(refused.status, 415);
  await refused.body?.cancel();
  await assert.rejects(
    receiver.waitForSpans((spans) => spans.length > 0, { timeoutMs: 50 }),
    /No spans arrived.\n1 export\(s\) refused:\n {2}- 415: unsupported Content-Type "text\/plain"/,
  );
});

Deno.test("testing: waitForSpans resolves on the export that satisfies it; clear() forgets", async () => {
  await using receiver = await startTraceReceiver();
  // The child ends, and is exported, first: the wait resolves on the parent's export.
  const waiting = receiver.waitForSpans((spans) => spans.some((span) => span.kind === "SERVER"));
  const sent = await exportTwoSpans(receiver, "protobuf");
  const spans = await waiting;
  assert.deepEqual(
    new Set(spans.map((span) => span.spanId)),
    new Set([sent.parentId, sent.childId]),
  );

  receiver.clear();
  assert.equal(receiver.spans.length, 0);
  assert.equal(receiver.trace(sent.traceId).spans.length, 0);
  const again = await exportTwoSpans(receiver, "json");
  assert.equal((await receiver.waitForTrace(again.traceId, { spans: 2 })).spans.length, 2);
});

Deno.test("testing: close() fails the waits in progress and stops listening", async () => {
  const receiver = await startTraceReceiver();
  const failed = assert.rejects(receiver.waitForSpans(() => false), /closed while waiting/);
  await receiver.close();
  await failed;
  await assert.rejects(fetch(receiver.tracesUrl, { method: "POST" }));
  await assert.rejects(receiver.waitForTrace("0".repeat(32)), /the receiver is closed/);
});

Deno.test("testing: newTraceparent builds sampled and unsampled headers with random ids", () => {
  const sampled = newTraceparent();
  assert.match(sampled.header, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(sampled.header, `00-${sampled.traceId}-${sampled.parentId}-01`);
  assert.notEqual(newTraceparent().traceId, sampled.traceId);
  const unsampled = newTraceparent({ sampled: false, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" });
  assert.equal(unsampled.sampled, false);
  assert.match(unsampled.header, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
  assert.throws(() => newTraceparent({ traceId: "XYZ" }), RangeError);
});

Deno.test("testing: traceOfResponse reads traceresponse, then Server-Timing, from any headers", () => {
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const value = `00-${id}-00f067aa0ba902b7-01`;
  const expected = { traceId: id, spanId: "00f067aa0ba902b7", sampled: true };
  assert.deepEqual(traceOfResponse(new Headers({ traceresponse: value })), expected);
  assert.deepEqual(
    traceOfResponse(
      new Response(null, {
        headers: { "server-timing": `db;dur=53, traceparent;desc="${value}", cache;desc="a,b"` },
      }),
    ),
    expected,
  );
  // node:http's headers: a record, arrays for repeated fields.
  assert.deepEqual(
    traceOfResponse({ "server-timing": ["app;dur=1", `traceparent;desc=${value}`] }),
    expected,
  );
  assert.deepEqual(
    traceOfResponse(new Headers({ "server-timing": `trace;desc="${value.slice(0, -2)}00"` })),
    { ...expected, sampled: false },
  );
  assert.equal(traceOfResponse(new Headers({ "server-timing": "db;dur=53" })), undefined);
  assert.equal(traceOfResponse(new Headers({ traceresponse: "garbage" })), undefined);
  assert.equal(traceOfResponse({}), undefined);
});
