/**
 * tracegate's OTLP/HTTP exporter against real receivers on 127.0.0.1: both encodings, gzip,
 * headers, the OTLP retry rules (429/502/503/504 and refused connections, Retry-After in seconds
 * and as a date), the timeout with its late answer, partial success, failure reasons without
 * credentials, shutdown aborting what is in flight — and the SDK's exporter beside it where both
 * must behave alike.
 */
import assert from "node:assert/strict";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { OtlpExportSettings } from "../../src/config/settings.ts";
import { type ExportOutcome, OtlpHttpExporter } from "../../src/export/otlp_http_exporter.ts";
import { retryAfterMs } from "../../src/export/retry.ts";
import { holdingCollector } from "../support/holding_collector.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { closedPort, serve } from "../support/servers.ts";
import { randomSpans, spanCorpus } from "../support/span_corpus.ts";

const FAST = { initialMs: 5, maxMs: 20, multiplier: 2, jitter: 0.2, maxAttempts: 5 };

function exporter(tracesUrl: string, settings: Partial<OtlpExportSettings> = {}) {
  return new OtlpHttpExporter({
    kind: "otlp",
    tracesUrl,
    protocol: "http/protobuf",
    compression: "none",
    headers: {},
    timeoutMs: 5_000,
    ...settings,
  }, { backoff: FAST });
}

function failedReason(outcome: ExportOutcome): string {
  assert.equal(outcome.kind, "failed", JSON.stringify(outcome));
  return (outcome as { reason: string }).reason;
}

for (
  const [protocol, compression, contentType] of [
    ["http/protobuf", "none", "application/x-protobuf"],
    ["http/protobuf", "gzip", "application/x-protobuf"],
    ["http/json", "none", "application/json"],
    ["http/json", "gzip", "application/json"],
  ] as const
) {
  Deno.test(`exporter: ${protocol}, ${compression}: the receiver decodes every span`, async () => {
    await using receiver = await startOtlpReceiver();
    const spans = spanCorpus();
    const outcome = await exporter(receiver.tracesUrl, {
      protocol,
      compression,
      headers: { "x-api-key": "s3cret", "x-tenant": "team a" },
    }).send(spans);
    assert.deepEqual(outcome, { kind: "sent" });
    const [request] = receiver.requests;
    assert.equal(request.contentType, contentType);
    assert.equal(request.contentEncoding, compression === "gzip" ? "gzip" : null);
    assert.equal(request.headers.get("x-api-key"), "s3cret");
    assert.equal(request.headers.get("x-tenant"), "team a");
    assert.match(request.headers.get("user-agent") ?? "", /^tracegate\//);
    assert.deepEqual(
      receiver.spans.map((span) => span.spanId).sort(),
      spans.map((span) => span.spanContext().spanId).sort(),
    );
  });
}

Deno.test("exporter: 503, 502, 504 and 429 are retried, honouring Retry-After; then delivered", async () => {
  await using receiver = await startOtlpReceiver();
  const send = exporter(receiver.tracesUrl);
  const past = new Date(Date.now() - 60_000).toUTCString();
  for (
    const [status, retryAfter] of [[503, "0"], [502, undefined], [504, "0"], [429, past]] as const
  ) {
    receiver.respondWith(status, retryAfter ? { "retry-after": retryAfter } : {}, { times: 2 });
    const before = receiver.requests.length;
    assert.deepEqual(await send.send(randomSpans(status, 3)), { kind: "sent" });
    assert.deepEqual(
      receiver.requests.slice(before).map((request) => request.status),
      [status, status, 200],
    );
  }
});

Deno.test("exporter: retries as the SDK's exporter does (503 once, then delivered once)", async () => {
  await using receiver = await startOtlpReceiver();
  const spans = randomSpans(5, 4, true);
  // The SDK's exporter mishandles "Retry-After: 0"; a date in the past means "at once" to both.
  const atOnce = { "retry-after": new Date(0).toUTCString() };
  receiver.respondWith(503, atOnce, { times: 1 });
  assert.deepEqual(await exporter(receiver.tracesUrl).send(spans), { kind: "sent" });
  receiver.respondWith(503, atOnce, { times: 1 });
  const sdk = new OTLPTraceExporter({ url: receiver.tracesUrl });
  const code = await new Promise((resolve) => sdk.export(spans, (result) => resolve(result.code)));
  await sdk.shutdown();
  assert.equal(code, ExportResultCode.SUCCESS);
  const statuses = receiver.requests.map((request) => [request.status, request.spanCount]);
  assert.deepEqual(statuses.slice(0, 2), statuses.slice(2));
  assert.deepEqual(statuses.slice(0, 2), [[503, 4], [200, 4]]);
});

Deno.test("exporter: overlapping sends, some retried, each deliver their own spans", async () => {
  await using receiver = await startOtlpReceiver();
  const send = exporter(receiver.tracesUrl);
  // Each body is a view of its encoder's buffer: an encoder shared by two sends in flight would
  // send the later batch twice, and retry with the wrong one.
  receiver.respondWith(503, { "retry-after": new Date(0).toUTCString() }, { times: 2 });
  const batches = [randomSpans(11, 5), randomSpans(12, 7), randomSpans(13, 3)];
  const outcomes = await Promise.all(batches.map((spans) => send.send(spans)));
  assert.deepEqual(outcomes, batches.map(() => ({ kind: "sent" })));
  const last = randomSpans(14, 2); // with the encoders the first sends gave back
  assert.deepEqual(await send.send(last), { kind: "sent" });
  const ids = (spans: readonly { spanContext(): { spanId: string } }[]) =>
    spans.map((span) => span.spanContext().spanId);
  assert.deepEqual(
    receiver.spans.map((span) => span.spanId).sort(),
    [...batches.flatMap(ids), ...ids(last)].sort(),
  );
  assert.deepEqual(receiver.requests.map((request) => request.status).sort(), [
    200,
    200,
    200,
    200,
    503,
    503,
  ]);
});

Deno.test("exporter: a Retry-After beyond the timeout ends the export, naming the status", async () => {
  await using receiver = await startOtlpReceiver();
  receiver.respondWith(429, { "retry-after": "3600" });
  const reason = failedReason(await exporter(receiver.tracesUrl).send(randomSpans(1, 1)));
  assert.equal(receiver.requests.length, 1);
  assert.match(reason, /HTTP 429 Too Many Requests.*no retry left within the 5000 ms timeout/);
});

Deno.test("exporter: 400 and 500 are not retried; the reason names endpoint, status and message, never credentials", async () => {
  await using receiver = await startOtlpReceiver();
  const url = new URL(receiver.tracesUrl);
  url.username = "svc";
  url.password = "Sup3rS3cret";
  url.search = "?token=t0k3n";
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    for (const status of [400, 500]) {
      receiver.respondWith(status, {}, { times: 1 });
      const before = receiver.requests.length;
      const reason = failedReason(await exporter(url.href, { protocol }).send(randomSpans(2, 2)));
      assert.equal(receiver.requests.length, before + 1);
      assert.equal(
        reason,
        `${receiver.tracesUrl}: HTTP ${status} ${
          status === 400 ? "Bad Request" : "Internal Server Error"
        }: ` +
          `the test receiver was told to answer ${status}`,
      );
    }
  }
});

Deno.test("exporter: a long plain-text refusal is cut short and kept on one line", async () => {
  await using collector = serve(() =>
    new Response(`first line\nsecond\u0007${"x".repeat(5000)}`, { status: 401 })
  );
  const reason = failedReason(await exporter(`${collector.url}/v1/traces`).send(randomSpans(3, 1)));
  const message = reason.split("HTTP 401 Unauthorized: ")[1];
  assert.match(message, /^first line second x+…$/);
  assert.equal(message.length, 200);
});

Deno.test("exporter: a refused connection is retried, then reported as refused", async () => {
  const port = closedPort();
  const reason = failedReason(
    await exporter(`http://u:p@127.0.0.1:${port}/v1/traces`).send(randomSpans(4, 1)),
  );
  assert.equal(reason, `http://127.0.0.1:${port}/v1/traces: connection refused (after 5 attempts)`);
});

Deno.test("exporter: no answer within the timeout is a timeout whose late answer still counts", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const outcome = await exporter(collector.tracesUrl, { timeoutMs: 200 }).send(randomSpans(6, 3));
  assert.equal(outcome.kind, "timeout");
  assert.equal(
    (outcome as { reason: string }).reason,
    `${collector.tracesUrl}: no answer within 200 ms`,
  );
  collector.release();
  const late = await (outcome as { late: Promise<ExportOutcome> }).late;
  assert.deepEqual(late, { kind: "sent" });
  assert.equal(receiver.spans.length, 3);
});

Deno.test("exporter: a request unanswered one more timeout after the deadline is given up", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const outcome = await exporter(collector.tracesUrl, { timeoutMs: 100 }).send(randomSpans(6, 1));
  assert.equal(outcome.kind, "timeout");
  const late = await (outcome as { late: Promise<ExportOutcome> }).late;
  assert.match(failedReason(late), /no answer, request given up/);
});

Deno.test("exporter: shutdown aborts the request in flight and later exports fail at once", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const send = exporter(collector.tracesUrl, { timeoutMs: 60_000 });
  const pending = send.send(randomSpans(8, 2));
  await collector.arrived;
  await send.shutdown();
  assert.match(failedReason(await pending), /aborted at shutdown$/);
  assert.match(failedReason(await send.send(randomSpans(8, 1))), /the exporter is shut down$/);
});

Deno.test("exporter: partial success (protobuf and JSON) is a success that names what was rejected", async () => {
  const protobufAnswer = new Uint8Array([
    0x0a,
    0x09,
    0x08,
    0x02,
    0x12,
    0x05,
    ...new TextEncoder().encode("quota"),
  ]);
  await using collector = serve((request) =>
    request.headers.get("content-type") === "application/json"
      ? Response.json({ partialSuccess: { rejectedSpans: "2", errorMessage: "quota" } })
      : new Response(protobufAnswer, { headers: { "content-type": "application/x-protobuf" } })
  );
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    const url = `${collector.url}/v1/traces`;
    assert.deepEqual(await exporter(url, { protocol }).send(randomSpans(9, 3)), {
      kind: "sent",
      rejectedSpans: 2,
      warning: `${url}: partial success, 2 rejected: quota`,
    });
  }
});

Deno.test("Retry-After: delay-seconds and HTTP-dates; anything else is ignored", () => {
  const now = Date.parse("Wed, 02 Dec 2026 04:00:00 GMT");
  assert.equal(retryAfterMs("120", now), 120_000);
  assert.equal(retryAfterMs(" 0 ", now), 0);
  assert.equal(retryAfterMs("Wed, 02 Dec 2026 04:00:30 GMT", now), 30_000);
  assert.equal(retryAfterMs("Tue, 01 Dec 2026 04:00:30 GMT", now), 0);
  assert.equal(retryAfterMs(null, now), undefined);
  assert.equal(retryAfterMs("soon", now), undefined);
  assert.equal(retryAfterMs("-5", now), undefined);
});
