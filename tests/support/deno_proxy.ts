/**
 * The proxy's Deno entry as a real child process, run as `deno task proxy:deno` runs it (with the
 * task's permission flags, read from deno.json) on a port the OS picks; its address is parsed from
 * the line the entry prints once it listens.
 */
import meta from "../../deno.json" with { type: "json" };
import { whenReady } from "./child_process.ts";

const ROOT = new URL("../../", import.meta.url);
const LISTENING = /tracegate proxy listening on (http:\/\/\S+)/;
/** Bounds the start of the child (a cold npm cache makes it slow), not a synchronisation wait. */
const START_TIMEOUT_MS = 30_000;
/** What the child needs from this environment to find deno's cache; nothing else leaks in. */
const INHERITED = ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME"];

export interface DenoProxy extends AsyncDisposable {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  readonly port: number;
  /** The child's process id (for its resident memory in /proc). */
  readonly pid: number;
  /** Everything the child has written to stderr so far. */
  readonly stderr: string;
  /** Sends `signal` and resolves with the exit status once the child has exited. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** The entry as `deno task proxy:deno` runs it, with exactly `env` (plus what deno needs). */
function spawnDenoProxy(env: Record<string, string>): Deno.ChildProcess {
  const [program, ...args] = meta.tasks["proxy:deno"].split(/\s+/);
  if (program !== "deno") throw new Error(`proxy:deno does not run deno: ${program}`);
  const inherited = Object.fromEntries(
    INHERITED.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", TRACEGATE_PORT: "0", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

export interface EntryStart {
  /** Whether the entry got as far as listening (it is then stopped). */
  readonly listened: boolean;
  readonly status: Deno.CommandStatus;
  readonly stderr: string;
}

/**
 * Starts the entry and waits until it either exits by itself or listens (then stops it): for
 * configurations that must stop the entry at start.
 */
export async function startDenoProxyUntilExitOrListen(
  env: Record<string, string>,
): Promise<EntryStart> {
  const child = spawnDenoProxy(env);
  let stderr = "";
  let listened = false;
  for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += text;
    if (!listened && LISTENING.test(stderr)) {
      listened = true;
      child.kill("SIGKILL");
    }
  }
  return { listened, status: await child.status, stderr };
}

/** Starts the entry with exactly `env` (plus what deno itself needs) and waits until it listens. */
export async function startDenoProxy(env: Record<string, string>): Promise<DenoProxy> {
  const child = await whenReady(spawnDenoProxy(env), LISTENING, {
    name: "the proxy",
    timeoutMs: START_TIMEOUT_MS,
  });
  const url = child.match[1];
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid,
    get stderr() {
      return child.stderr;
    },
    stop: child.stop,
    [Symbol.asyncDispose]: async () => {
      await child.stop();
    },
  };
}
