/**
 * Export: what the sampled load runs sent to the sink (requests, bytes, spans per CPU-second),
 * and the Deno proxy's memory while the collector is down and after it comes back.
 */
import type { Run } from "../lib/harness.ts";
import { jsonCounter } from "../lib/harness.ts";
import { type ServerProcess, startServer } from "../lib/process.ts";
import type { TargetCheck } from "../lib/render.ts";
import { startSinkProcess } from "../lib/sink_process.ts";
import { format, formatSpread, spread } from "../lib/stats.ts";
import { COUNT_PATH } from "../servers/upstream.ts";
import type { SectionContext } from "./context.ts";
import { type LoadSectionResult, SAMPLED } from "./middleware.ts";
import { startDenoProxy } from "./proxy.ts";

interface ExportRow {
  readonly label: string;
  readonly traced: readonly Run[];
  /** The same server, untraced, in the same rounds: the CPU a span adds is the difference. */
  readonly untraced: readonly Run[];
  readonly spansPerRequest: number;
  /** tracegate's own rows are held to the batching target. */
  readonly ours: boolean;
  /** Issue 8's bound on the CPU each exported span adds, where it sets one. */
  readonly maxCpuPerSpanUs?: number;
}

export function exportRows(middleware: LoadSectionResult, proxy: LoadSectionResult): ExportRow[] {
  const m = (id: string) => middleware.runs.get(id) ?? [];
  const p = (id: string) => proxy.runs.get(id) ?? [];
  return [
    {
      label: "middleware: tracegate (b − c)",
      traced: m("b"),
      untraced: m("c"),
      spansPerRequest: 1,
      ours: true,
      maxCpuPerSpanUs: 8,
    },
    {
      label: "middleware: @hono/otel + SDK (d − e)",
      traced: m("d"),
      untraced: m("e"),
      spansPerRequest: 1,
      ours: false,
    },
    {
      label: "proxy on Deno: tracegate (c − d)",
      traced: p("c"),
      untraced: p("d"),
      spansPerRequest: 2,
      ours: true,
      maxCpuPerSpanUs: 8,
    },
    {
      label: "proxy in Miniflare: tracegate (f − g)",
      traced: p("f"),
      untraced: p("g"),
      spansPerRequest: 2,
      ours: true,
    },
    {
      label: "proxy in Miniflare: otel-cf-workers (h − e)",
      traced: p("h"),
      untraced: p("e"),
      spansPerRequest: 2,
      ours: false,
    },
    {
      label: "proxy on bare workerd: tracegate (k − l)",
      traced: p("k"),
      untraced: p("l"),
      spansPerRequest: 2,
      ours: true,
      maxCpuPerSpanUs: 25,
    },
    {
      label: "proxy on bare workerd: otel-cf-workers (m − j)",
      traced: p("m"),
      untraced: p("j"),
      spansPerRequest: 2,
      ours: false,
    },
  ];
}

/** Per round: the server CPU per request traced minus untraced, per span, in µs. */
function cpuPerSpanUs(row: ExportRow): number[] {
  return row.traced.map((r, round) =>
    ((r.cpuSeconds / r.served -
      row.untraced[round].cpuSeconds / row.untraced[round].served) /
      row.spansPerRequest) * 1e6
  );
}

export function exportTable(rows: readonly ExportRow[]): string {
  const lines = [
    "| exporter | OTLP requests per 1000 traced requests | spans per OTLP request | bytes per span | spans exported per server CPU-second | CPU added per span, µs |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const per = (f: (run: Run) => number) => row.traced.map(f);
    lines.push(
      `| ${row.label} | ${formatSpread(per((r) => (r.sink.requests / r.served) * 1000), 1)} | ` +
        `${formatSpread(per((r) => r.sink.spans / r.sink.requests), 0)} | ` +
        `${formatSpread(per((r) => r.sink.bytes / r.sink.spans), 0)} | ` +
        `${formatSpread(per((r) => r.sink.spans / r.cpuSeconds), 0)} | ` +
        `${formatSpread(cpuPerSpanUs(row), 1)} |`,
    );
  }
  return lines.join("\n");
}

export function exportChecks(rows: readonly ExportRow[]): TargetCheck[] {
  const cpu = rows.filter((row) => row.maxCpuPerSpanUs !== undefined).map((row) => ({
    table: "issue" as const,
    name: `CPU added per exported span, ${row.label}`,
    values: cpuPerSpanUs(row),
    threshold: row.maxCpuPerSpanUs!,
    direction: "≤" as const,
    unit: " µs",
  }));
  const batching = rows.filter((row) => row.ours).map((row) => ({
    table: "other" as const,
    name: `${row.label.replace(/ \(.*\)$/, "")}: spans per OTLP request at 32 connections`,
    values: row.traced.map((r) => r.sink.spans / r.sink.requests),
    threshold: 50,
    direction: "≥" as const,
  }));
  return [...cpu, ...batching];
}

export interface RssSample {
  readonly phase: "collector down" | "collector back";
  readonly seconds: number;
  readonly rssKiB: number;
}

export interface OutageResult {
  readonly phaseSeconds: number;
  readonly warmRssKiB: number;
  readonly samples: readonly RssSample[];
  readonly drainedRssKiB: number;
  readonly requests: { down: number; back: number };
  readonly served: number;
  readonly spansExpected: number;
  readonly spansDelivered: number;
  /** From the proxy's last drop log line. */
  readonly dropLine: string | undefined;
  readonly droppedTotal: number;
}

/**
 * The Deno proxy, sampled, under load at 32 connections: `phaseSeconds` with the collector down,
 * then `phaseSeconds` after it comes back on the same port, then drained and stopped (SIGTERM:
 * it exports what is left and logs its final drop count).
 */
export async function runCollectorOutage(
  ctx: SectionContext,
  phaseSeconds: number,
): Promise<OutageResult> {
  await using upstream = await startServer("bench/servers/upstream.ts");
  const served = jsonCounter(`${upstream.url}${COUNT_PATH}`, "served");
  const firstSink = await startSinkProcess();
  const port = Number(new URL(firstSink.endpoint).port);
  const proxy = await startDenoProxy(upstream.url, firstSink.endpoint);
  try {
    const load = (seconds: number) =>
      ctx.generator.run(`${proxy.url}/`, {
        connections: ctx.plan.connections,
        seconds,
        headers: SAMPLED,
      });
    await load(ctx.plan.warmupSeconds);
    const warmRssKiB = await drainedRss(proxy, firstSink.counts);
    await firstSink.process.stop();
    const served0 = await served();
    ctx.log(`  collector down for ${phaseSeconds} s`);
    const down = await sampleRss(proxy, "collector down", load(phaseSeconds));
    await using sink = await startSinkProcess(port);
    ctx.log(`  collector back for ${phaseSeconds} s`);
    const back = await sampleRss(proxy, "collector back", load(phaseSeconds));
    const drainedRssKiB = await drainedRss(proxy, sink.counts);
    const servedTotal = await served() - served0;
    await proxy.stop();
    const dropLine = proxy.output.findLast((line) => line.includes("tracegate: dropped"));
    return {
      phaseSeconds,
      warmRssKiB,
      samples: [...down.samples, ...back.samples],
      drainedRssKiB,
      requests: { down: down.requests, back: back.requests },
      served: servedTotal,
      spansExpected: servedTotal * 2,
      spansDelivered: (await sink.counts()).spans,
      dropLine,
      droppedTotal: Number(/total dropped since start: (\d+)/.exec(dropLine ?? "")?.[1] ?? 0),
    };
  } finally {
    await proxy.stop();
    await firstSink.process.stop();
  }
}

async function sampleRss(
  proxy: ServerProcess,
  phase: RssSample["phase"],
  load: Promise<{ requests: number }>,
): Promise<{ samples: RssSample[]; requests: number }> {
  const samples: RssSample[] = [];
  const start = Date.now();
  let done = false;
  const finished = load.finally(() => (done = true));
  while (!done) {
    samples.push({ phase, seconds: (Date.now() - start) / 1000, rssKiB: await proxy.rssKiB() });
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }
  return { samples, requests: (await finished).requests };
}

/** RSS once the sink has stopped receiving (nothing new for 2 s, at most 30 s). */
async function drainedRss(
  proxy: ServerProcess,
  counts: () => Promise<{ spans: number }>,
): Promise<number> {
  const deadline = Date.now() + 30_000;
  let last = (await counts()).spans;
  let changedAt = Date.now();
  while (Date.now() < deadline && Date.now() - changedAt < 2000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = (await counts()).spans;
    if (now !== last) changedAt = Date.now();
    last = now;
  }
  return await proxy.rssKiB();
}

/**
 * Flat: by the last third of the outage, RSS has stopped growing — its median within 10% of the
 * middle third's. (Growth before the plateau is reported beside it: peak over warm RSS.)
 */
export function outageCheck(result: OutageResult): TargetCheck {
  const down = result.samples.filter((s) => s.phase === "collector down").map((s) => s.rssKiB);
  const third = Math.max(1, Math.floor(down.length / 3));
  const middle = spread(down.slice(third, 2 * third)).median;
  return {
    table: "other",
    name: "Deno proxy RSS with the collector down: last third over middle third (plateau)",
    values: [spread(down.slice(-third)).median / middle],
    threshold: 1.1,
    direction: "≤",
    unit: "×",
  };
}

export function renderOutage(result: OutageResult): string {
  const mib = (kib: number) => `${format(kib / 1024, 1)} MiB`;
  const phase = (name: RssSample["phase"]) => {
    const rss = result.samples.filter((s) => s.phase === name).map((s) => s.rssKiB);
    const { median, max } = spread(rss);
    const timeline = thin(rss, 8).map(mib).join(" → ");
    return `| ${name} (${result.phaseSeconds} s) | ${mib(median)} | ${mib(max)} | ${timeline} |`;
  };
  const accounted = result.spansDelivered + result.droppedTotal;
  return [
    `RSS of the proxy process after warm-up, drained: ${mib(result.warmRssKiB)}; peak during ` +
    `the outage ${
      format(Math.max(...result.samples.map((s) => s.rssKiB)) / result.warmRssKiB, 2)
    }× ` +
    "that.",
    "",
    "| phase | median RSS | peak RSS | RSS over the phase |",
    "| --- | --- | --- | --- |",
    phase("collector down"),
    phase("collector back"),
    `| drained (sink quiet for 2 s) | ${mib(result.drainedRssKiB)} | | |`,
    "",
    `Requests served: ${result.served} (${result.requests.down} with the collector down, ` +
    `${result.requests.back} after); spans expected ${result.spansExpected}, delivered ` +
    `${result.spansDelivered}, dropped ${result.droppedTotal} (delivered + dropped = ${accounted}, ` +
    `${format((accounted / result.spansExpected) * 100, 2)}% of expected).`,
    "",
    `The proxy's last drop line: \`${result.dropLine ?? "(none)"}\``,
  ].join("\n");
}

/** At most `count` values, evenly spaced, first and last kept. */
function thin(values: readonly number[], count: number): number[] {
  if (values.length <= count) return [...values];
  return Array.from(
    { length: count },
    (_, i) => values[Math.round((i * (values.length - 1)) / (count - 1))],
  );
}
