/** Markdown for the load sections: one row per target, figures as median (min–max) over rounds. */
import type { Run, Target } from "./harness.ts";
import { format, formatSpread, spread } from "./stats.ts";

/** Per round, `of`'s requests per second over `over`'s, both taken in the same round. */
export function rateRatios(runs: Map<string, Run[]>, of: string, over: string): number[] {
  const a = runs.get(of) ?? [];
  const b = runs.get(over) ?? [];
  return a.map((run, round) => run.load.requestsPerSecond / b[round].load.requestsPerSecond);
}

/** Spans received per span expected, per round; empty when the target exports none. */
export function deliveryRatios(target: Target, runs: readonly Run[]): number[] {
  if (target.spansPerRequest === 0) return [];
  return runs.map((run) => run.sink.spans / (run.served * target.spansPerRequest));
}

export function loadTable(
  targets: readonly Target[],
  runs: Map<string, Run[]>,
  baseline: (target: Target) => string | undefined,
): string {
  const rows = [
    "| target | req/s | × baseline | p50 ms | p99 ms | server CPU µs/req | spans at sink per request | spans received / expected | errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const target of targets) {
    const own = runs.get(target.id) ?? [];
    const base = baseline(target);
    const delivery = deliveryRatios(target, own);
    rows.push(
      `| ${target.id}. ${target.label} | ${
        formatSpread(own.map((r) => r.load.requestsPerSecond), 0)
      } | ` +
        `${base ? `${formatSpread(rateRatios(runs, target.id, base), 2)} × ${base}` : "–"} | ` +
        `${formatSpread(own.map((r) => r.load.p50Ms), 2)} | ` +
        `${formatSpread(own.map((r) => r.load.p99Ms), 2)} | ` +
        `${formatSpread(own.map((r) => (r.cpuSeconds / r.served) * 1e6), 1)} | ` +
        `${formatSpread(own.map((r) => r.sink.spans / r.served), 3)} | ` +
        `${delivery.length ? formatSpread(delivery, 3) : "–"} | ` +
        `${own.reduce((sum, r) => sum + r.load.errors, 0)} |`,
    );
  }
  return rows.join("\n");
}

export interface TargetCheck {
  /** "issue": a row of issue 8's table of targets; "other": a standing check of earlier work. */
  readonly table: "issue" | "other";
  readonly name: string;
  /** The figure compared, per round. */
  readonly values: readonly number[];
  readonly threshold: number;
  /** "≥" : the median must reach the threshold; "≤": must not exceed it. */
  readonly direction: "≥" | "≤";
  readonly unit?: string;
}

export function met(check: TargetCheck): boolean {
  const { median } = spread(check.values);
  return check.direction === "≥" ? median >= check.threshold : median <= check.threshold;
}

/** How far the median is from the threshold, relative to it. */
export function shortfall(check: TargetCheck): string {
  const { median } = spread(check.values);
  const gap = Math.abs(median - check.threshold) / check.threshold;
  return `${format(gap * 100, 0)}% ${check.direction === "≥" ? "below" : "above"} the target`;
}

export function checkTable(checks: readonly TargetCheck[]): string {
  const rows = ["| target | measured | required | result |", "| --- | --- | --- | --- |"];
  for (const check of checks) {
    rows.push(
      `| ${check.name} | ${formatSpread(check.values, 2, check.unit ?? "")} | ` +
        `${check.direction} ${check.threshold}${check.unit ?? ""} | ` +
        `${met(check) ? "met" : `**missed**: ${shortfall(check)}`} |`,
    );
  }
  return rows.join("\n");
}
