/** The export queue with the real OTLP/HTTP exporter sending to a real receiver on 127.0.0.1. */
import assert from "node:assert/strict";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  type Sampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";
import { ExportQueue } from "../../src/export/queue.ts";
import { ATTR_SAMPLING_REASON } from "../../src/sampling/reason.ts";
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
