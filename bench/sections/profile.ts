/**
 * Where the time goes: a server under sampled or unsampled load with `deno run --cpu-prof`, or
 * the proxy Worker on bare workerd profiled over its inspector, summarised by self time. Only
 * taken for targets that were missed.
 */
import { buildWorker } from "../../dev/worker_build.ts";
import { profileOverInspector } from "../lib/inspector.ts";
import type { LoadResult } from "../lib/load.ts";
import {
  bundledModules,
  type CpuProfile,
  type ProfileSummary,
  summariseProfile,
} from "../lib/profile.ts";
import { type ServerProcess, startServer } from "../lib/process.ts";
import { startSinkProcess } from "../lib/sink_process.ts";
import { format } from "../lib/stats.ts";
import { startBareWorkerd } from "../lib/workerd.ts";
import type { SectionContext } from "./context.ts";
import { PROXY_DENO_FLAGS } from "./proxy.ts";

export type Profiled = "middleware" | "proxy" | "workerd";

const LABELS: Record<Profiled, string> = {
  middleware: "tracegate middleware (hello.ts)",
  proxy: "tracegate proxy (proxy/deno.ts)",
  workerd: "tracegate proxy Worker on bare workerd (wrangler.toml, built unminified)",
};

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
  await using sink = await startSinkProcess();
  await using upstream = await startServer("bench/servers/upstream.ts");
  const load = (url: string) =>
    ctx.generator.run(`${url}/`, {
      connections: ctx.plan.connections,
      seconds,
      headers: request.headers,
    });
  const { requests, summary } = request.server === "workerd"
    ? await profileWorkerd(upstream, sink.endpoint, load)
    : await profileDeno(request.server, upstream, sink.endpoint, load);
  return { ...request, requests, summary };
}

interface Profiling {
  readonly requests: number;
  readonly summary: ProfileSummary;
}

/** `deno run --cpu-prof`: the profile of the whole run, written when the server exits. */
async function profileDeno(
  server: "middleware" | "proxy",
  upstream: ServerProcess,
  endpoint: string,
  load: (url: string) => Promise<LoadResult>,
): Promise<Profiling> {
  const dir = await Deno.makeTempDir({ prefix: "tracegate-profile-" });
  try {
    const profiling = [`--cpu-prof`, `--cpu-prof-dir=${dir}`];
    const running = server === "middleware"
      ? await startServer("bench/servers/hello.ts", ["tracegate"], {
        flags: ["--allow-all", ...profiling],
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
      })
      : await startServer("proxy/deno.ts", [], {
        flags: [...PROXY_DENO_FLAGS, ...profiling],
        env: {
          TRACEGATE_UPSTREAM: upstream.url,
          TRACEGATE_PORT: "0",
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        },
      });
    let requests: number;
    try {
      requests = (await load(running.url)).requests;
    } finally {
      await running.stop();
    }
    const file = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile written by the ${server} server`);
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)) as CpuProfile;
    return { requests, summary: summariseProfile(profile) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The proxy Worker built as `wrangler deploy` builds it but unminified (the same code, the names
 * kept), on bare workerd with its inspector on: profiled over the DevTools protocol while the
 * load runs, after a warm-up, each frame read back to the module it was bundled from.
 */
async function profileWorkerd(
  upstream: ServerProcess,
  endpoint: string,
  load: (url: string) => Promise<LoadResult>,
): Promise<Profiling> {
  const built = await buildWorker("wrangler.toml", { extraArgs: ["--minify=false"] });
  try {
    const worker = await startBareWorkerd(built, {
      TRACEGATE_UPSTREAM: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    }, { inspector: true });
    try {
      await load(worker.url);
      const { profile, result } = await profileOverInspector(
        worker.inspectorUrl!,
        () => load(worker.url),
      );
      const entry = built.scriptPath.replace(/^.*\//, "");
      const source = bundledModules(entry, await Deno.readTextFile(built.scriptPath));
      return { requests: result.requests, summary: summariseProfile(profile, 12, source) };
    } finally {
      await worker.close();
    }
  } finally {
    await Deno.remove(built.outdir, { recursive: true });
  }
}

export function renderProfile(result: ProfileResult): string {
  const percent = (share: number) => `${format(share * 100, 1)}%`;
  return [
    `**${LABELS[result.server]}, ` +
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
