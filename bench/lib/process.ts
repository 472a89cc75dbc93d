/**
 * Bench servers as subprocesses: started with `deno run`, ready when they print their
 * `listening <url>` line, measured through /proc (CPU time and RSS of the process and everything
 * it started, such as workerd under Miniflare), and stopped with SIGTERM.
 */
import { TextLineStream } from "./lines.ts";

/** The configuration `deno task bench` runs with: deno.json's imports plus the bench-only ones. */
export const BENCH_CONFIG = "deno.test.jsonc";

export interface ServerProcess extends AsyncDisposable {
  readonly pid: number;
  readonly url: string;
  /** `name=url` fields of the listening line (e.g. `control`). */
  readonly extra: Readonly<Record<string, string>>;
  /** Every line printed on stdout or stderr so far. */
  readonly output: readonly string[];
  /** CPU seconds (user + system) used so far by the process and its descendants. */
  cpuSeconds(): Promise<number>;
  /** Resident set size of the process and its descendants, in KiB. */
  rssKiB(): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; descendants left behind are killed too. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  /** `deno run` flags before the script (default `--allow-all`). */
  readonly flags?: readonly string[];
  readonly timeoutMs?: number;
}

const LISTENING = /listening (?:on )?(http:\/\/\S+)((?: \w+=\S+)*)/;
const CLOCK_TICKS_PER_SECOND = 100;

/** Runs `deno run --config BENCH_CONFIG <flags> <script> <args>` from the repository root. */
export async function startServer(
  script: string,
  args: readonly string[] = [],
  options: StartOptions = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", BENCH_CONFIG, ...(options.flags ?? ["--allow-all"]), script, ...args],
    cwd: new URL("../../", import.meta.url),
    env: { NO_COLOR: "1", WRANGLER_SEND_METRICS: "false", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const { promise: listening, resolve, reject } = Promise.withResolvers<RegExpExecArray>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (
      const line of stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    ) {
      output.push(line);
      const match = LISTENING.exec(line);
      if (match) resolve(match);
    }
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);
  child.status.then((status) => reject(new Error(`${script} exited (${status.code}) first`)));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(
    () => reject(new Error(`${script}: not listening after ${timeoutMs} ms`)),
    timeoutMs,
  );
  let match: RegExpExecArray;
  try {
    match = await listening;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await drained;
    throw new Error(`${(error as Error).message}\n${output.slice(-20).join("\n")}`);
  } finally {
    clearTimeout(timer);
  }
  const extra = Object.fromEntries(
    match[2].trim().split(" ").filter(Boolean).map((field) => field.split("=", 2)),
  );

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 15_000) =>
    stopped ??= (async () => {
      const tree = await processTree(child.pid);
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => kill(tree, "SIGKILL"), graceMs);
      await child.status;
      clearTimeout(timer);
      kill(tree.filter((pid) => pid !== child.pid), "SIGKILL");
      await drained;
    })();
  return {
    pid: child.pid,
    url: match[1],
    extra,
    output,
    cpuSeconds: async () => {
      let ticks = 0;
      for (const pid of await processTree(child.pid)) ticks += (await procStat(pid))?.cpuTicks ?? 0;
      return ticks / CLOCK_TICKS_PER_SECOND;
    },
    rssKiB: async () => {
      let total = 0;
      for (const pid of await processTree(child.pid)) total += await rssOf(pid);
      return total;
    },
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}

function kill(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch { /* already gone */ }
  }
}

interface ProcStat {
  readonly ppid: number;
  readonly cpuTicks: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // Fields after "(comm)": state ppid ... utime(12th) stime(13th).
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

async function rssOf(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** `root` and every process descended from it. */
async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const stat = await procStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** Starts servers in parallel; if one fails, stops the others and throws its error. */
export async function startAll(
  starts: readonly Promise<ServerProcess>[],
): Promise<ServerProcess[] & AsyncDisposable> {
  const settled = await Promise.allSettled(starts);
  const started = settled.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failed = settled.find((result) => result.status === "rejected");
  if (failed) {
    await Promise.all(started.map((server) => server.stop()));
    throw failed.reason;
  }
  return Object.assign(started, {
    [Symbol.asyncDispose]: async () => {
      await Promise.all(started.map((server) => server.stop()));
    },
  });
}
