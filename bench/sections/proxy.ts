/**
 * The proxy under HTTP load: an upstream hello server reached directly, through a bare
 * pass-through proxy and through tracegate, on Deno and in workerd — through Miniflare and on the
 * bare `workerd` binary as production runs it — plus a pass-through Worker instrumented with
 * `@microlabs/otel-cf-workers`, and on Deno and bare workerd the floor: a proxy written by hand
 * that does what tracegate's does for an unsampled request, with no span
 * (`bench/fixtures/proxy_floor`).
 */
import { Harness, jsonCounter, type Target } from "../lib/harness.ts";
import { type ServerProcess, startAll, startServer } from "../lib/process.ts";
import { deliveryRatios, rateRatios, type TargetCheck } from "../lib/render.ts";
import { startSinkProcess } from "../lib/sink_process.ts";
import { COUNT_PATH } from "../servers/upstream.ts";
import type { SectionContext } from "./context.ts";
import { type LoadSectionResult, SAMPLED, UNSAMPLED } from "./middleware.ts";

/** proxy/deno.ts with the permissions `deno task proxy:deno` gives it. */
export const PROXY_DENO_FLAGS = ["--allow-net", "--allow-env", "--allow-sys"];

export function startDenoProxy(
  upstream: string,
  endpoint: string,
  extraFlags: readonly string[] = [],
): Promise<ServerProcess> {
  return startServer("proxy/deno.ts", [], {
    flags: [...PROXY_DENO_FLAGS, ...extraFlags],
    env: {
      TRACEGATE_UPSTREAM: upstream,
      TRACEGATE_PORT: "0",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    },
  });
}

export async function runProxyLoad(ctx: SectionContext): Promise<LoadSectionResult> {
  await using sink = await startSinkProcess();
  await using upstream = await startServer("bench/servers/upstream.ts");
  const worker = (config: string, bindings: Record<string, string>, bare: boolean) =>
    startServer("bench/servers/worker.ts", [config], {
      env: { BENCH_BINDINGS: JSON.stringify(bindings), BENCH_BARE_WORKERD: bare ? "1" : "0" },
      timeoutMs: 120_000,
    });
  const workers = (bare: boolean) => [
    worker("bench/fixtures/passthrough/wrangler.toml", { UPSTREAM: upstream.url }, bare),
    worker("wrangler.toml", {
      TRACEGATE_UPSTREAM: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    }, bare),
    worker("bench/fixtures/otel_cf_workers/wrangler.toml", {
      UPSTREAM: upstream.url,
      OTLP_TRACES_URL: `${sink.endpoint}/v1/traces`,
    }, bare),
  ];
  // Builds and start-ups in parallel: each takes seconds.
  await using servers = await startAll([
    startServer("bench/servers/passthrough.ts", [], { env: { BENCH_UPSTREAM: upstream.url } }),
    startDenoProxy(upstream.url, sink.endpoint),
    ...workers(false),
    ...workers(true),
    startServer("bench/servers/proxy_floor.ts", [], { env: { BENCH_UPSTREAM: upstream.url } }),
    worker("bench/fixtures/proxy_floor/wrangler.toml", { UPSTREAM: upstream.url }, true),
  ]);
  const [
    passDeno,
    traceDeno,
    passWorker,
    traceWorker,
    peerWorker,
    passBare,
    traceBare,
    peerBare,
    floorDeno,
    floorBare,
  ] = servers;
  const served = jsonCounter(`${upstream.url}${COUNT_PATH}`, "served");
  const target = (
    id: string,
    label: string,
    server: ServerProcess,
    headers: Record<string, string>,
    spansPerRequest: number,
  ): Target => ({ id, label, url: server.url, server, headers, spansPerRequest, served });
  const targets = [
    target("a", "direct to the upstream", upstream, SAMPLED, 0),
    target("b", "Deno: bare pass-through fetch proxy", passDeno, SAMPLED, 0),
    target("c", "Deno: tracegate proxy, sampled", traceDeno, SAMPLED, 2),
    target("d", "Deno: tracegate proxy, unsampled", traceDeno, UNSAMPLED, 0),
    target("e", "Miniflare: bare pass-through Worker", passWorker, SAMPLED, 0),
    target("f", "Miniflare: tracegate Worker, sampled", traceWorker, SAMPLED, 2),
    target("g", "Miniflare: tracegate Worker, unsampled", traceWorker, UNSAMPLED, 0),
    target("h", "Miniflare: pass-through + otel-cf-workers, sampled", peerWorker, SAMPLED, 2),
    target("j", "bare workerd: bare pass-through Worker", passBare, SAMPLED, 0),
    target("k", "bare workerd: tracegate Worker, sampled", traceBare, SAMPLED, 2),
    target("l", "bare workerd: tracegate Worker, unsampled", traceBare, UNSAMPLED, 0),
    target("m", "bare workerd: pass-through + otel-cf-workers, sampled", peerBare, SAMPLED, 2),
    target("n", "Deno: floor, the proxy's work by hand, no span", floorDeno, UNSAMPLED, 0),
    target("o", "bare workerd: floor, the proxy's work by hand, no span", floorBare, UNSAMPLED, 0),
  ];
  const runs = await new Harness(ctx.generator, sink.counts, ctx.plan, ctx.log).compare(targets);
  const ratio = (name: string, of: string, over: string, threshold: number): TargetCheck => ({
    table: "issue",
    name,
    values: rateRatios(runs, of, over),
    threshold,
    direction: "≥",
    unit: "×",
  });
  const delivery = (table: TargetCheck["table"], name: string, id: string): TargetCheck => ({
    table,
    name,
    values: deliveryRatios(targets.find((t) => t.id === id)!, runs.get(id)!),
    threshold: 1,
    direction: "≥",
  });
  const checks = [
    ratio("Deno proxy, sampled (c), × bare Deno pass-through (b)", "c", "b", 0.8),
    ratio("Deno proxy, unsampled (d), × bare Deno pass-through (b)", "d", "b", 0.9),
    ratio(
      "Worker proxy on bare workerd, sampled (k), × bare pass-through Worker (j)",
      "k",
      "j",
      0.7,
    ),
    delivery("issue", "Worker proxy on bare workerd, sampled (k): spans delivered", "k"),
    ratio(
      "Worker proxy on bare workerd, unsampled (l), × bare pass-through Worker (j)",
      "l",
      "j",
      0.9,
    ),
    delivery("other", "Deno proxy (c): spans received per span expected", "c"),
    delivery("other", "Miniflare Worker proxy (f): spans received per span expected", "f"),
  ];
  return { targets, runs, checks };
}
