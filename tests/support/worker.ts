/**
 * Builds a Worker exactly as `wrangler deploy` does (`--dry-run --outdir`) and runs the output in
 * the real workerd runtime through Miniflare, on 127.0.0.1 (see dev/worker_build.ts): one build per
 * config per test module, removed after its tests; the Worker's console output collected.
 */
import { buildWorker as runBuild, type BuiltWorker, runWorker } from "../../dev/worker_build.ts";

export type { BuiltWorker } from "../../dev/worker_build.ts";

const builds = new Map<string, Promise<BuiltWorker>>();
/** The builds' directories: every test of the module may start a Worker from them. */
const outdirs = new Set<string>();

// Deno runs each test module in its own isolate and dispatches "unload" once its tests are done,
// passed or failed: the builds are no longer needed then.
globalThis.addEventListener("unload", () => {
  for (const outdir of outdirs) {
    try {
      Deno.removeSync(outdir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
});

/**
 * Builds once per config per test module; the build is removed when the module unloads.
 * `config` is relative to the repository root.
 */
export function buildWorker(config = "wrangler.toml"): Promise<BuiltWorker> {
  let build = builds.get(config);
  if (!build) {
    build = runBuild(config).then((built) => {
      outdirs.add(built.outdir);
      return built;
    });
    builds.set(config, build);
  }
  return build;
}

export interface RunningWorker extends AsyncDisposable {
  readonly url: URL;
  readonly logs: string[];
  /**
   * Resolves with the output so far once it matches `pattern` (checked now and as output
   * arrives, since it may lag behind the response that caused it); rejects after `timeoutMs`
   * (default 5000) with the output.
   */
  waitForLog(pattern: RegExp, options?: { timeoutMs?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Starts the built Worker in workerd on 127.0.0.1 with the given vars and secrets. */
export async function startWorker(
  built: BuiltWorker,
  bindings: Record<string, string>,
): Promise<RunningWorker> {
  const logs: string[] = [];
  const waiters = new Set<() => void>();
  const onOutput = (text: string) => {
    logs.push(text);
    for (const check of [...waiters]) check();
  };
  const waitForLog = (pattern: RegExp, { timeoutMs = 5_000 } = {}) =>
    new Promise<string>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = () => {
        const output = logs.join("");
        if (!pattern.test(output)) return;
        finish();
        resolve(output);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `no ${pattern} in the Worker's output after ${timeoutMs} ms:\n${logs.join("")}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const worker = await runWorker(built, { bindings, onOutput });
  return {
    url: worker.url,
    logs,
    waitForLog,
    close: worker.close,
    [Symbol.asyncDispose]: worker.close,
  };
}
