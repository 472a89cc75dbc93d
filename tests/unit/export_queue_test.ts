/**
 * The export queue with real OTLP/HTTP exporters (the SDK's and tracegate's) sending to a real
 * receiver on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  type Sampler,
  SamplingDecision,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { MAX_CONCURRENT_SENDS, OtlpHttpExporter } from "../../src/export/otlp_http_exporter.ts";
import { ExportQueue } from "../../src/export/queue.ts";
import { ATTR_SAMPLING_REASON } from "../../src/sampling/reason.ts";
import { holdingCollector } from "../support/holding_collector.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";

const recordOnly: Sampler = {
  shouldSample: () => ({ decision: SamplingDecision.RECORD }),
  toString: () => "recordOnly",
};

function setup(
  endpoint: string,
  sampler: Sampler,
  options: Partial<{ maxQueueSize: number }> = {},
) {
  const lines: string[] = [];
  const queue = new ExportQueue(
    new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, timeoutMillis: 500 }),
    {
      maxQueueSize: options.maxQueueSize ?? 2048,
      maxExportBatchSize: 512,
      scheduleDelayMs: 20,
      shutdownTimeoutMs: 5_000,
      log: (line) => lines.push(line),
      dropReportIntervalMs: 60_000,
    },
  );
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [queue] });
  return { queue, tracer: provider.getTracer("test"), lines, provider };
}

Deno.test("export queue: concurrent flushes share one export", async () => {
  await using receiver = await startOtlpReceiver();
  const { queue, tracer } = setup(receiver.endpoint, new AlwaysOnSampler());
  const flushes: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) {
    tracer.startSpan(`request ${i}`).end();
    flushes.push(queue.flush());
  }
  await Promise.all(flushes);
  assert.equal(receiver.spans.length, 40);
  assert.equal(receiver.requests.length, 1);
  assert.deepEqual(queue.stats().dropped, {
    queueFull: 0,
    exportFailed: 0,
    rejected: 0,
    unsentAtShutdown: 0,
  });
  assert.equal(queue.stats().exportedSpans, 40);
});

Deno.test("export queue: record-only spans wait for their local root's tail decision", async () => {
  await using receiver = await startOtlpReceiver();
  const { queue, tracer } = setup(receiver.endpoint, recordOnly);
  const root = (name: string, keptBy?: string) => {
    const server = tracer.startSpan(name, { kind: SpanKind.SERVER });
    const ctx = trace.setSpan(context.active(), server);
    tracer.startSpan(`${name} client`, { kind: SpanKind.CLIENT }, ctx).end();
    if (keptBy) server.setAttribute(ATTR_SAMPLING_REASON, keptBy);
    server.end();
  };
  root("discarded");
  root("kept", "error");
  assert.equal(queue.stats().awaitingTailDecision, 0);
  await queue.forceFlush();
  assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ["kept", "kept client"]);
  const kept = receiver.spans.find((s) => s.name === "kept")!;
  assert.equal(kept.attributes[ATTR_SAMPLING_REASON], "error");
});

Deno.test("export queue: bounded memory, drops counted and reported in one line", async () => {
  await using receiver = await startOtlpReceiver();
  await receiver.stop(); // the collector is down
  const { queue, tracer, lines } = setup(receiver.endpoint, new AlwaysOnSampler(), {
    maxQueueSize: 10,
  });
  for (let i = 0; i < 25; i++) tracer.startSpan(`span ${i}`).end();
  assert.equal(queue.stats().queued, 10);
  assert.equal(queue.stats().dropped.queueFull, 15);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /dropped 1 spans \(queue full: 1, export failed: 0\)/);
  await queue.forceFlush(); // the export fails: the collector is still down
  assert.equal(queue.stats().dropped.exportFailed, 10);
  await queue.shutdown();
  assert.match(lines.at(-1)!, /total dropped since start: 25/);
});

/** The queue with tracegate's own exporter, its timeout and report interval given. */
function ownSetup(
  tracesUrl: string,
  timeoutMs: number,
  reportMs = 60_000,
  exportTimeoutMs = 30_000,
  maxQueueSize = 2048,
  batch: { maxExportBatchSize: number; scheduleDelayMs: number } = {
    maxExportBatchSize: 512,
    scheduleDelayMs: 0,
  },
) {
  const lines: string[] = [];
  const next: { line?: PromiseWithResolvers<string> } = {};
  const queue = new ExportQueue(
    new OtlpHttpExporter({
      kind: "otlp",
      tracesUrl,
      protocol: "http/protobuf",
      compression: "none",
      headers: {},
      timeoutMs,
    }),
    {
      maxQueueSize,
      ...batch,
      shutdownTimeoutMs: 5_000,
      exportTimeoutMs,
      log: (line) => {
        lines.push(line);
        next.line?.resolve(line);
      },
      dropReportIntervalMs: reportMs,
    },
  );
  const provider = new BasicTracerProvider({ spanProcessors: [queue] });
  /** The next line logged; rejects if none comes within 10 s (a bound, not a wait). */
  const nextLine = () => {
    const line = next.line = Promise.withResolvers<string>();
    const timer = setTimeout(() => line.reject(new Error("no line within 10 s")), 10_000);
    return line.promise.finally(() => clearTimeout(timer));
  };
  return { queue, tracer: provider.getTracer("test"), lines, nextLine };
}

Deno.test("export queue: a batch answered after the timeout is counted as exported, not failed", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const { queue, tracer, lines } = ownSetup(collector.tracesUrl, 100);
  for (let i = 0; i < 5; i++) tracer.startSpan(`late ${i}`).end();
  await queue.flush(); // settles once the export has timed out
  assert.equal(queue.stats().awaitingOutcome, 5);
  assert.equal(queue.stats().dropped.exportFailed, 0);
  collector.release();
  await queue.shutdown(); // waits for the late answer
  assert.equal(queue.stats().exportedSpans, 5);
  assert.equal(queue.stats().awaitingOutcome, 0);
  assert.deepEqual(queue.stats().dropped, {
    queueFull: 0,
    exportFailed: 0,
    rejected: 0,
    unsentAtShutdown: 0,
  });
  assert.equal(receiver.spans.length, 5);
  // The timeout is said once, as a warning: nothing was lost.
  assert.deepEqual(lines, [
    `tracegate: export warning: ${collector.tracesUrl}: no answer within 100 ms`,
  ]);
});

Deno.test("export queue: each drop line counts everything since the one before, without traffic", async () => {
  await using receiver = await startOtlpReceiver();
  receiver.respondWith(400);
  const { queue, tracer, lines, nextLine } = ownSetup(receiver.tracesUrl, 2_000, 1_000);
  const first = nextLine();
  tracer.startSpan("first").end();
  await queue.flush();
  assert.match(await first, /^tracegate: dropped 1 spans \(queue full: 0, export failed: 1\)/);
  const second = nextLine();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 7; i++) tracer.startSpan(`round ${round}`).end();
    await queue.flush();
  }
  // Within the interval: counted, not yet reported. Then the timer reports without a flush.
  assert.equal(lines.length, 1);
  assert.match(
    await second,
    new RegExp(
      "^tracegate: dropped 21 spans \\(queue full: 0, export failed: 21\\); total dropped since " +
        `start: 22; last problem: ${receiver.tracesUrl}: HTTP 400 Bad Request: the test receiver`,
    ),
  );
  await queue.shutdown();
  assert.equal(lines.length, 2);
});

Deno.test("export queue: an export that never ends is given up; its flushes settle and later spans go out", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  // The exporter would wait a minute; the queue gives the export 100 ms (OTEL_BSP_EXPORT_TIMEOUT).
  const { queue, tracer, lines } = ownSetup(collector.tracesUrl, 60_000, 60_000, 100);
  tracer.startSpan("stuck").end();
  await within10s(queue.flush(), "the flush never settled");
  assert.equal(queue.stats().dropped.exportFailed, 1);
  collector.release(); // later exports go through; the given-up one is not counted twice
  tracer.startSpan("after").end();
  await queue.flush();
  assert.equal(queue.stats().exportedSpans, 1);
  assert.ok(receiver.spans.some((span) => span.name === "after"));
  await queue.shutdown();
  assert.equal(queue.stats().dropped.exportFailed, 1);
  assert.match(
    lines.join("\n"),
    /dropped 1 spans \(queue full: 0, export failed: 1\).*an export did not end within 100 ms/,
  );
});

Deno.test("export queue: spans in the export in progress count against the bound", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const { queue, tracer } = ownSetup(collector.tracesUrl, 5_000, 60_000, 30_000, 10);
  for (let i = 0; i < 6; i++) tracer.startSpan(`first ${i}`).end();
  const first = queue.flush();
  await collector.arrived; // the six are in the export the collector holds
  assert.equal(queue.stats().exporting, 6);
  for (let i = 0; i < 8; i++) tracer.startSpan(`second ${i}`).end();
  assert.equal(queue.stats().queued, 4);
  assert.equal(queue.stats().dropped.queueFull, 4);
  collector.release();
  await first;
  await queue.flush();
  assert.equal(queue.stats().exporting, 0);
  assert.equal(queue.stats().exportedSpans, 10);
  await queue.shutdown();
});

Deno.test("export queue: a full batch goes alone; the part batch behind it leaves with the next export", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  // A window longer than the test: only full batches (and shutdown) start an export here.
  const batch = { maxExportBatchSize: 4, scheduleDelayMs: 60_000 };
  const { queue, tracer } = ownSetup(collector.tracesUrl, 30_000, 60_000, 30_000, 2048, batch);
  tracer.startSpan("first").end();
  const first = queue.forceFlush();
  await collector.arrived; // held: what follows queues behind it
  for (let i = 0; i < 6; i++) tracer.startSpan(`second ${i}`).end();
  const second = queue.flush();
  collector.release();
  await within10s(collector.heldAtLeast(2), "the full batch was not sent");
  await first;
  // Four of the six went; the two left complete the next full batch with two more.
  assert.equal(queue.stats().queued, 2);
  for (let i = 0; i < 2; i++) tracer.startSpan(`third ${i}`).end();
  await within10s(second, "the flush of the part batch never settled");
  assert.deepEqual(receiver.requests.map((request) => request.spanCount), [1, 4, 4]);
  assert.equal(queue.stats().exportedSpans, 9);
  assert.deepEqual(queue.stats().dropped, NO_DROPS);
  await queue.shutdown();
});

/** The promise, or a rejection naming what did not happen within 10 s (a bound, not a wait). */
async function within10s<T>(promise: Promise<T>, what: string): Promise<T> {
  const bound = Promise.withResolvers<never>();
  const timer = setTimeout(() => bound.reject(new Error(what)), 10_000);
  try {
    return await Promise.race([promise, bound.promise]);
  } finally {
    clearTimeout(timer);
  }
}

const NO_DROPS = { queueFull: 0, exportFailed: 0, rejected: 0, unsentAtShutdown: 0 };

Deno.test("export queue: tracegate's exporter has several batches in flight at once, and every span arrives", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const { queue, tracer } = ownSetup(collector.tracesUrl, 30_000, 60_000, 30_000, 4096);
  const batches = MAX_CONCURRENT_SENDS + 1;
  const count = batches * 512;
  for (let i = 0; i < count; i++) tracer.startSpan(`span ${i}`).end();
  const flushed = queue.forceFlush();
  await within10s(
    collector.heldAtLeast(MAX_CONCURRENT_SENDS),
    `${MAX_CONCURRENT_SENDS} exports never were in flight at once`,
  );
  // All held unanswered by the collector; the last batch waits for one of them to be answered.
  assert.equal(queue.stats().exportRequests, MAX_CONCURRENT_SENDS);
  assert.equal(queue.stats().exporting, count);
  collector.release();
  await flushed;
  assert.equal(receiver.requests.length, batches);
  assert.equal(new Set(receiver.spans.map((span) => span.name)).size, count);
  assert.equal(queue.stats().exportedSpans, count);
  assert.equal(queue.stats().exporting, 0);
  assert.deepEqual(queue.stats().dropped, NO_DROPS);
  await queue.shutdown();
});

Deno.test("export queue: any other SpanExporter is called one batch at a time", async () => {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  const sdk = new OTLPTraceExporter({ url: collector.tracesUrl, timeoutMillis: 30_000 });
  let exporting = 0;
  let mostAtOnce = 0;
  const users: SpanExporter = {
    export(spans, done) {
      mostAtOnce = Math.max(mostAtOnce, ++exporting);
      sdk.export(spans, (result) => {
        exporting--;
        done(result);
      });
    },
    shutdown: () => sdk.shutdown(),
  };
  const queue = new ExportQueue(users, {
    maxQueueSize: 4096,
    maxExportBatchSize: 512,
    scheduleDelayMs: 0,
    shutdownTimeoutMs: 5_000,
    log: () => {},
  });
  const tracer = new BasicTracerProvider({ spanProcessors: [queue] }).getTracer("test");
  const count = 3 * 512;
  for (let i = 0; i < count; i++) tracer.startSpan(`span ${i}`).end();
  const flushed = queue.forceFlush();
  await within10s(collector.arrived, "no export arrived");
  assert.equal(queue.stats().exportRequests, 1);
  collector.release();
  await flushed;
  assert.equal(mostAtOnce, 1);
  assert.equal(receiver.requests.length, 3);
  assert.equal(new Set(receiver.spans.map((span) => span.name)).size, count);
  assert.deepEqual(queue.stats().dropped, NO_DROPS);
  await queue.shutdown();
});
