/**
 * `deno task bench`: every benchmark, side by side, then rewrites bench/RESULTS.md.
 *
 * BENCH_QUICK=1 gives a smoke run of about four minutes (one micro round, 2 rounds of 1 s, a
 * 5 s + 5 s collector outage); BENCH_ONLY=micro,middleware,proxy,export,bundle runs a subset
 * (export needs middleware and proxy for its batching table; the outage runs on its own).
 */
import { describeMachine, loadAverage, versions } from "./lib/machine.ts";
import { loadGenerator } from "./lib/load.ts";
import type { Plan } from "./lib/harness.ts";
import { checkTable, loadTable, met, type TargetCheck } from "./lib/render.ts";
import type { SectionContext } from "./sections/context.ts";
import { renderMicro, runMicro } from "./sections/micro.ts";
import {
  type LoadSectionResult,
  runMiddlewareLoad,
  SAMPLED,
  UNSAMPLED,
} from "./sections/middleware.ts";
import { runProxyLoad } from "./sections/proxy.ts";
import {
  exportChecks,
  exportRows,
  exportTable,
  outageCheck,
  renderOutage,
  runCollectorOutage,
} from "./sections/export.ts";
import { bundleCheck, renderBundles, runBundles } from "./sections/bundle.ts";
import { type ProfileRequest, profileUnderLoad, renderProfile } from "./sections/profile.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const QUICK = Deno.env.get("BENCH_QUICK") === "1";
const ONLY = new Set(
  (Deno.env.get("BENCH_ONLY") ?? "micro,middleware,proxy,export,bundle").split(","),
);
const plan: Plan & { microRounds: number; outageSeconds: number; profileSeconds: number } = QUICK
  ? {
    connections: 32,
    seconds: 1,
    warmupSeconds: 1,
    rounds: 2,
    drainMs: 8_000,
    microRounds: 1,
    outageSeconds: 5,
    profileSeconds: 2,
  }
  : {
    // About 13 minutes in all with the bare-workerd rows (19 load targets): 4 s runs and a 1 s
    // warm-up each, two micro rounds, a 45 s + 45 s outage. Six rounds, not four: on this shared
    // 2-core machine one round's ratio swung by up to ±30 %, and a median of four is the mean of
    // the two middle rounds.
    connections: 32,
    seconds: 4,
    warmupSeconds: 1,
    rounds: 6,
    drainMs: 10_000,
    microRounds: 2,
    outageSeconds: 45,
    profileSeconds: 6,
  };

const started = Date.now();
const log = (line: string) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);
const machine = await describeMachine();
const installed = await versions(ROOT);
const generator = await loadGenerator(log);
const ctx: SectionContext = { generator, plan, log };
const sections: string[] = [];
const checks: TargetCheck[] = [];

if (ONLY.has("micro")) {
  log("micro benchmarks");
  sections.push(
    "## 1. Micro benchmarks (`deno bench`)",
    "",
    "`deno bench`'s mean and 75th-percentile time per iteration, each the median (min–max) " +
      `over ${plan.microRounds} run(s) of the whole suite; × baseline divides by the group ` +
      "baseline's figure in the same run. The mean carries GC pauses (and, on a busy machine, " +
      "preemption); the p75 mostly does not.",
    renderMicro(await runMicro(ROOT, plan.microRounds, log)),
  );
}

let middleware: LoadSectionResult | undefined;
if (ONLY.has("middleware")) {
  log("middleware under load");
  middleware = await runMiddlewareLoad(ctx);
  checks.push(...middleware.checks);
  sections.push(
    "## 2. Middleware under HTTP load",
    "",
    "Hono hello-world on `Deno.serve` (`bench/servers/hello.ts`), one process per server; " +
      "tracegate and `@hono/otel` export over OTLP/HTTP to the sink. Ratios are to (a) in " +
      "the same round. Rows f to j trace nothing: (f) is the ceiling of any Hono middleware " +
      "(one no-op middleware takes Hono off its single-handler path); (g) does only what " +
      "tracegate must do for an unsampled request (the propagation headers read, the context " +
      "made active around the handler, X-Request-ID and Server-Timing written), the ceiling of " +
      "the unsampled row; (h), (i) and (j) each do one part of (g) alone, the least of it: " +
      "`traceparent` read, the context made active, Server-Timing written. Each is a ceiling " +
      "of any middleware that continues the trace (h, i) or hands it back (j).",
    "",
    loadTable(middleware.targets, middleware.runs, (t) => t.id === "a" ? undefined : "a"),
  );
}

let proxy: LoadSectionResult | undefined;
if (ONLY.has("proxy")) {
  log("proxy under load");
  proxy = await runProxyLoad(ctx);
  checks.push(...proxy.checks);
  const baseline = (id: string) =>
    ({
      b: "a",
      c: "b",
      d: "b",
      e: "a",
      f: "e",
      g: "e",
      h: "e",
      j: "a",
      k: "j",
      l: "j",
      m: "j",
      n: "b",
      o: "j",
    } as Record<string, string>)[id];
  sections.push(
    "## 3. Proxy under HTTP load",
    "",
    "An upstream hello server (`bench/servers/upstream.ts`, counting what it serves); on Deno a " +
      "bare `fetch` pass-through (`bench/servers/passthrough.ts`) and `proxy/deno.ts` as " +
      "`deno task proxy:deno` runs it; Workers built exactly as `wrangler deploy --dry-run` builds " +
      "them, run in workerd twice: through **Miniflare** (`tests/support/worker.ts`, one Miniflare " +
      "per Worker: its entry Worker sits in front) and on the **bare `workerd` binary** of the " +
      "`workerd` npm package with a generated config (`bench/lib/workerd.ts`: one socket, the " +
      "wrangler.toml vars plus the bench's as text bindings), as production runs it: the bare " +
      "pass-through Worker (`bench/fixtures/passthrough`), the tracegate Worker (`wrangler.toml`, " +
      "its defaults: parent-based always-off, tail errors on) and the pass-through Worker " +
      "instrumented with `@microlabs/otel-cf-workers` (`bench/fixtures/otel_cf_workers`). Server " +
      "CPU is the process tree's (with Miniflare, its Deno host plus workerd). Rows n and o trace " +
      "nothing: a proxy written by hand (`bench/fixtures/proxy_floor`) that does what the " +
      "tracegate proxy does for an unsampled request (hop-by-hop headers left out, " +
      "X-Forwarded-* added, `traceparent` with a new parent id and X-Request-ID sent upstream, the " +
      "upstream deadline, X-Request-ID and Server-Timing handed back) the way measured cheapest on " +
      "each runtime, with no span: the ceiling of the unsampled rows (d, l). Ratios: b to a, " +
      "c/d/n to b, e and j to a, f/g/h to e, k/l/m/o to j.",
    "",
    loadTable(proxy.targets, proxy.runs, (t) => baseline(t.id)),
  );
}

if (ONLY.has("export")) {
  const parts = ["## 4. Export", ""];
  if (middleware && proxy) {
    const rows = exportRows(middleware, proxy);
    checks.push(...exportChecks(rows));
    parts.push(
      "From the sampled runs above (32 connections): what reached the sink per run. " +
        '"CPU added per span" is the server\'s CPU per request traced minus untraced ' +
        "(same server, same round), divided by the spans per request.",
      "",
      exportTable(rows),
      "",
    );
  }
  log(`collector outage: ${plan.outageSeconds} s down, ${plan.outageSeconds} s back`);
  const outage = await runCollectorOutage(ctx, plan.outageSeconds);
  checks.push(outageCheck(outage));
  parts.push(
    `### Collector down, then back: the Deno proxy, sampled, 32 connections`,
    "",
    renderOutage(outage),
  );
  sections.push(...parts);
}

if (ONLY.has("bundle")) {
  log("bundles");
  const bundles = await runBundles(ROOT, log);
  checks.push(bundleCheck(bundles));
  sections.push(
    "## 5. Bundle size",
    "",
    "`wrangler deploy --dry-run --outdir … --metafile …`; contributors from esbuild's metafile " +
      "(bytes each input left in the minified output), by npm package (marked when esbuild took " +
      "the package's CommonJS build, which it cannot tree-shake) or by folder.",
    "",
    renderBundles(bundles),
  );
}

const missed = checks.filter((check) => !met(check));
const profiles = profileRequests(missed);
if (profiles.length > 0) {
  const rendered: string[] = [];
  for (const request of profiles) {
    log(`profile: ${request.server} ${request.headers.traceparent}`);
    rendered.push(renderProfile(await profileUnderLoad(ctx, request, plan.profileSeconds)), "");
  }
  sections.push(
    "## Where the time goes (profiles for the missed targets)",
    "",
    "`deno run --cpu-prof` on the server under the same load (32 connections, " +
      `${plan.profileSeconds} s), self time summed by function and by area, idle excluded. ` +
      "The proxy Worker on bare workerd is profiled over workerd's inspector (`--inspector-addr`, " +
      "the DevTools protocol's `Profiler`) after a warm-up, built unminified so that each " +
      "function keeps its name and its module. V8 samples the isolate's thread by wall time, so " +
      "a busy machine blurs the shares; and most of workerd's CPU is its own C++ (the native " +
      "objects, streams and promises a request creates), which shows here only as the native " +
      "call or `(program)` that led to it.",
    "",
    ...rendered,
  );
}

const elapsedMinutes = (Date.now() - started) / 60_000;
const analysis = await Deno.readTextFile(`${ROOT}/bench/ANALYSIS.md`).catch(() => "");
const report = [
  "# Benchmark results",
  "",
  `Written by \`${QUICK ? "BENCH_QUICK=1 " : ""}deno task bench\` (\`bench/run.ts\`) on ` +
  `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, in ${
    elapsedMinutes.toFixed(1)
  } min` +
  `${QUICK ? " — a quick smoke run: short and noisy, not for conclusions" : ""}.`,
  "",
  "## Machine and versions",
  "",
  `- CPU: ${machine.cpu}, ${machine.cores} cores; memory ${
    machine.memoryGiB.toFixed(1)
  } GiB; ${machine.os}`,
  `- load average (1, 5, 15 min) at the start: ${machine.loadAverage}; at the end: ` +
  `${await loadAverage()}${
    Number(machine.loadAverage.split(" ")[0]) >= 0.8
      ? " — **the machine was not quiet**: other work competed for its 2 cores during this run"
      : ""
  }`,
  `- load generator: ${generator.name}, 1 thread, ${plan.connections} connections, 127.0.0.1`,
  ...Object.entries(installed).map(([name, version]) => `- ${name}: ${version}`),
  "",
  "## Method",
  "",
  METHOD(plan),
  "",
  "## Targets",
  "",
  "Issue 8's table, row by row (median over rounds, min–max in brackets). A target counts as met " +
  "only from a full run on a quiet machine.",
  "",
  tableOf("issue"),
  "",
  "### Other checks",
  "",
  tableOf("other"),
  "",
  ...sections.flatMap((section) => [section, ""]),
  analysis,
].join("\n");
await Deno.writeTextFile(`${ROOT}/bench/RESULTS.md`, report);
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "bench/RESULTS.md"],
  cwd: ROOT,
  stderr: "null",
})
  .output();
log(`wrote bench/RESULTS.md (${missed.length} of ${checks.length} targets missed)`);

function tableOf(table: TargetCheck["table"]): string {
  const rows = checks.filter((check) => check.table === table);
  return rows.length > 0 ? checkTable(rows) : "(none measured in this run)";
}

/** One profile per server and sampling mode behind the missed targets. */
function profileRequests(missed: readonly TargetCheck[]): ProfileRequest[] {
  const requests = new Map<string, ProfileRequest>();
  const want = (server: ProfileRequest["server"], sampled: boolean, reason: string) => {
    const key = `${server} ${sampled}`;
    const known = requests.get(key);
    requests.set(key, {
      server,
      headers: sampled ? SAMPLED : UNSAMPLED,
      reason: known ? `${known.reason}; ${reason}` : reason,
    });
  };
  for (const { name } of missed) {
    if (name.startsWith("Hono middleware, sampled")) want("middleware", true, name);
    else if (name.startsWith("Hono middleware, unsampled")) want("middleware", false, name);
    else if (/^Worker proxy on bare workerd, sampled/.test(name)) want("workerd", true, name);
    else if (/^Worker proxy on bare workerd, unsampled/.test(name)) want("workerd", false, name);
    else if (/^CPU added per exported span, proxy on bare workerd/.test(name)) {
      want("workerd", true, name);
    } else if (/^(Deno|Worker) proxy.*, sampled/.test(name)) want("proxy", true, name);
    else if (/^(Deno|Worker) proxy.*, unsampled/.test(name)) want("proxy", false, name);
  }
  return [...requests.values()];
}

function METHOD(p: typeof plan): string {
  return [
    `Load runs: ${p.rounds} rounds of ${p.seconds} s per target after a ${p.warmupSeconds} s ` +
    "warm-up each, the targets of a section interleaved (the order rotating every round: A B C, " +
    "B C A, …). Every figure is the **median over rounds, with min–max in brackets**; every ratio " +
    "is taken within one round (both figures a few seconds apart) and then summarised the same " +
    "way. Load generator, servers, upstream and OTLP sink all run on 127.0.0.1 of this 2-core " +
    "machine, so they compete for CPU: absolute req/s is this machine's, the ratios are the result.",
    "",
    "Requests carry `traceparent` with the sampled flag (`-01`) or not (`-00`); nothing else. " +
    '"Requests served" is counted where the request ends (the hello handler, or the upstream), ' +
    "including those in flight when wrk stops; server CPU is utime+stime from /proc of the " +
    "server's process tree, from the start of a run until its spans have reached the sink. The " +
    "sink (`bench/servers/sink.ts`, its own process) counts spans, requests and bytes: " +
    "`viewer/otlp/` reads every export down to each span's ids and builds nothing, since the sink " +
    "shares the two cores with what is measured (building every span cost it ~24 µs of CPU a " +
    "span, more than a traced request) and a production collector runs elsewhere.",
  ].join("\n");
}
