/**
 * The scale-out recipe in deploy/collector, run as it ships: two proxies (Deno entries) in front of
 * a Hono app with the middleware, all exporting to tier 1 (`loadbalancing` by trace id), which
 * feeds two tier-2 instances (`tail_sampling`: errors, slow traces and a percentage of the rest),
 * each writing what it keeps to its own file.
 *
 * The proxies' own settings decide what reaches the Collector: `edge-a` records every request up
 * to a cap per second (over it, nothing is recorded, errors included: the cap is a cost guard);
 * `edge-b` records no request by itself, but its tail rules export the edge spans of every error
 * and slow request. Whether `edge-a` recorded a request is read from the sampled flag it hands
 * back, so nothing here depends on how fast the requests went.
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
import { randomHex, SAMPLING_REASON_ATTRIBUTE } from "../support/proxy_checks.ts";
import { closedPort } from "../support/servers.ts";
import { startUpstreamApp } from "../support/upstream_app.ts";

const KEEP_PERCENT = 25;
const SLOWER_THAN_MS = 300;
const NORMAL_REQUESTS = 240;
const ERROR_REQUESTS = 30;
const SLOW_REQUESTS = 3;
const CONCURRENCY = 6;
/** `edge-a` starts with this many in hand, so at least this many of its requests are recorded. */
const MAX_TRACES_PER_SECOND = 20;

/** The trace the proxy hands back: `Server-Timing: traceparent;desc="00-<trace>-<span>-<flags>"`. */
function handedBack(response: Response): { traceId: string; recorded: boolean } {
  const match = response.headers.get("server-timing")?.match(
    /traceparent;desc="?00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})/,
  );
  assert.ok(match, `no traceparent in Server-Timing: ${response.headers.get("server-timing")}`);
  return { traceId: match[1], recorded: (parseInt(match[2], 16) & 1) === 1 };
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
  const common = { TRACEGATE_UPSTREAM: app.url, OTEL_EXPORTER_OTLP_ENDPOINT: tier1Url };
  // Records every request (the root sampler always on) up to its cap, and leaves the keep/drop
  // decision to the Collector, which sees the whole trace.
  const edgeA = await startDenoProxy({
    ...common,
    OTEL_SERVICE_NAME: "edge-a",
    OTEL_TRACES_SAMPLER: "always_on",
    TRACEGATE_MAX_TRACES_PER_SECOND: String(MAX_TRACES_PER_SECOND),
  });
  // The default head sampler (nothing traced unless the caller says so) and the tail rules.
  const edgeB = await startDenoProxy({
    ...common,
    OTEL_SERVICE_NAME: "edge-b",
    TRACEGATE_TAIL_ERRORS: "true",
    TRACEGATE_TAIL_SLOWER_THAN_MS: String(SLOWER_THAN_MS),
  });
  const proxies = [edgeA, edgeA, edgeB];

  try {
    const paths = [
      ...Array.from(
        { length: NORMAL_REQUESTS },
        (_, n) => ({ kind: "normal", path: `/items/${n}` }),
      ),
      ...Array.from({ length: ERROR_REQUESTS }, () => ({ kind: "error", path: "/status/500" })),
      ...Array.from({ length: SLOW_REQUESTS }, () => ({
        kind: "slow",
        path: `/slow/${SLOWER_THAN_MS * 2}`,
      })),
    ];
    // Errors and slow requests spread among the rest, as traffic comes.
    paths.sort(() => Math.random() - 0.5);
    const sent = await pool(
      paths.map((request, n) => ({ ...request, proxy: proxies[n % 3] })),
      async ({ kind, path, proxy }) => {
        const response = await fetch(`${proxy.url}${path}`);
        await response.body?.cancel();
        assert.equal(response.status, kind === "error" ? 500 : 200);
        return { kind, viaA: proxy === edgeA, ...handedBack(response) };
      },
    );

    // Everything recorded reaches tier 1 (the proxies and the app export what is queued as they
    // stop), and stopping tier 1 drains its queues to tier 2.
    for (const proxy of [edgeA, edgeB]) assert.equal((await proxy.stop()).code, 0);
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
    const results = sent.map(({ kind, viaA, traceId, recorded }) => {
      const holders = keptBy.filter((byTrace) => byTrace.has(traceId));
      assert.ok(holders.length <= 1, `trace ${traceId} at ${holders.length} tier-2 instances`);
      return { kind, viaA, traceId, recorded, spans: holders[0]?.get(traceId) };
    });
    const viaA = results.filter((result) => result.viaA);
    const viaB = results.filter((result) => !result.viaA);
    assert.ok(viaA.filter(({ recorded }) => recorded).length >= MAX_TRACES_PER_SECOND);
    assert.deepEqual(viaB.filter(({ recorded }) => recorded), [], "edge-b records nothing itself");

    for (const { traceId, recorded, spans } of results) {
      if (!spans) continue;
      // Whole: the proxy's SERVER and CLIENT spans and, when the proxy recorded the request (so
      // the app did too), the app's SERVER span, chained.
      const kinds = spans.map(({ span }) => span.kind).sort();
      assert.deepEqual(
        kinds,
        recorded ? [2, 2, 3] : [2, 3],
        `trace ${traceId}: span kinds ${kinds}`,
      );
      const edge = spans.find(({ span }) => span.kind === 2 && !span.parentSpanId)!;
      const client = spans.find(({ span }) => span.kind === 3)!;
      assert.ok(edge, `trace ${traceId}: no root span`);
      assert.equal(client.span.parentSpanId, edge.span.spanId);
      if (!recorded) continue;
      const upstream = spans.find(({ span }) => span.kind === 2 && span.parentSpanId)!;
      assert.equal(upstream.span.parentSpanId, client.span.spanId);
      assert.equal(
        upstream.resource.find(({ key }) => key === "service.name")?.value.stringValue,
        "orders",
      );
    }

    // Every error and slow trace that reached the Collector is kept: those edge-a recorded, and
    // all of edge-b's (its tail rules). What edge-a did not record (over its cap) never arrives.
    const exported = [...viaA.filter(({ recorded }) => recorded), ...viaB];
    for (const kind of ["error", "slow"]) {
      const ofKind = exported.filter((result) => result.kind === kind);
      assert.deepEqual(ofKind.filter(({ spans }) => !spans), [], `${kind} traces all kept`);
    }
    assert.deepEqual(viaA.filter(({ recorded, spans }) => !recorded && spans), []);
    assert.deepEqual(viaB.filter(({ kind, spans }) => kind === "normal" && spans), []);
    for (const { spans } of viaB.filter(({ spans }) => spans)) {
      const edge = spans!.find(({ span }) => span.kind === 2)!;
      const keptBy = edge.span.attributes?.find(({ key }) => key === SAMPLING_REASON_ATTRIBUTE);
      assert.ok(keptBy, "edge-b's spans say which tail rule kept them");
    }

    // Of the normal requests edge-a recorded, the configured share is kept.
    const candidates = viaA.filter(({ kind, recorded }) => kind === "normal" && recorded);
    const kept = candidates.filter(({ spans }) => spans).length;
    // Binomial(n, p): four standard deviations either side fail a correct setup about once in
    // 16 000 runs; a processor keeping all or none of them fails every time.
    const n = candidates.length;
    const p = KEEP_PERCENT / 100;
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(
      Math.abs(kept - n * p) <= 4 * sd,
      `kept ${kept} of ${n} recorded normal traces; expected ${n * p} ± ${4 * sd}`,
    );
    // Both instances took a share of the traffic.
    for (const byTrace of keptBy) assert.ok(byTrace.size > 1, "a tier-2 instance got nothing");
  } finally {
    await Promise.all([edgeA.stop(), edgeB.stop()]);
    await app.close();
    await tier1.stop();
    await Promise.all(tier2.map(({ collector }) => collector.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
