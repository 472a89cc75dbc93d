/**
 * Where the time goes: a server under sampled or unsampled load with `deno run --cpu-prof`,
 * summarised by self time. Only taken for targets that were missed.
 */
import { type ProfileSummary, summariseProfile } from "../lib/profile.ts";
import { startServer } from "../lib/process.ts";
import { startSinkProcess } from "../lib/sink_process.ts";
import { format } from "../lib/stats.ts";
import type { SectionContext } from "./context.ts";
import { PROXY_DENO_FLAGS } from "./proxy.ts";

export type Profiled = "middleware" | "proxy";

export interface ProfileRequest {
  readonly server: Profiled;
  readonly headers: Readonly<Record<string, string>>;
  /** Why it is profiled: the missed targets it explains. */
  readonly reason: string;
}

export interface ProfileResult extends ProfileRequest {
  readonly requests: number;
  readonly summary: ProfileSummary;
}

export async function profileUnderLoad(
  ctx: SectionContext,
  request: ProfileRequest,
  seconds: number,
): Promise<ProfileResult> {
  const dir = await Deno.makeTempDir({ prefix: "tracegate-profile-" });
  try {
    await using sink = await startSinkProcess();
    await using upstream = await startServer("bench/servers/upstream.ts");
    const profiling = [`--cpu-prof`, `--cpu-prof-dir=${dir}`];
    const server = request.server === "middleware"
      ? await startServer("bench/servers/hello.ts", ["tracegate"], {
        flags: ["--allow-all", ...profiling],
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint },
      })
      : await startServer("proxy/deno.ts", [], {
        flags: [...PROXY_DENO_FLAGS, ...profiling],
        env: {
          TRACEGATE_UPSTREAM: upstream.url,
          TRACEGATE_PORT: "0",
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        },
      });
    let requests: number;
    try {
      const load = await ctx.generator.run(`${server.url}/`, {
        connections: ctx.plan.connections,
        seconds,
        headers: request.headers,
      });
      requests = load.requests;
    } finally {
      await server.stop();
    }
    const file = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile written by the ${request.server} server`);
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`));
    return { ...request, requests, summary: summariseProfile(profile) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export function renderProfile(result: ProfileResult): string {
  const percent = (share: number) => `${format(share * 100, 1)}%`;
  return [
    `**${
      result.server === "middleware"
        ? "tracegate middleware (hello.ts)"
        : "tracegate proxy (proxy/deno.ts)"
    }, ` +
    `traceparent \`${result.headers.traceparent}\`** — ${result.reason}. ` +
    `${result.requests} requests, ${format(result.summary.busyMs, 0)} ms of busy samples.`,
    "",
    "| self time by area | share |",
    "| --- | --- |",
    ...result.summary.areas.map((area) => `| ${area.name} | ${percent(area.share)} |`),
    "",
    "| top functions by self time | share |",
    "| --- | --- |",
    ...result.summary.functions.map((fn) => `| \`${fn.name}\` | ${percent(fn.share)} |`),
    "",
    "| tracegate's functions by inclusive time (self + callees) | share |",
    "| --- | --- |",
    ...result.summary.ownInclusive.map((fn) => `| \`${fn.name}\` | ${percent(fn.share)} |`),
  ].join("\n");
}
