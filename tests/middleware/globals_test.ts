/**
 * With the OpenTelemetry globals registered (the default), the server span is the active context
 * inside handlers, and spans user code starts with the global tracer nest under it and carry the
 * configured baggage entries as attributes. In its own file: globals register once per process.
 */
import assert from "node:assert/strict";
import { context, trace } from "@opentelemetry/api";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve } from "../support/servers.ts";

Deno.test("middleware: the span is the active context; nested spans get baggage attributes", async () => {
  await using receiver = await startOtlpReceiver();
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      TRACEGATE_BAGGAGE_ATTRIBUTES: "user.id",
    },
  }));
  app.get("/nested", async (c) => {
    await Promise.resolve(); // the context must survive an await
    const active = trace.getActiveSpan();
    const inner = trace.getTracer("app").startSpan("inner work");
    inner.end();
    return c.json({
      activeIsServer: active?.spanContext().spanId === c.var.span.spanContext().spanId,
    });
  });
  await using server = serve((request, info) => app.fetch(request, info));
  const response = await fetch(`${server.url}/nested`, {
    headers: { baggage: "user.id=nested-user,session=s1" },
  });
  assert.deepEqual(await response.json(), { activeIsServer: true });
  const spans = await receiver.waitForSpans(
    (all) => all.some((s) => s.name === "inner work") && all.some((s) => s.name === "GET /nested"),
    { timeoutMs: 5000 },
  );
  const inner = spans.find((s) => s.name === "inner work")!;
  const outer = spans.find((s) => s.name === "GET /nested")!;
  assert.equal(inner.parentSpanId, outer.spanId);
  assert.equal(inner.traceId, outer.traceId);
  assert.equal(inner.attributes["user.id"], "nested-user");
  assert.equal(outer.attributes["user.id"], "nested-user");
  assert.equal(inner.attributes["session"], undefined);
});

Deno.test("middleware: under a runtime's own active span, the server span is its child", async () => {
  await using receiver = await startOtlpReceiver();
  const app = new Hono<TracegateEnv>();
  const runtime = new BasicTracerProvider();
  let runtimeSpanId = "";
  // Stands in for a runtime's own instrumentation (Deno with OTEL_DENO=true): a real span made
  // active around the request before tracegate runs.
  app.use(async (_c, next) => {
    const runtimeSpan = runtime.getTracer("runtime").startSpan("runtime server span");
    runtimeSpanId = runtimeSpan.spanContext().spanId;
    await context.with(trace.setSpan(context.active(), runtimeSpan), next);
    runtimeSpan.end();
  });
  app.use(tracegate({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } }));
  app.get("/", (c) => c.text("ok"));
  await using server = serve((request, info) => app.fetch(request, info));
  const response = await fetch(server.url, {
    headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
  });
  assert.equal(await response.text(), "ok");
  const spans = await receiver.waitForSpans((all) => all.some((s) => s.name === "GET /"));
  const serverSpan = spans.find((s) => s.name === "GET /")!;
  assert.equal(serverSpan.parentSpanId, runtimeSpanId);
});
