/**
 * The HTTP load generator: `wrk` from Debian (installed with apt-get when missing), or `autocannon`
 * from npm when apt is not available. Every run is bounded by its duration.
 */

export interface LoadOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  /** Responses completed within the run. */
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors plus non-2xx/3xx responses. */
  readonly errors: number;
}

export interface LoadGenerator {
  /** e.g. "wrk 4.1.0" */
  readonly name: string;
  run(url: string, options: LoadOptions): Promise<LoadResult>;
}

export async function loadGenerator(log: (line: string) => void): Promise<LoadGenerator> {
  if (await succeeds("wrk", ["-v"], true) || await installWrk(log)) return wrk(await wrkVersion());
  log("wrk could not be installed: falling back to autocannon from npm");
  return autocannon;
}

async function installWrk(log: (line: string) => void): Promise<boolean> {
  log("wrk is missing: apt-get update && apt-get install -y wrk");
  return await succeeds("apt-get", ["update"]) &&
    await succeeds("apt-get", ["install", "-y", "wrk"]) &&
    await succeeds("wrk", ["-v"], true);
}

/** `wrk -v` prints its version and exits 1; `anyExit` counts a started process as success. */
async function succeeds(command: string, args: string[], anyExit = false): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return success || anyExit;
  } catch {
    return false;
  }
}

async function wrkVersion(): Promise<string> {
  const { stdout } = await new Deno.Command("wrk", { args: ["-v"], stderr: "null" }).output();
  return /wrk (\S+)/.exec(new TextDecoder().decode(stdout))?.[0] ?? "wrk";
}

function wrk(name: string): LoadGenerator {
  return {
    name,
    async run(url, { connections, seconds, headers = {} }) {
      const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "10s"];
      for (const [key, value] of Object.entries(headers)) args.push("-H", `${key}: ${value}`);
      const { stdout, stderr, success } = await new Deno.Command("wrk", {
        args: [...args, url],
      }).output();
      const text = new TextDecoder().decode(stdout);
      if (!success) throw new Error(`wrk failed: ${new TextDecoder().decode(stderr)}\n${text}`);
      return parseWrk(text);
    },
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

export function parseWrk(text: string): LoadResult {
  const latency = (percentile: string) => {
    const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    if (!match) throw new Error(`wrk output without the ${percentile}% latency:\n${text}`);
    return Number(match[1]) * UNIT_MS[match[2]];
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(text);
  if (!total) throw new Error(`wrk output without a request count:\n${text}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const seconds = Number(total[2]) * UNIT_MS[total[3]] / 1000;
  const requests = Number(total[1]);
  return {
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    p50Ms: latency("50"),
    p99Ms: latency("99"),
    errors: (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
      Number(non2xx?.[1] ?? 0),
  };
}

const autocannon: LoadGenerator = {
  name: "autocannon 9.0.0 (npm)",
  async run(url, { connections, seconds, headers = {} }) {
    const args = ["run", "-A", "--no-lock", "npm:autocannon@9.0.0", "--json", "--latency"];
    args.push("-c", String(connections), "-d", String(seconds));
    for (const [key, value] of Object.entries(headers)) args.push("-H", `${key}=${value}`);
    const { stdout, success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [...args, url],
    }).output();
    if (!success) throw new Error(`autocannon failed: ${new TextDecoder().decode(stderr)}`);
    const report = JSON.parse(new TextDecoder().decode(stdout));
    const requests = report.requests.total as number;
    const elapsed = report.duration as number;
    return {
      requests,
      seconds: elapsed,
      requestsPerSecond: requests / elapsed,
      p50Ms: report.latency.p50,
      p99Ms: report.latency.p99,
      errors: report.errors + report.non2xx,
    };
  },
};
