/**
 * Child processes for tests: a setup script whose output is a path (run once per test module), and
 * a server that is ready once a line on its stderr matches, drained to the end (so it never blocks
 * on a full pipe), stopped by a signal.
 */

const scripts = new Map<string, Promise<string>>();

/**
 * Runs the bash script at `script` once per test module and resolves with what it printed, trimmed
 * (its progress goes to this process's stderr). `hint` says what it needs, for the error.
 */
export function scriptOutput(script: URL, hint: string): Promise<string> {
  let output = scripts.get(script.href);
  if (!output) {
    output = (async () => {
      const run = await new Deno.Command("bash", {
        args: [script.pathname],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!run.success) throw new Error(`${script.pathname} failed (${hint})`);
      return new TextDecoder().decode(run.stdout).trim();
    })();
    scripts.set(script.href, output);
  }
  return output;
}

export interface ReadyChild extends AsyncDisposable {
  /** The match of `ready` in the child's stderr. */
  readonly match: RegExpExecArray;
  /** The child's process id (for its resident memory in /proc). */
  readonly pid: number;
  /** Everything the child has written to stderr so far. */
  readonly stderr: string;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit status once it has exited. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Waits until `child` (spawned with `stderr: "piped"`) writes something matching `ready`; kills it
 * and rejects if it exits first or takes longer than `timeoutMs` (a bound on a slow start, not a
 * synchronisation wait). `name` is for the error messages.
 */
export async function whenReady(
  child: Deno.ChildProcess,
  ready: RegExp,
  { name, timeoutMs }: { name: string; timeoutMs: number },
): Promise<ReadyChild> {
  let stderr = "";
  const matched = Promise.withResolvers<RegExpExecArray>();
  const drained = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      const match = ready.exec(stderr);
      if (match) matched.resolve(match);
    }
    matched.reject(new Error(`${name} exited before it was ready:\n${stderr}`));
  })();

  let exited: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    exited ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already: its status says how.
      }
      const status = await child.status;
      await drained;
      return status;
    })();
    return exited;
  };

  const timer = setTimeout(
    () => matched.reject(new Error(`${name} was not ready within ${timeoutMs} ms:\n${stderr}`)),
    timeoutMs,
  );
  let match: RegExpExecArray;
  try {
    match = await matched.promise;
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    match,
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}
