/**
 * The Python peers in tests/peers/python (FastAPI and the OpenTelemetry Python SDK, pinned in its
 * requirements.txt): a virtual environment made once by its venv.sh in a cache outside the clone,
 * an executor service run as a child process, and a CLI run to completion.
 */
const PEERS = new URL("../peers/python/", import.meta.url);
const LISTENING = /executor listening on (http:\/\/\S+)/;
/** Bounds the start (a cold machine imports slowly), not a synchronisation wait. */
const START_TIMEOUT_MS = 60_000;

let python: Promise<string> | undefined;

/** The virtual environment's python, making the environment first if the cache lacks it. */
function peersPython(): Promise<string> {
  python ??= (async () => {
    const output = await new Deno.Command("bash", {
      args: [new URL("venv.sh", PEERS).pathname],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error("tests/peers/python/venv.sh failed");
    return new TextDecoder().decode(output.stdout).trim();
  })();
  return python;
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
  let stderr = "";
  const listening = Promise.withResolvers<string>();
  const drained = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      const match = LISTENING.exec(stderr);
      if (match) listening.resolve(match[1]);
    }
    listening.reject(new Error(`the executor exited before listening:\n${stderr}`));
  })();
  let exited: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    exited ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
      const status = await child.status;
      await drained;
      return status;
    })();
    return exited;
  };
  const timer = setTimeout(
    () => listening.reject(new Error(`the executor did not listen within ${START_TIMEOUT_MS} ms`)),
    START_TIMEOUT_MS,
  );
  let url: string;
  try {
    url = await listening.promise;
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    url,
    get stderr() {
      return stderr;
    },
    stop: () => stop(),
    [Symbol.asyncDispose]: async () => {
      await stop();
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
