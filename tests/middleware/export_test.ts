/**
 * Export end to end: the middleware's spans reach a real OTLP/HTTP receiver with the configured
 * resource, headers and endpoint, and no state of the collector (down, answering 503, slow, with
 * the queue full) ever reaches the app's responses.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv, type TracegateOptions } from "../../middleware/mod.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { holdingCollector } from "../support/holding_collector.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { closedPort, serve, type TestServer } from "../support/servers.ts";
import { testTracing } from "../support/tracing.ts";

/**
 * An app whose `/work/:n` answers `{ n, requestId }`; given a shared tracing, `/burst` also ends
 * five spans of its own with its tracer.
 */
function startApp(options: TracegateOptions): TestServer {
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ registerGlobals: false, ...options }));
  app.get("/work/:n", (c) => c.json({ n: c.req.param("n"), requestId: c.var.requestId }));
  if (options.tracing) {
    const { tracer } = options.tracing;
    app.get("/burst", (c) => {
      for (let step = 0; step < 5; step++) {
        tracer.startSpan(`step ${step}`, {}, c.var.traceContext).end();
      }
      return c.text("done");
    });
  }
  return serve((request, info) => app.fetch(request, info));
}

/** Calls `/work/:n` and checks the app answered in full, whatever the collector is doing. */
async function work(server: TestServer, n: string): Promise<void> {
  // The signal turns an answer held back by the export into a failure instead of a hang.
  const response = await fetch(`${server.url}/work/${n}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.n, n);
  assert.equal(body.requestId, response.headers.get("x-request-id"));
}

const withPath = (path: string) => (span: DecodedSpan) => span.attributes["url.path"] === path;
const hasPaths = (...paths: string[]) => (spans: readonly DecodedSpan[]) =>
  paths.every((path) => spans.some(withPath(path)));

Deno.test("export: resource, headers and traces endpoint from the environment", async () => {
  await using receiver = await startOtlpReceiver();
  await using named = startApp({
    env: {
      OTEL_SERVICE_NAME: "export-test",
      OTEL_RESOURCE_ATTRIBUTES:
        "service.name=loses,service.version=1.2.3,deployment.environment.name=staging%20eu",
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=s3cret,x-tenant=team%20a",
      // Used as is: with /v1/traces appended the receiver would answer 404.
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl,
      // Loses to the traces endpoint; nothing listens there.
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
    },
  });
  await using unnamed = startApp({
    env: {
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-resource",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    },
  });
  await work(named, "named");
  await work(unnamed, "unnamed");

  const spans = await receiver.waitForSpans(hasPaths("/work/named", "/work/unnamed"));
  const fromNamed = spans.find(withPath("/work/named"))!;
  assert.equal(fromNamed.resourceAttributes["service.name"], "export-test");
  assert.equal(fromNamed.resourceAttributes["service.version"], "1.2.3");
  assert.equal(fromNamed.resourceAttributes["deployment.environment.name"], "staging eu");
  const fromUnnamed = spans.find(withPath("/work/unnamed"))!;
  assert.equal(fromUnnamed.resourceAttributes["service.name"], "from-resource");

  const exports = receiver.requests.filter((request) => request.spanCount > 0);
  assert.ok(exports.length >= 2);
  for (const request of exports) {
    assert.equal(request.path, "/v1/traces");
    assert.equal(request.status, 200);
  }
  const fromNamedApp = exports.filter((r) => r.headers.get("x-api-key") !== null);
  assert.ok(fromNamedApp.length >= 1, "no export carried OTEL_EXPORTER_OTLP_HEADERS");
  for (const request of fromNamedApp) {
    assert.equal(request.headers.get("x-api-key"), "s3cret");
    assert.equal(request.headers.get("x-tenant"), "team a");
  }
  assert.ok(exports.some((r) => r.headers.get("x-api-key") === null), "headers leaked across apps");
});

Deno.test("export: the app answers while the collector is down or answers 503", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using tracing = testTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    // Bounds the exporter's retries, so a failed export gives up within the test.
    OTEL_EXPORTER_OTLP_TIMEOUT: "1500",
  });
  await using server = startApp({ tracing });
  const failed = () => tracing.queue!.stats().dropped.exportFailed;

  await t.step("collector up", async () => {
    await work(server, "up");
    await receiver.waitForSpans(hasPaths("/work/up"));
  });

  await t.step("collector down: answers come, the failed export is counted", async () => {
    await receiver.stop();
    for (const n of ["down-1", "down-2", "down-3"]) await work(server, n);
    await tracing.flush();
    assert.equal(failed(), 3);
  });

  await t.step("collector answering 503 with Retry-After: answers come", async () => {
    await receiver.restart();
    receiver.respondWith(503, { "retry-after": "1" });
    const before = receiver.requests.length;
    for (const n of ["busy-1", "busy-2"]) await work(server, n);
    await tracing.flush();
    const refused = receiver.requests.slice(before);
    assert.ok(refused.some((request) => request.spanCount > 0));
    assert.ok(refused.every((request) => request.status === 503));
    assert.equal(failed(), 5);
  });

  await t.step("collector back: spans of later requests arrive", async () => {
    receiver.respondNormally();
    await work(server, "back");
    await receiver.waitForSpans(hasPaths("/work/back"));
    assert.equal(failed(), 5);
  });
});

Deno.test("export: a slow collector never delays the app's answers", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  await using server = startApp({
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.tracesUrl },
  });
  await work(server, "first");
  await collector.arrived;
  // The first export is held open: these requests must complete all the same.
  for (const n of ["held-1", "held-2", "held-3"]) await work(server, n);
  assert.equal(receiver.spans.length, 0);
  collector.release();
  await receiver.waitForSpans(
    hasPaths("/work/first", "/work/held-1", "/work/held-2", "/work/held-3"),
  );
});

Deno.test("export: with a tiny queue and the collector down, drops are counted and logged", async () => {
  await using receiver = await startOtlpReceiver();
  await receiver.stop();
  await using tracing = testTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
    OTEL_BSP_MAX_QUEUE_SIZE: "2",
  });
  await using server = startApp({ tracing });
  const burst = async () => {
    const response = await fetch(`${server.url}/burst`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "done");
    await tracing.flush();
  };

  // Five step spans and the server span end before any export: two fit, four are dropped; the
  // export of the two fails.
  await burst();
  assert.deepEqual(tracing.queue!.stats().dropped, {
    queueFull: 4,
    exportFailed: 2,
    rejected: 0,
    unsentAtShutdown: 0,
  });
  assert.equal(tracing.queue!.stats().exportedSpans, 0);
  assert.equal(tracing.logs.length, 1);
  assert.match(tracing.logs[0], /^tracegate: dropped 1 spans \(queue full: 1, export failed: 0\)/);

  await burst();
  assert.deepEqual(tracing.queue!.stats().dropped, {
    queueFull: 8,
    exportFailed: 4,
    rejected: 0,
    unsentAtShutdown: 0,
  });
});
