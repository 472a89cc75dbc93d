/**
 * Load runs side by side: every target is loaded in turn within a round, the order rotating from
 * round to round (A B C, B C A, …), so that each ratio compares figures taken moments apart.
 * Each run counts the requests the server really served, the CPU its process tree used, and what
 * reached the OTLP sink once the export has drained.
 */
import type { LoadGenerator, LoadResult } from "./load.ts";
import type { ServerProcess } from "./process.ts";
import type { SinkCounts } from "./sink.ts";

export interface Target {
  /** Short id used in ratios ("a", "b", …). */
  readonly id: string;
  readonly label: string;
  /** Where the load goes. */
  readonly url: string;
  /** Whose CPU is charged to this target. */
  readonly server: ServerProcess;
  readonly headers: Readonly<Record<string, string>>;
  /** Spans each served request should deliver to the sink (0 when not traced). */
  readonly spansPerRequest: number;
  /** Requests served so far, counted where the request ends (handler or upstream). */
  served(): Promise<number>;
}

export interface Run {
  readonly load: LoadResult;
  /** Requests the server served during the run (including those in flight when wrk stopped). */
  readonly served: number;
  /** CPU seconds of the server's process tree, from the start of the run to the end of export. */
  readonly cpuSeconds: number;
  readonly sink: SinkCounts;
}

export interface Plan {
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  /** Longest wait for the spans of a run to reach the sink. */
  readonly drainMs: number;
}

export class Harness {
  constructor(
    private readonly generator: LoadGenerator,
    private readonly sinkCounts: () => Promise<SinkCounts>,
    private readonly plan: Plan,
    private readonly log: (line: string) => void,
  ) {}

  /** Warms every target up, then runs the rounds; the runs of each target by id. */
  async compare(targets: readonly Target[]): Promise<Map<string, Run[]>> {
    for (const target of targets) await this.run(target, this.plan.warmupSeconds);
    const runs = new Map<string, Run[]>(targets.map((target) => [target.id, []]));
    for (let round = 0; round < this.plan.rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const target of order) {
        const run = await this.run(target, this.plan.seconds);
        runs.get(target.id)!.push(run);
        this.log(
          `  round ${round + 1} ${target.id} ${target.label}: ` +
            `${Math.round(run.load.requestsPerSecond)} req/s, ${run.sink.spans} spans`,
        );
      }
    }
    return runs;
  }

  async run(target: Target, seconds: number): Promise<Run> {
    const served0 = await target.served();
    const sink0 = await this.sinkCounts();
    const cpu0 = await target.server.cpuSeconds();
    const load = await this.generator.run(`${target.url}/`, {
      connections: this.plan.connections,
      seconds,
      headers: target.headers,
    });
    const served = await settled(() => target.served()) - served0;
    const sink1 = await this.drained(sink0.spans + served * target.spansPerRequest);
    const cpuSeconds = await target.server.cpuSeconds() - cpu0;
    return {
      load,
      served,
      cpuSeconds,
      sink: {
        requests: sink1.requests - sink0.requests,
        spans: sink1.spans - sink0.spans,
        bytes: sink1.bytes - sink0.bytes,
        rejected: sink1.rejected - sink0.rejected,
      },
    };
  }

  /**
   * The sink's counts once `goal` spans have arrived, or once nothing has arrived for a while:
   * 500 ms when no span is expected, 6 s when some are missing (longer than the SDK
   * BatchSpanProcessor's 5 s schedule delay).
   */
  async drained(goal: number): Promise<SinkCounts> {
    const deadline = Date.now() + this.plan.drainMs;
    const quietMs = goal > 0 ? 6_000 : 500;
    let counts = await this.sinkCounts();
    let changedAt = Date.now();
    while (Date.now() < deadline) {
      if (goal > 0 && counts.spans >= goal) break;
      if (Date.now() - changedAt >= quietMs) break;
      await pause(100);
      const next = await this.sinkCounts();
      if (next.spans !== counts.spans || next.requests !== counts.requests) changedAt = Date.now();
      counts = next;
    }
    return counts;
  }
}

/** A counter's value once two reads 50 ms apart agree (requests in flight have finished). */
async function settled(read: () => Promise<number>): Promise<number> {
  let last = await read();
  for (let i = 0; i < 40; i++) {
    await pause(50);
    const next = await read();
    if (next === last) return next;
    last = next;
  }
  return last;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GETs a JSON counter, e.g. a hello server's control port or the upstream's count. */
export function jsonCounter(url: string, field: string): () => Promise<number> {
  return async () => {
    const response = await fetch(url);
    return (await response.json())[field] as number;
  };
}
