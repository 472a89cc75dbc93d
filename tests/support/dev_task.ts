/**
 * `deno task dev` run as a user runs it, for tests: the task in a subprocess, its output as it
 * arrives, the URLs its banner prints, and the traces the viewer holds.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
export const READY = "tracegate dev is ready";
export const START_TIMEOUT_MS = 120_000;
export const TRACE_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 30_000;

export interface DevUrls {
  readonly viewer: string;
  readonly proxy: string;
  readonly demo: string;
}

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

/** The running task, its output as it arrives, and the URLs its banner printed. */
export class DevTask implements AsyncDisposable {
  stdout = "";
  stderr = "";
  urls: DevUrls | undefined;
  readonly #child: Deno.ChildProcess;
  readonly #waiters = new Set<Waiter>();
  readonly #reading: Promise<void>;
  #ended = false;

  constructor(env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["task", "dev"],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = Promise.all([
      this.#read(this.#child.stdout, (text) => (this.stdout += text)),
      this.#read(this.#child.stderr, (text) => (this.stderr += text)),
    ]).then(() => {
      this.#ended = true;
      for (const waiter of this.#waiters) waiter.check();
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #read(stream: ReadableStream<Uint8Array>, append: (text: string) => void) {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
      for (const waiter of this.#waiters) waiter.check();
    }
  }

  /** Resolves with `find(stdout)` once it is defined; bounded, and failing if the task ends. */
  waitForOutput<T>(find: (stdout: string) => T | undefined, what: string, timeoutMs: number) {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          const found = find(this.stdout);
          if (found !== undefined) done(() => resolve(found));
          else if (this.#ended) waiter.fail(new Error(`the task ended before ${what}`));
        },
        fail: (error) => done(() => reject(new Error(`${error.message}\n${this.transcript()}`))),
      };
      const timer = setTimeout(
        () => waiter.fail(new Error(`no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        settle();
      };
      this.#waiters.add(waiter);
      waiter.check();
    });
  }

  /** Like waitForOutput, over stdout and stderr both (the demo logs to stderr, the proxy to stdout). */
  waitForAnyOutput<T>(find: (output: string) => T | undefined, what: string, timeoutMs: number) {
    return this.waitForOutput(() => find(`${this.stdout}\n${this.stderr}`), what, timeoutMs);
  }

  transcript(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /** Waits for the task to exit by itself and its output to end. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }

  /** Sends `signal` and waits for the task to exit and its output to end. */
  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    this.#child.kill(signal);
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }

  async [Symbol.asyncDispose]() {
    if (this.#ended) return;
    this.#child.kill("SIGINT");
    const killer = setTimeout(() => this.#child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.#child.status;
    clearTimeout(killer);
    await this.#reading;
  }
}

/** Free ports on 127.0.0.1, distinct: all held at once, then released. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}

/** The environment minus any tracing settings of the machine running the tests. */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !/^(OTEL|TRACEGATE)_/.test(name)),
  );
}

/** The URLs of the banner, once the ready line is printed. */
export function bannerUrls(stdout: string): DevUrls | undefined {
  if (!stdout.includes(READY)) return undefined;
  const url = (name: string) => new RegExp(`^\\s+${name}\\s+(http://\\S+)`, "m").exec(stdout)?.[1];
  const [viewer, proxy, demo] = [url("viewer"), url("proxy"), url("demo")];
  assert.ok(viewer && proxy && demo, `the banner names the three URLs:\n${stdout}`);
  return { viewer, proxy, demo };
}

/**
 * The span lines of the last tree printed for `traceId` (its header line names the trace; the
 * span lines follow until a blank line), once that tree has `spans` lines.
 */
export function printedTree(traceId: string, spans: number) {
  return (stdout: string): string[] | undefined => {
    const lines = stdout.split("\n");
    const header = lines.findLastIndex((line) => line.includes(`trace ${traceId}`));
    if (header < 0) return undefined;
    const end = lines.indexOf("", header + 1);
    if (end < 0) return undefined;
    const tree = lines.slice(header + 1, end);
    return tree.length === spans ? tree : undefined;
  };
}

/** The header line the terminal printed for a trace. */
export function printedHeader(stdout: string, traceId: string): string {
  return stdout.split("\n").findLast((line) => line.includes(`trace ${traceId}`)) ?? "";
}

export interface ApiSpan {
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: string;
  service: string;
  depth: number;
  attributes: Record<string, unknown>;
  status: { code: string; message: string };
  events: { name: string; attributes: Record<string, unknown> }[];
}

export async function viewerTrace(viewer: string, traceId: string): Promise<ApiSpan[]> {
  const response = await fetch(`${viewer}/api/traces/${traceId}`);
  assert.equal(response.status, 200, `the viewer holds trace ${traceId}`);
  const { spans } = await response.json() as { spans: ApiSpan[] };
  return spans;
}

export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

export interface DevPorts {
  readonly viewer: number;
  readonly proxy: number;
  readonly demo: number;
}

/**
 * `deno task dev` on three free ports, without colour and without the machine's own tracing
 * settings; `env` is added on top.
 */
export function startDevTask(env: Record<string, string> = {}): DevTask & { ports: DevPorts } {
  const [viewer, proxy, demo] = freePorts(3);
  const dev = new DevTask({
    ...cleanEnv(),
    NO_COLOR: "1",
    TRACEGATE_DEV_VIEWER_PORT: String(viewer),
    TRACEGATE_DEV_PROXY_PORT: String(proxy),
    TRACEGATE_DEV_DEMO_PORT: String(demo),
    ...env,
  });
  return Object.assign(dev, { ports: { viewer, proxy, demo } });
}
