/**
 * Builds the proxy Worker exactly as `wrangler deploy` does (`--dry-run --outdir`) and runs the
 * output in the real workerd runtime through Miniflare. Shared by `deno task dev` and the tests.
 */
import { Miniflare, type WorkerdStructuredLog } from "miniflare";
import { parse } from "smol-toml";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface BuiltWorker {
  /** The temporary directory holding the bundle; the caller removes it when done. */
  readonly outdir: string;
  readonly scriptPath: string;
  readonly compatibilityDate: string;
  readonly compatibilityFlags: string[];
  /** The `[vars]` of the wrangler config, as `wrangler dev` would bind them. */
  readonly vars: Record<string, string>;
}

type WranglerConfig = {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, string>;
};

/**
 * Runs `wrangler deploy --dry-run --outdir` (plus `extraArgs`) for a wrangler config, as
 * `wrangler deploy` would build it, and returns what wrangler printed; throws with it on failure.
 */
export async function wranglerDryRun(
  configPath: string,
  outdir: string,
  options: { extraArgs?: readonly string[]; signal?: AbortSignal } = {},
): Promise<string> {
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
      ...(options.extraArgs ?? []),
    ],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  });
  const { success, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  const printed = `${decoder.decode(stdout)}\n${decoder.decode(stderr)}`;
  if (!success) throw new Error(`wrangler build of ${configPath} failed:\n${printed}`);
  return printed;
}

/**
 * Runs `wrangler deploy --dry-run`; `config` is relative to the repository root. `extraArgs` go
 * to wrangler (the bench's profile builds with `--minify=false`, to read function names).
 */
export async function buildWorker(
  config = "wrangler.toml",
  options: { signal?: AbortSignal; extraArgs?: readonly string[] } = {},
): Promise<BuiltWorker> {
  const configPath = join(ROOT, config);
  const outdir = await Deno.makeTempDir({ prefix: "tracegate-worker-" });
  try {
    await wranglerDryRun(configPath, outdir, options);
  } catch (error) {
    await Deno.remove(outdir, { recursive: true });
    throw error;
  }
  const toml = parse(await Deno.readTextFile(configPath)) as WranglerConfig;
  const entry = toml.main.replace(/^.*\//, "").replace(/\.ts$/, ".js");
  return {
    outdir,
    scriptPath: join(outdir, entry),
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    vars: toml.vars ?? {},
  };
}

export interface WorkerRunOptions {
  /** Vars and secrets. */
  readonly bindings: Record<string, string>;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Receives the Worker's console output (workerd's stdout and stderr) as it arrives. */
  readonly onOutput?: (text: string) => void;
}

export interface RunningWorker extends AsyncDisposable {
  readonly url: URL;
  /** Stops workerd (a child process of Miniflare). */
  close(): Promise<void>;
}

/** Starts the built Worker in workerd on 127.0.0.1. */
export async function runWorker(
  built: BuiltWorker,
  options: WorkerRunOptions,
): Promise<RunningWorker> {
  const mainModule = basename(built.scriptPath);
  const env = Object.fromEntries(
    Object.entries(options.bindings).map(([name, value]) => [name, { type: "text", value }]),
  );
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: options.port ?? 0,
    // No other local Worker binds to this one: nothing to register in the shared dev registry.
    enableDevRegistry: false,
    handleStructuredLogs({ message }: WorkerdStructuredLog) {
      options.onOutput?.(`${message}\n`);
    },
    workers: [{
      config: {
        name: "tracegate-proxy",
        compatibilityDate: built.compatibilityDate,
        compatibilityFlags: built.compatibilityFlags,
        manifest: {
          mainModule,
          modulesRoot: built.outdir,
          modules: {
            [mainModule]: { type: "esm", contents: await Deno.readTextFile(built.scriptPath) },
          },
        },
        env,
      },
    }],
  });
  const url = await mf.ready;
  const close = () => mf.dispose();
  return { url, close, [Symbol.asyncDispose]: close };
}
