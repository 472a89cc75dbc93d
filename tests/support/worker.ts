/**
 * Builds a Worker exactly as `wrangler deploy` does (`--dry-run --outdir`) and runs the output in
 * the real workerd runtime through Miniflare, on 127.0.0.1.
 */
import { Miniflare } from "miniflare";
import { parse } from "smol-toml";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const builds = new Map<string, Promise<BuiltWorker>>();

export interface BuiltWorker {
  readonly scriptPath: string;
  readonly compatibilityDate: string;
  readonly compatibilityFlags: string[];
}

/** Builds once per config per test process. `config` is relative to the repository root. */
export function buildWorker(config = "wrangler.toml"): Promise<BuiltWorker> {
  let build = builds.get(config);
  if (!build) {
    build = runBuild(config);
    builds.set(config, build);
  }
  return build;
}

async function runBuild(config: string): Promise<BuiltWorker> {
  const configPath = join(ROOT, config);
  const outdir = await Deno.makeTempDir({ prefix: "tracegate-worker-" });
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "npm:wrangler",
      "deploy",
      "--dry-run",
      "--outdir",
      outdir,
      "--config",
      configPath,
    ],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { success, stdout, stderr } = await command.output();
  if (!success) {
    const decoder = new TextDecoder();
    throw new Error(
      `wrangler build of ${config} failed:\n${decoder.decode(stdout)}\n${decoder.decode(stderr)}`,
    );
  }
  const toml = parse(await Deno.readTextFile(configPath)) as {
    main: string;
    compatibility_date: string;
    compatibility_flags?: string[];
  };
  const entry = toml.main.replace(/^.*\//, "").replace(/\.ts$/, ".js");
  return {
    scriptPath: join(outdir, entry),
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
  };
}

export interface RunningWorker extends AsyncDisposable {
  readonly url: URL;
  readonly logs: string[];
  close(): Promise<void>;
}

/** Starts the built Worker in workerd on 127.0.0.1 with the given vars and secrets. */
export async function startWorker(
  built: BuiltWorker,
  bindings: Record<string, string>,
): Promise<RunningWorker> {
  const logs: string[] = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath: built.scriptPath,
    modulesRoot: dirname(built.scriptPath),
    compatibilityDate: built.compatibilityDate,
    compatibilityFlags: built.compatibilityFlags,
    bindings,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      const decoder = new TextDecoder();
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk: Uint8Array) => logs.push(decoder.decode(chunk)));
      }
    },
  });
  const url = await mf.ready;
  const close = () => mf.dispose();
  return { url, logs, close, [Symbol.asyncDispose]: close };
}
