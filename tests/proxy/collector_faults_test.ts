/**
 * The fault suite: the proxy's Deno entry as a child process serving sampled traffic while its
 * collector is refused, hanging, slow, answering 429 with a long Retry-After, or 500. Every request
 * is answered; the process stays within a memory bound; SIGTERM ends it within the shutdown
 * deadline (the exporter timeout is far longer, so only the deadline can end it in time); and its
 * drop lines, read from its output, count every span that did not arrive, naming the endpoint and
 * the cause.
 */
import assert from "node:assert/strict";
import { startDenoProxy } from "../support/deno_proxy.ts";
import { holdingCollector } from "../support/holding_collector.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { closedPort, serve, type TestServer } from "../support/servers.ts";

const REQUESTS = 120;
const CONCURRENCY = 8;
/** The proxy's SERVER and CLIENT span per request. */
const SPANS = REQUESTS * 2;
const SHUTDOWN_DEADLINE_MS = 1_000;
/** Far beyond the deadline: without it, shutdown would wait on the exporter. */
const EXPORT_TIMEOUT_MS = 30_000;
/** Generous: Deno's own start and exit; a shutdown waiting on the exporter takes 30 s or more. */
const EXIT_BOUND_MS = SHUTDOWN_DEADLINE_MS + 8_000;
/** A Deno process serving this traffic sits near 100 MiB; unbounded queues would not. */
const RSS_BOUND_BYTES = 400 * 1024 * 1024;

const DROP_LINE =
  /^tracegate: dropped (\d+) spans \(([^)]*)\); total dropped since start: (\d+)(?:; last problem: (.*))?$/gm;

interface Collector extends AsyncDisposable {
  readonly tracesUrl: string;
}

interface Fault {
  /** Spans expected to arrive at the receiver: all or none. */
  readonly delivered: boolean;
  /** What the last drop line says about the cause. */
  readonly problem?: RegExp;
  collector(receiver: OtlpReceiver): Collector;
}

const FAULTS: Record<string, Fault> = {
  "refused": {
    delivered: false,
    problem: /connection refused; not sent within the 1000 ms shutdown deadline$/,
    collector: () => ({
      tracesUrl: `http://127.0.0.1:${closedPort()}/v1/traces`,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    }),
  },
  "hanging": {
    delivered: false,
    problem: /: no answer yet; not sent within the 1000 ms shutdown deadline$/,
    collector: (receiver) => holdingCollector(receiver),
  },
  "slow (300 ms per export)": {
    delivered: true,
    collector: (receiver) => slowCollector(receiver, 300),
  },
  "429 with Retry-After beyond the timeout": {
    delivered: false,
    problem:
      /: HTTP 429 Too Many Requests: the test receiver was told to answer 429; no retry left/,
    collector: (receiver) => {
      receiver.respondWith(429, { "retry-after": "3600" });
      return direct(receiver);
    },
  },
  "500": {
    delivered: false,
    problem: /: HTTP 500 Internal Server Error: the test receiver was told to answer 500$/,
    collector: (receiver) => {
      receiver.respondWith(500);
      return direct(receiver);
    },
  },
};

function direct(receiver: OtlpReceiver): Collector {
  return { tracesUrl: receiver.tracesUrl, [Symbol.asyncDispose]: () => Promise.resolve() };
}

/** Hands each export to the receiver `delayMs` after it arrived. */
function slowCollector(receiver: OtlpReceiver, delayMs: number): Collector {
  const server = serve(async (request) => {
    const body = await request.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return fetch(receiver.tracesUrl, { method: "POST", headers: request.headers, body });
  });
  return { tracesUrl: `${server.url}/v1/traces`, [Symbol.asyncDispose]: () => server.close() };
}

function upstream(): TestServer {
  return serve(() => new Response("ok"));
}

async function residentBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(match, "no VmRSS in /proc status");
  return Number(match[1]) * 1024;
}

/** `REQUESTS` sampled requests, `CONCURRENCY` at a time; the statuses, in no order. */
async function traffic(url: string): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const n = next++;
      const traceId = n.toString(16).padStart(32, "a");
      const response = await fetch(`${url}/items/${n}`, {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return statuses;
}

for (const [name, fault] of Object.entries(FAULTS)) {
  Deno.test(`collector faults: ${name}`, async () => {
    await using receiver = await startOtlpReceiver();
    await using collector = fault.collector(receiver);
    await using app = upstream();
    const proxy = await startDenoProxy({
      TRACEGATE_UPSTREAM: app.url,
      OTEL_SERVICE_NAME: "fault-proxy",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.tracesUrl,
      OTEL_EXPORTER_OTLP_TIMEOUT: String(EXPORT_TIMEOUT_MS),
      OTEL_BSP_SCHEDULE_DELAY: "20",
      TRACEGATE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_DEADLINE_MS),
    });
    try {
      const statuses = await traffic(proxy.url);
      assert.equal(statuses.length, REQUESTS);
      assert.deepEqual(statuses.filter((status) => status !== 200), [], "failed requests");
      const rss = await residentBytes(proxy.pid);
      assert.ok(rss < RSS_BOUND_BYTES, `resident memory ${rss} B`);
      if (fault.delivered) {
        await receiver.waitForSpans((spans) => spans.length === SPANS, { timeoutMs: 10_000 });
      }
    } finally {
      const stopping = Date.now();
      const status = await proxy.stop("SIGTERM");
      const took = Date.now() - stopping;
      assert.equal(status.code, 0, proxy.stderr);
      assert.ok(took < EXIT_BOUND_MS, `exit took ${took} ms after SIGTERM:\n${proxy.stderr}`);
    }

    const lines = [...proxy.stderr.matchAll(DROP_LINE)];
    if (fault.delivered) {
      assert.deepEqual(lines.map((line) => line[0]), [], "drop lines although all arrived");
      assert.equal(receiver.spans.length, SPANS);
      return;
    }
    assert.equal(receiver.spans.length, 0);
    // Each line counts what was dropped since the one before: together, every span.
    const counted = lines.reduce((sum, line) => sum + Number(line[1]), 0);
    assert.equal(counted, SPANS, proxy.stderr);
    const last = lines.at(-1)!;
    assert.equal(Number(last[3]), SPANS, last[0]);
    assert.ok(last[4]?.startsWith(collector.tracesUrl), last[0]);
    assert.match(last[4], fault.problem!);
    assert.equal(proxy.stderr.trimEnd().split("\n").at(-1), last[0], "the drop line is the last");
  });
}
