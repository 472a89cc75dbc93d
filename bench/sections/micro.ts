/**
 * Micro benchmarks: `deno bench --json` over `bench/*_bench.ts`, run once per round. Each figure
 * is Deno's mean time per iteration; ratios are to the group's baseline in the same run.
 */
import { formatSpread } from "../lib/stats.ts";
import { BENCH_CONFIG } from "../lib/process.ts";

interface BenchRecord {
  readonly origin: string;
  readonly group: string | null;
  readonly name: string;
  readonly baseline: boolean;
  readonly results: readonly { ok?: { avg: number; p75: number } }[];
}

export interface MicroBench {
  readonly file: string;
  readonly group: string;
  readonly name: string;
  readonly baseline: boolean;
  /** Mean ns per iteration, one per round. */
  readonly nanos: number[];
  /** 75th percentile ns per iteration, one per round: less swayed by GC pauses and preemption. */
  readonly p75: number[];
  /** Mean time over the group baseline's, one per round. */
  readonly ratios: number[];
  /** The same for the 75th percentiles. */
  readonly p75Ratios: number[];
}

export async function runMicro(
  root: string,
  rounds: number,
  log: (line: string) => void,
): Promise<MicroBench[]> {
  const files = [...Deno.readDirSync(`${root}/bench`)]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_bench.ts"))
    .sort()
    .map((name) => `bench/${name}`);
  const benches = new Map<string, MicroBench>();
  for (let round = 0; round < rounds; round++) {
    log(`  micro round ${round + 1}/${rounds}: deno bench ${files.join(" ")}`);
    const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bench", "--config", BENCH_CONFIG, "--allow-all", "--json", ...files],
      cwd: root,
      env: { NO_COLOR: "1" },
    }).output();
    if (!success) throw new Error(`deno bench failed:\n${new TextDecoder().decode(stderr)}`);
    const records = (JSON.parse(new TextDecoder().decode(stdout)) as { benches: BenchRecord[] })
      .benches;
    const baselines = new Map<string, { avg: number; p75: number }>();
    for (const record of records) {
      const ok = record.results[0].ok;
      if (record.baseline && ok) baselines.set(groupKey(record), ok);
    }
    for (const record of records) {
      const key = `${groupKey(record)}\u0000${record.name}`;
      const { avg, p75 } = record.results[0].ok ?? { avg: NaN, p75: NaN };
      const baseline = baselines.get(groupKey(record)) ?? { avg: NaN, p75: NaN };
      const bench = benches.get(key) ?? {
        file: record.origin.replace(/^.*\/bench\//, "bench/"),
        group: record.group ?? "",
        name: record.name,
        baseline: record.baseline,
        nanos: [],
        p75: [],
        ratios: [],
        p75Ratios: [],
      };
      bench.nanos.push(avg);
      bench.p75.push(p75);
      bench.ratios.push(avg / baseline.avg);
      bench.p75Ratios.push(p75 / baseline.p75);
      benches.set(key, bench);
    }
  }
  return [...benches.values()];
}

function groupKey(record: BenchRecord): string {
  return `${record.origin}\u0000${record.group ?? ""}`;
}

export function renderMicro(benches: readonly MicroBench[]): string {
  const out: string[] = [];
  let heading = "";
  for (const bench of benches) {
    const title = `${bench.file} — ${bench.group}`;
    if (title !== heading) {
      heading = title;
      out.push(
        "",
        `**${title}**`,
        "",
        "| benchmark | mean time/iter | × baseline (mean) | p75 time/iter | × baseline (p75) |",
        "| --- | --- | --- | --- | --- |",
      );
    }
    const ratio = (ratios: number[]) => bench.baseline ? "1" : formatSpread(ratios, 2);
    out.push(
      `| ${bench.name}${bench.baseline ? " (baseline)" : ""} | ${time(bench.nanos)} | ` +
        `${ratio(bench.ratios)} | ${time(bench.p75)} | ${ratio(bench.p75Ratios)} |`,
    );
  }
  return out.join("\n");
}

/** Nanoseconds below 10 µs, microseconds above. */
function time(nanos: readonly number[]): string {
  return Math.max(...nanos) >= 10_000
    ? formatSpread(nanos.map((n) => n / 1000), 2, " µs")
    : formatSpread(nanos, 0, " ns");
}
