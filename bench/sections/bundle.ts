/** Worker bundle sizes as `wrangler deploy --dry-run` builds them, and what fills them. */
import { type BundleReport, measureBundle } from "../lib/bundle.ts";
import type { TargetCheck } from "../lib/render.ts";
import { format } from "../lib/stats.ts";

const WORKERS: readonly { label: string; config: string }[] = [
  { label: "tracegate proxy Worker (wrangler.toml)", config: "wrangler.toml" },
  {
    label: "pass-through + @hono/otel + OpenTelemetry SDK",
    config: "bench/fixtures/hono_otel/wrangler.toml",
  },
  {
    label: "pass-through + @microlabs/otel-cf-workers",
    config: "bench/fixtures/otel_cf_workers/wrangler.toml",
  },
  { label: "bare pass-through", config: "bench/fixtures/passthrough/wrangler.toml" },
];

export interface BundleRow {
  readonly label: string;
  readonly report: BundleReport;
}

export async function runBundles(root: string, log: (line: string) => void): Promise<BundleRow[]> {
  const rows: BundleRow[] = [];
  for (const { label, config } of WORKERS) {
    log(`  building ${config}`);
    rows.push({ label, report: await measureBundle(root, config) });
  }
  return rows;
}

export function bundleCheck(rows: readonly BundleRow[]): TargetCheck {
  return {
    table: "issue",
    name: "proxy Worker bundle, gzip (as wrangler reports it)",
    values: [rows[0].report.gzipKiB],
    threshold: 40,
    direction: "≤",
    unit: " KiB",
  };
}

export function renderBundles(rows: readonly BundleRow[]): string {
  const lines = [
    "| Worker | config | upload | gzip (wrangler) | gzip -9 | largest contributors (minified bytes in the bundle) |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const { label, report } of rows) {
    const total = report.contributors.reduce((sum, c) => sum + c.bytes, 0);
    const top = report.contributors.slice(0, 6).map((c) =>
      `${c.name} ${format(c.bytes / 1024, 1)} KiB (${format((c.bytes / total) * 100, 0)}%)`
    ).join("; ");
    lines.push(
      `| ${label} | \`${report.config}\` | ${format(report.uploadKiB, 2)} KiB | ` +
        `${format(report.gzipKiB, 2)} KiB | ${format(report.gzip9Bytes / 1024, 2)} KiB | ${top} |`,
    );
  }
  return lines.join("\n");
}
