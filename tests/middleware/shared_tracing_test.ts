/**
 * `tracegate({ tracing })`: a setup shared with other code registers the OpenTelemetry globals
 * like one the middleware builds, so spans a handler starts with the global tracer are recorded;
 * options a shared setup would ignore do not compile. In its own file: globals register once per
 * process.
 */
import assert from "node:assert/strict";
import { trace, type TracerProvider } from "@opentelemetry/api";
import type { Sampler, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import { tracegate, type TracegateEnv, tracingFromOptions } from "../../middleware/mod.ts";
import { readTracingSettings } from "../../src/config/settings.ts";
import { createTracing, type Tracing } from "../../src/tracing/setup.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve } from "../support/servers.ts";

Deno.test("middleware: a shared tracing setup is registered globally; handler spans record", async () => {
  await using receiver = await startOtlpReceiver();
  const tracing = tracingFromOptions({}, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ tracing }));
  app.get("/work", (c) => {
    trace.getTracer("app").startSpan("handler work").end();
    return c.text("ok");
  });
  await using server = serve((request, info) => app.fetch(request, info));
  assert.equal(await (await fetch(`${server.url}/work`)).text(), "ok");
  const spans = await receiver.waitForSpans((all) =>
    all.some((s) => s.name === "handler work") && all.some((s) => s.name === "GET /work")
  );
  const inner = spans.find((s) => s.name === "handler work")!;
  const outer = spans.find((s) => s.name === "GET /work")!;
  assert.equal(inner.parentSpanId, outer.spanId);
  await tracing.shutdown();
});

/** Never called: `deno check` fails on any `@ts-expect-error` below that stops being an error. */
export function misusesDoNotCompile(
  tracing: Tracing,
  provider: TracerProvider,
  sampler: Sampler,
  exporter: SpanExporter,
): void {
  // @ts-expect-error a shared setup is already built: the service name would be ignored
  tracegate({ tracing, serviceName: "ignored" });
  // @ts-expect-error ... and so would the environment
  tracegate({ tracing, env: {} });
  // @ts-expect-error ... and the HTTP settings
  tracegate({ tracing, serverTiming: false });
  // @ts-expect-error your own provider samples: a sampler beside it would be ignored
  tracegate({ tracerProvider: provider, sampler });
  // @ts-expect-error ... and exports: an exporter beside it would be ignored
  tracingFromOptions({ tracerProvider: provider, exporter }, {});
  const { settings } = readTracingSettings({}, { serviceName: "s", sampler: "always_on" });
  // @ts-expect-error the same for the core's createTracing
  createTracing(settings, { tracerProvider: provider, sampler });

  // What is meant compiles.
  tracegate({ tracing, registerGlobals: false, generateRequestId: () => "id" });
  tracegate({ tracerProvider: provider, serviceName: "orders" });
  tracegate({ sampler, exporter, env: {}, serverTiming: false });
  createTracing(settings, { tracerProvider: provider });
}
