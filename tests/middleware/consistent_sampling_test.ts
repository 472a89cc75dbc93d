/**
 * Consistent probability sampling end to end: the middleware's ratio sampler decides by the
 * caller's trace id (random flag set) or `ot=rv:`, writes `ot=th:` into the tracestate its traced
 * fetch sends on, and the spans a real OTLP receiver decodes carry the same tracestate.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { echoServer, serve, type TestServer } from "../support/servers.ts";

function startApp(upstream: TestServer, env: Record<string, string>): TestServer {
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ registerGlobals: false, env }));
  app.get("/call/:n", async (c) => {
    const echoed = await (await c.var.tracedFetch(`${upstream.url}/echo`)).json();
    return c.json(echoed.headers);
  });
  return serve((request, info) => app.fetch(request, info));
}

/** Calls `/call/:n` as a caller with `traceparent`; returns what the upstream was sent. */
async function call(app: TestServer, n: string, traceparent?: string, tracestate?: string) {
  const headers = new Headers();
  if (traceparent) headers.set("traceparent", traceparent);
  if (tracestate) headers.set("tracestate", tracestate);
  const response = await fetch(`${app.url}/call/${n}`, { headers });
  assert.equal(response.status, 200);
  const sent: Record<string, string> = await response.json();
  return { traceparent: sent.traceparent, tracestate: sent.tracestate };
}

const PARENT = "00f067aa0ba902b7";

Deno.test("consistent sampling: the ratio's threshold reaches the upstream and the collector", async () => {
  await using receiver = await startOtlpReceiver();
  await using upstream = echoServer();
  await using app = startApp(upstream, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_TRACES_SAMPLER: "traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0.25",
  });
  // Level 2 callers (random flag, not sampled): the trace id's last 56 bits decide against c.
  const kept = "4bf92f3577b34da6a3e00000000000aa";
  const sentKept = await call(app, "kept", `00-${kept}-${PARENT}-02`, "vendor=x");
  assert.match(sentKept.traceparent, new RegExp(`^00-${kept}-[0-9a-f]{16}-03$`));
  assert.equal(sentKept.tracestate, "ot=th:c,vendor=x");

  const dropped = "4bf92f3577b34da6a3100000000000aa";
  const sentDropped = await call(app, "dropped", `00-${dropped}-${PARENT}-02`, "vendor=x");
  assert.match(sentDropped.traceparent, /-02$/);
  assert.equal(sentDropped.tracestate, "vendor=x");

  // An explicit rv decides instead of the trace id, and travels on with the threshold.
  const byRv = "4bf92f3577b34da6a3000000000000bb";
  const sentByRv = await call(app, "rv", `00-${byRv}-${PARENT}-02`, "ot=rv:f0000000000000");
  assert.equal(sentByRv.tracestate, "ot=th:c;rv:f0000000000000");

  const spans = await receiver.waitForSpans((all) =>
    [kept, byRv].every((id) => all.filter((span) => span.traceId === id).length === 2)
  );
  for (const span of spans.filter((span) => span.traceId === kept)) {
    assert.equal(span.traceState, "ot=th:c,vendor=x", `${span.kind} span`);
  }
  for (const span of spans.filter((span) => span.traceId === byRv)) {
    assert.equal(span.traceState, "ot=th:c;rv:f0000000000000");
  }
  assert.ok(!spans.some((span) => span.traceId === dropped));
});

Deno.test("consistent sampling: parent-based mode passes a caller's threshold on", async () => {
  await using receiver = await startOtlpReceiver();
  await using upstream = echoServer();
  await using app = startApp(upstream, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "1",
  });
  const caller = "5bf92f3577b34da6a3e00000000000aa";
  const sent = await call(app, "parent", `00-${caller}-${PARENT}-03`, "ot=th:8");
  assert.equal(sent.tracestate, "ot=th:8");
  // A root: this ratio (1) writes its own threshold, 0.
  const root = await call(app, "root");
  assert.equal(root.tracestate, "ot=th:0");
  const rootTrace = root.traceparent.split("-")[1];

  const spans = await receiver.waitForSpans((all) =>
    [caller, rootTrace].every((id) => all.filter((span) => span.traceId === id).length === 2)
  );
  for (const span of spans.filter((span) => span.traceId === caller)) {
    assert.equal(span.traceState, "ot=th:8");
  }
  for (const span of spans.filter((span) => span.traceId === rootTrace)) {
    assert.equal(span.traceState, "ot=th:0");
  }
});
