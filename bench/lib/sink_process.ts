/** The OTLP sink (bench/servers/sink.ts) in its own process, so its decoding is not charged to a target. */
import { type ServerProcess, startServer } from "./process.ts";
import { type SinkCounts, STATS_PATH } from "./sink.ts";

export interface SinkProcess extends AsyncDisposable {
  readonly process: ServerProcess;
  /** The value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  counts(): Promise<SinkCounts>;
}

/** `port` 0 picks a free one; a restarted collector passes the port it had. */
export async function startSinkProcess(port = 0): Promise<SinkProcess> {
  const process = await startServer("bench/servers/sink.ts", [String(port)]);
  return {
    process,
    endpoint: process.url,
    counts: async () => (await fetch(`${process.url}${STATS_PATH}`)).json(),
    [Symbol.asyncDispose]: () => process.stop(),
  };
}
