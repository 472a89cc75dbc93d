/**
 * The proxy under HTTP load: an upstream hello server reached directly, through a bare
 * pass-through proxy and through tracegate, on Deno and in workerd (Miniflare), plus a
 * pass-through Worker instrumented with `@microlabs/otel-cf-workers`.
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
  const worker = (config: string, bindings: Record<string, string>) =>
    startServer("bench/servers/worker.ts", [config], {
      env: { BENCH_BINDINGS: JSON.stringify(bindings) },
      timeoutMs: 120_000,
    });
  // Builds and Miniflare start-ups in parallel: each takes seconds.
  await using servers = await startAll([
    startServer("bench/servers/passthrough.ts", [], { env: { BENCH_UPSTREAM: upstream.url } }),
    startServer("bench/servers/passthrough.ts", [], {
      env: { BENCH_UPSTREAM: upstream.url, BENCH_BODY_END: "1" },
    }),
    startDenoProxy(upstream.url, sink.endpoint),
    worker("bench/fixtures/passthrough/wrangler.toml", { UPSTREAM: upstream.url }),
    worker("wrangler.toml", {
      TRACEGATE_UPSTREAM: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    }),
    worker("bench/fixtures/otel_cf_workers/wrangler.toml", {
      UPSTREAM: upstream.url,
      OTLP_TRACES_URL: `${sink.endpoint}/v1/traces`,
    }),
  ]);
  const [passDeno, passDenoWrapped, traceDeno, passWorker, traceWorker, peerWorker] = servers;
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
    target("e", "workerd: bare pass-through Worker", passWorker, SAMPLED, 0),
    target("f", "workerd: tracegate Worker, sampled", traceWorker, SAMPLED, 2),
    target("g", "workerd: tracegate Worker, unsampled", traceWorker, UNSAMPLED, 0),
    target("h", "workerd: pass-through + otel-cf-workers, sampled", peerWorker, SAMPLED, 2),
    target(
      "i",
      "cost breakdown, Deno: bare pass-through + tracegate's body wrap (onBodyEnd) only",
      passDenoWrapped,
      SAMPLED,
      0,
    ),
  ];
  const runs = await new Harness(ctx.generator, sink.counts, ctx.plan, ctx.log).compare(targets);
  const ratio = (name: string, of: string, over: string, threshold: number): TargetCheck => ({
    name,
    values: rateRatios(runs, of, over),
    threshold,
    direction: "≥",
    unit: "×",
  });
  const delivery = (name: string, id: string): TargetCheck => ({
    name,
    values: deliveryRatios(targets.find((t) => t.id === id)!, runs.get(id)!),
    threshold: 1,
    direction: "≥",
  });
  const checks = [
    ratio("Deno proxy sampled (c) vs bare Deno proxy (b)", "c", "b", 0.8),
    ratio("Deno proxy unsampled (d) vs bare Deno proxy (b)", "d", "b", 0.9),
    ratio("workerd proxy sampled (f) vs bare Worker (e)", "f", "e", 0.8),
    ratio("workerd proxy unsampled (g) vs bare Worker (e)", "g", "e", 0.9),
    delivery("Deno proxy (c): spans received per span expected", "c"),
    delivery("workerd proxy (f): spans received per span expected", "f"),
  ];
  return { targets, runs, checks };
}
