/**
 * Answers the real Collector gives that an exporter must handle as the OTLP specification says:
 * a Collector whose memory_limiter refuses data answers 503 (retryable), and tracegate retries
 * with backoff within its export timeout, then drops the spans and counts them; the app's answers
 * never wait for any of it.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { freeAddress, startCollector } from "../support/collector.ts";
import { serve } from "../support/servers.ts";
import { testTracing } from "../support/tracing.ts";

Deno.test("collector: a memory_limiter refusal (503) is retried, then the spans are counted as dropped", async () => {
  const http = freeAddress();
  await using collector = await startCollector(["tests/fixtures/collector/refusing.yaml"], {
    OTLP_HTTP_ENDPOINT: http,
  });
  // Passes each export on to the Collector and keeps the Collector's answer.
  const answers: { status: number; body: string }[] = [];
  await using tee = serve(async (request) => {
    const answer = await fetch(`http://${http}/v1/traces`, {
      method: "POST",
      headers: request.headers,
      body: await request.arrayBuffer(),
    });
    const body = await answer.text();
    answers.push({ status: answer.status, body });
    return new Response(body, { status: answer.status, headers: answer.headers });
  });
  await using tracing = testTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: tee.url,
    // Bounds the retries, so the export gives up within the test.
    OTEL_EXPORTER_OTLP_TIMEOUT: "3000",
  });
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ tracing, registerGlobals: false }));
  app.get("/", (c) => c.text("ok"));
  await using server = serve((request, info) => app.fetch(request, info));

  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
  await tracing.flush();

  assert.ok(answers.length >= 2, `retried: ${answers.length} attempt(s)`);
  for (const { status, body } of answers) {
    assert.equal(status, 503, body);
    assert.match(body, /memory/i);
  }
  assert.equal(tracing.queue!.stats().dropped.exportFailed, 1);
  assert.match(collector.logs, /refus|memory/i);
});
