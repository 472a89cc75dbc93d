/**
 * The middleware exports to the real OpenTelemetry Collector, which decodes each export and writes
 * what it decoded with its `file` exporter; every field of every span the SDK recorded (ids,
 * parent, kind, name, times, status, attributes of each type, events, links, trace state, flags,
 * resource, scope) must come out as it went in, in each encoding tracegate sends.
 */
import assert from "node:assert/strict";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createTraceState, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { Hono } from "hono";
import { tracegate, type TracegateEnv, tracingFromOptions } from "../../middleware/mod.ts";
import { readTracingSettings } from "../../src/config/settings.ts";
import { createSpanExporter } from "../../src/export/exporter.ts";
import { spansOf, startVerifyingCollector, type WrittenSpan } from "../support/collector.ts";
import { serve } from "../support/servers.ts";
import { recordedFields, writtenFields } from "../support/span_fields.ts";
import { OTLP_ENCODINGS } from "../support/otlp_encodings.ts";

/** The real OTLP exporter tracegate builds from `env`, keeping each span it is handed. */
function recordingExporter(env: Record<string, string>) {
  const { settings } = readTracingSettings(env, {
    serviceName: "unknown_service",
    sampler: "parentbased_always_on",
  });
  const inner = createSpanExporter(settings.export)!;
  const recorded: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export(spans, done) {
      recorded.push(...spans);
      inner.export(spans, done);
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  return { exporter, recorded };
}

const INBOUND_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INBOUND_PARENT = "00f067aa0ba902b7";
const LINKED = { trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331" };

for (const [encoding, encodingEnv] of Object.entries(OTLP_ENCODINGS)) {
  Deno.test(`collector: every field the middleware records arrives (${encoding})`, async () => {
    await using collector = await startVerifyingCollector();
    const { file } = collector;

    const env = {
      ...encodingEnv,
      OTEL_SERVICE_NAME: "orders",
      OTEL_RESOURCE_ATTRIBUTES: "service.version=1.2.3,deployment.environment.name=staging%20eu",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    };
    const { exporter, recorded } = recordingExporter(env);
    const logs: string[] = [];
    const tracing = tracingFromOptions(
      { exporter, baggageAttributes: ["user.id"], log: (line) => logs.push(line) },
      env,
    );
    const app = new Hono<TracegateEnv>();
    app.use(tracegate({ tracing, registerGlobals: false }));
    app.get("/orders/:id", async (c) => {
      const work = tracing.tracer.startSpan("price order", {
        kind: SpanKind.INTERNAL,
        attributes: {
          "order.id": c.req.param("id"),
          "order.items": 3,
          "order.total": 12.5,
          "order.gift": true,
          "order.tags": ["new", "express"],
          "order.quantities": [1, 2],
          "order.weights": [0.25, 1.5],
          "order.flags": [true, false],
        },
        links: [{
          context: {
            traceId: LINKED.trace,
            spanId: LINKED.span,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
            traceState: createTraceState("linked=1"),
          },
          attributes: { "link.reason": "batch", "link.position": 7 },
        }],
      }, c.var.traceContext);
      work.addEvent("discount applied", { "discount.percent": 10.5, "discount.code": "WINTER" });
      work.setStatus({ code: SpanStatusCode.ERROR, message: "price service degraded" });
      work.end();
      const stock = await c.var.tracedFetch(new URL(`/stock/${c.req.param("id")}`, c.req.url));
      return c.json({ stock: await stock.json() });
    });
    app.get("/stock/:id", (c) => {
      trace.getSpan(c.var.traceContext)?.setStatus({ code: SpanStatusCode.OK });
      return c.json({ id: c.req.param("id"), available: 4 });
    });
    await using server = serve((request, info) => app.fetch(request, info));

    const response = await fetch(`${server.url}/orders/42`, {
      headers: {
        traceparent: `00-${INBOUND_TRACE}-${INBOUND_PARENT}-01`,
        tracestate: "vendor=abc,other=1",
        baggage: "user.id=ada",
      },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { stock: { id: "42", available: 4 } });
    await tracing.shutdown();
    assert.deepEqual(logs, []);

    // Four spans: the app's SERVER, its INTERNAL work, the CLIENT call and the called SERVER.
    assert.deepEqual(
      recorded.map((span) => span.kind).sort(),
      [
        SpanKind.INTERNAL,
        SpanKind.SERVER,
        SpanKind.SERVER,
        SpanKind.CLIENT,
      ].sort(),
    );
    const ids = new Set(recorded.map((span) => span.spanContext().spanId));
    const written = await file.waitFor((requests) => {
      const spans = spansOf(requests).filter(({ span }) => ids.has(span.spanId));
      return spans.length === ids.size ? spans : undefined;
    });
    const bySpanId = new Map<string, WrittenSpan>(written.map((w) => [w.span.spanId, w]));
    for (const span of recorded) {
      const arrived = bySpanId.get(span.spanContext().spanId)!;
      assert.deepEqual(writtenFields(arrived), recordedFields(span), `span ${span.name}`);
    }
    // The fields that came through are the ones this test meant to send.
    const root = recorded.find((s) => s.parentSpanContext?.spanId === INBOUND_PARENT)!;
    assert.equal(root.spanContext().traceId, INBOUND_TRACE);
    assert.equal(root.spanContext().traceState?.serialize(), "vendor=abc,other=1");
    assert.equal(root.attributes["user.id"], "ada");
    assert.equal(root.resource.attributes["deployment.environment.name"], "staging eu");
    const work = recorded.find((s) => s.name === "price order")!;
    assert.equal(work.events.length, 1);
    assert.equal(work.links.length, 1);
  });
}
