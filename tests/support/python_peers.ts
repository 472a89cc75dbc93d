/**
 * The Python peers in tests/peers/python (FastAPI and the OpenTelemetry Python SDK, pinned in its
 * requirements.txt): a virtual environment made once by its venv.sh in a cache outside the clone,
 * an executor service run as a child process, and a CLI run to completion.
 */
import { scriptOutput, whenReady } from "./child_process.ts";

const PEERS = new URL("../peers/python/", import.meta.url);
const LISTENING = /executor listening on (http:\/\/\S+)/;
/** Bounds the start (a cold machine imports slowly), not a synchronisation wait. */
const START_TIMEOUT_MS = 60_000;

/** The virtual environment's python, making the environment first if the cache lacks it. */
function peersPython(): Promise<string> {
  return scriptOutput(new URL("venv.sh", PEERS), "it needs python3 with venv, and PyPI");
}

function peerEnv(env: Record<string, string>): Record<string, string> {
  // No __pycache__ written into the clone.
  return {
    PATH: Deno.env.get("PATH") ?? "",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    ...env,
  };
}

export interface Executor extends AsyncDisposable {
  readonly url: string;
  readonly stderr: string;
  /** SIGTERM: it stops serving and flushes its spans before it exits (by that signal). */
  stop(): Promise<Deno.CommandStatus>;
}

export async function startExecutor(env: Record<string, string>): Promise<Executor> {
  const child = new Deno.Command(await peersPython(), {
    args: ["service.py"],
    cwd: PEERS,
    clearEnv: true,
    env: peerEnv(env),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const ready = await whenReady(child, LISTENING, {
    name: "the executor",
    timeoutMs: START_TIMEOUT_MS,
  });
  return {
    url: ready.match[1],
    get stderr() {
      return ready.stderr;
    },
    stop: () => ready.stop(),
    [Symbol.asyncDispose]: async () => {
      await ready.stop();
    },
  };
}

export interface ClientRun {
  readonly traceId: string;
  readonly runSpanId: string;
  readonly callSpanId: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Runs the CLI against `url` to its end (its spans flushed) and returns what it printed. */
export async function runClient(url: string, env: Record<string, string>): Promise<ClientRun> {
  const output = await new Deno.Command(await peersPython(), {
    args: ["client.py", url],
    cwd: PEERS,
    clearEnv: true,
    env: peerEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(START_TIMEOUT_MS),
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`client.py failed:\n${decoder.decode(output.stderr)}`);
  }
  return JSON.parse(decoder.decode(output.stdout));
}
