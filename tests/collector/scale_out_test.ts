/**
 * The scale-out recipe in deploy/collector, run as it ships: two proxies (Deno entries) in front of
 * a Hono app with the middleware, all exporting to tier 1 (`loadbalancing` by trace id), which
 * feeds two tier-2 instances (`tail_sampling`: errors, slow traces and a percentage of the rest),
 * each writing what it keeps to its own file.
 */
import assert from "node:assert/strict";
import {
  CollectorFile,
  freeAddress,
  type RunningCollector,
  spansOf,
  startCollector,
  type WrittenSpan,
} from "../support/collector.ts";
import { startDenoProxy } from "../support/deno_proxy.ts";
import { randomHex } from "../support/proxy_checks.ts";
import { closedPort } from "../support/servers.ts";
import { startUpstreamApp } from "../support/upstream_app.ts";

const KEEP_PERCENT = 25;
const SLOWER_THAN_MS = 300;
const NORMAL_REQUESTS = 240;
const ERROR_REQUESTS = 30;
const SLOW_REQUESTS = 3;
const CONCURRENCY = 6;

/** The trace the proxy hands back: `Server-Timing: traceparent;desc="00-<trace>-<span>-01"`. */
function traceIdOf(response: Response): string {
  const match = response.headers.get("server-timing")?.match(/traceparent;desc="?00-([0-9a-f]{32})-/);
  assert.ok(match, `no traceparent in Server-Timing: ${response.headers.get("server-timing")}`);
  return match[1];
}

/** Runs `work` over `items`, `CONCURRENCY` at a time. */
async function pool<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  }));
  return results;
}

/** One ERROR span of a new trace, in OTLP/JSON: the last thing a tier-2 instance receives. */
function sentinel(): { traceId: string; body: string } {
  const traceId = randomHex(16);
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "sentinel" } }] },
      scopeSpans: [{
        scope: { name: "scale-out-test" },
        spans: [{
          traceId,
          spanId: randomHex(8),
          name: "sentinel",
          kind: 1,
          startTimeUnixNano: String(now),
          endTimeUnixNano: String(now + 1000n),
          status: { code: 2 },
        }],
      }],
    }],
  });
  return { traceId, body };
}

Deno.test("collector: two-tier tail sampling keeps whole traces, every error, and the configured share", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tracegate-scale-out-" });
  const tier2: { collector: RunningCollector; file: CollectorFile; http: string }[] = [];
  const grpcEndpoints: string[] = [];
  for (const name of ["a", "b"]) {
    const http = freeAddress();
    const grpc = freeAddress();
    const file = new CollectorFile(dir, `tier2-${name}.jsonl`);
    const collector = await startCollector(
      ["deploy/collector/tier2.yaml", "tests/fixtures/collector/tier2_to_file.yaml"],
      {
        TIER2_OTLP_GRPC_ENDPOINT: grpc,
        TIER2_OTLP_HTTP_ENDPOINT: http,
        TAIL_DECISION_WAIT: "2s",
        TAIL_SLOWER_THAN_MS: String(SLOWER_THAN_MS),
        TAIL_KEEP_PERCENT: String(KEEP_PERCENT),
        // The recipe's backend; the overlay sends to the file instead.
        BACKEND_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
        SPANS_FILE: file.path,
      },
    );
    tier2.push({ collector, file, http });
    grpcEndpoints.push(grpc);
  }
  const tier1Http = freeAddress();
  const tier1 = await startCollector(["deploy/collector/tier1.yaml"], {
    TIER1_OTLP_HTTP_ENDPOINT: tier1Http,
    TIER1_OTLP_GRPC_ENDPOINT: freeAddress(),
    TIER2_ENDPOINTS: `[${grpcEndpoints.join(", ")}]`,
  });
  const tier1Url = `http://${tier1Http}`;

  const app = startUpstreamApp({ otlpEndpoint: tier1Url, serviceName: "orders" });
  // Each proxy records every request (the root sampler always on) and leaves the keep/drop
  // decision to the Collector, which sees the whole trace.
  const proxies = await Promise.all(["edge-a", "edge-b"].map((service) =>
    startDenoProxy({
      TRACEGATE_UPSTREAM: app.url,
      OTEL_SERVICE_NAME: service,
      OTEL_TRACES_SAMPLER: "always_on",
      OTEL_EXPORTER_OTLP_ENDPOINT: tier1Url,
    })
  ));

  try {
    const paths = [
      ...Array.from({ length: NORMAL_REQUESTS }, (_, n) => ({ kind: "normal", path: `/items/${n}` })),
      ...Array.from({ length: ERROR_REQUESTS }, () => ({ kind: "error", path: "/status/500" })),
      ...Array.from({ length: SLOW_REQUESTS }, () => ({
        kind: "slow",
        path: `/slow/${SLOWER_THAN_MS * 2}`,
      })),
    ];
    const sent = await pool(paths, async ({ kind, path }) => {
      const proxy = proxies[Math.floor(Math.random() * proxies.length)];
      const response = await fetch(`${proxy.url}${path}`);
      await response.body?.cancel();
      assert.equal(response.status, kind === "error" ? 500 : 200);
      return { kind, traceId: traceIdOf(response) };
    });

    // Everything recorded reaches tier 1 (the proxies and the app export what is queued as they
    // stop), and stopping tier 1 drains its queues to tier 2.
    for (const proxy of proxies) assert.equal((await proxy.stop()).code, 0);
    await app.close();
    assert.equal((await tier1.stop()).code, 0);
    // A sentinel sent to each tier-2 instance now arrives after all of the traffic, and the
    // processor decides in order of arrival: once it is written, every trace is decided.
    for (const { file, http } of tier2) {
      const { traceId, body } = sentinel();
      const answer = await fetch(`http://${http}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      assert.equal(answer.status, 200, await answer.text());
      await file.waitFor((requests) =>
        spansOf(requests).some(({ span }) => span.traceId === traceId) || undefined
      );
    }

    const keptBy = await Promise.all(tier2.map(async ({ file }) => {
      const byTrace = new Map<string, WrittenSpan[]>();
      for (const written of spansOf(await file.read())) {
        byTrace.set(written.span.traceId, [...byTrace.get(written.span.traceId) ?? [], written]);
      }
      return byTrace;
    }));
    const results = sent.map(({ kind, traceId }) => {
      const holders = keptBy.filter((byTrace) => byTrace.has(traceId));
      assert.ok(holders.length <= 1, `trace ${traceId} at ${holders.length} tier-2 instances`);
      return { kind, traceId, spans: holders[0]?.get(traceId) };
    });

    for (const { traceId, spans } of results) {
      if (!spans) continue;
      // Whole: the proxy's SERVER and CLIENT spans and the app's SERVER span, chained.
      const kinds = spans.map(({ span }) => span.kind).sort();
      assert.deepEqual(kinds, [2, 2, 3], `trace ${traceId}: span kinds ${kinds}`);
      const edge = spans.find(({ span }) => span.kind === 2 && !span.parentSpanId)!;
      const client = spans.find(({ span }) => span.kind === 3)!;
      const upstream = spans.find(({ span }) => span.kind === 2 && span.parentSpanId)!;
      assert.ok(edge, `trace ${traceId}: no root span`);
      assert.equal(client.span.parentSpanId, edge.span.spanId);
      assert.equal(upstream.span.parentSpanId, client.span.spanId);
      assert.equal(
        upstream.resource.find(({ key }) => key === "service.name")?.value.stringValue,
        "orders",
      );
    }

    const errors = results.filter(({ kind }) => kind === "error");
    assert.equal(errors.filter(({ spans }) => spans).length, ERROR_REQUESTS, "error traces kept");
    const slow = results.filter(({ kind }) => kind === "slow");
    assert.equal(slow.filter(({ spans }) => spans).length, SLOW_REQUESTS, "slow traces kept");

    const normal = results.filter(({ kind }) => kind === "normal");
    const kept = normal.filter(({ spans }) => spans).length;
    // Binomial(n, p): four standard deviations either side fail a correct setup about once in
    // 16 000 runs; a processor keeping all or none of them fails every time.
    const p = KEEP_PERCENT / 100;
    const sd = Math.sqrt(NORMAL_REQUESTS * p * (1 - p));
    const expected = NORMAL_REQUESTS * p;
    assert.ok(
      Math.abs(kept - expected) <= 4 * sd,
      `kept ${kept} of ${NORMAL_REQUESTS} normal traces; expected ${expected} ± ${4 * sd}`,
    );
    // Both instances took a share of the traffic.
    for (const byTrace of keptBy) assert.ok(byTrace.size > 1, "a tier-2 instance got nothing");
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await app.close();
    await tier1.stop();
    await Promise.all(tier2.map(({ collector }) => collector.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
