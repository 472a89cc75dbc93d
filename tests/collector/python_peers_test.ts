/**
 * tracegate among the peers of the stack it is built for: a Python CLI (OpenTelemetry Python SDK)
 * calls through the proxy (Deno entry) a Hono app with the middleware, which calls a FastAPI
 * executor; all four export to the real Collector, and what it wrote is one unbroken trace with
 * the right parents, the CLI's trace state on every span and its baggage at every hop.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { spansOf, startVerifyingCollector, type WrittenSpan } from "../support/collector.ts";
import { startDenoProxy } from "../support/deno_proxy.ts";
import { runClient, startExecutor } from "../support/python_peers.ts";
import { serve } from "../support/servers.ts";
import { testTracing } from "../support/tracing.ts";

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

const serviceOf = ({ resource }: WrittenSpan) =>
  resource.find(({ key }) => key === "service.name")?.value.stringValue;
const attribute = ({ span }: WrittenSpan, key: string) =>
  span.attributes?.find((kv) => kv.key === key)?.value.stringValue;

Deno.test("collector: a Python CLI → proxy → middleware app → FastAPI trace arrives unbroken", async () => {
  await using collector = await startVerifyingCollector();
  const { file } = collector;
  const { endpoint } = collector;

  await using executor = await startExecutor({
    OTEL_SERVICE_NAME: "executor",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  });
  await using tracing = testTracing({
    OTEL_SERVICE_NAME: "orders",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    TRACEGATE_BAGGAGE_ATTRIBUTES: "user.id",
  });
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ tracing, registerGlobals: false }));
  app.get("/orders/:id", async (c) => {
    const job = await c.var.tracedFetch(`${executor.url}/execute/${c.req.param("id")}`);
    return c.json(await job.json(), job.status as 200);
  });
  await using server = serve((request, info) => app.fetch(request, info));
  await using proxy = await startDenoProxy({
    TRACEGATE_UPSTREAM: server.url,
    OTEL_SERVICE_NAME: "edge",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    TRACEGATE_BAGGAGE_ATTRIBUTES: "user.id",
  });

  const run = await runClient(`${proxy.url}/orders/42`, {
    OTEL_SERVICE_NAME: "cli",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  });
  assert.equal(run.status, 200);
  // What the executor saw: the CLI's trace, its trace state and its baggage, carried by both.
  assert.equal(run.body.job, "42");
  assert.equal(run.body.traceId, run.traceId);
  assert.equal(run.body.tracestate, "cli=1");
  assert.equal(run.body.spanTraceState, "cli=1");
  assert.equal(run.body.userId, "ada");

  assert.equal((await proxy.stop()).code, 0);
  await tracing.shutdown();
  await executor.stop();

  const spans = await file.waitFor((requests) => {
    const inTrace = spansOf(requests).filter(({ span }) => span.traceId === run.traceId);
    return inTrace.length >= 7 ? inTrace : undefined;
  });
  const one = (service: string, kind: number) => {
    const found = spans.filter((s) => serviceOf(s) === service && s.span.kind === kind);
    assert.equal(found.length, 1, `one ${service} span of kind ${kind}, got ${found.length}`);
    return found[0];
  };
  const cliRun = one("cli", INTERNAL);
  const cliCall = one("cli", CLIENT);
  const edgeServer = one("edge", SERVER);
  const edgeClient = one("edge", CLIENT);
  const ordersServer = one("orders", SERVER);
  const ordersClient = one("orders", CLIENT);
  const executorServer = one("executor", SERVER);
  assert.equal(spans.length, 7, spans.map((s) => `${serviceOf(s)} ${s.span.name}`).join(", "));

  const chain = [
    cliRun,
    cliCall,
    edgeServer,
    edgeClient,
    ordersServer,
    ordersClient,
    executorServer,
  ];
  assert.equal(cliRun.span.parentSpanId ?? "", "");
  assert.equal(cliRun.span.spanId, run.runSpanId);
  assert.equal(cliCall.span.spanId, run.callSpanId);
  for (let n = 1; n < chain.length; n++) {
    assert.equal(
      chain[n].span.parentSpanId,
      chain[n - 1].span.spanId,
      `${serviceOf(chain[n])} ${chain[n].span.name} under ${serviceOf(chain[n - 1])}`,
    );
  }
  for (const written of chain) {
    assert.equal(written.span.traceState, "cli=1", `${serviceOf(written)} ${written.span.name}`);
  }
  // tracegate writes the W3C flags into OTLP's span flags (the Python SDK leaves them out).
  for (const written of [edgeServer, edgeClient, ordersServer, ordersClient]) {
    assert.equal((written.span.flags ?? 0) & 1, 1, `${serviceOf(written)} sampled`);
  }
  for (const written of [edgeServer, ordersServer, executorServer]) {
    assert.equal(attribute(written, "user.id"), "ada", `${serviceOf(written)} baggage`);
  }
});
