/** SIGINT/SIGTERM handling for `deno task dev`, which must outlive Miniflare's own handling. */
import process from "node:process";

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Calls `stop` on SIGINT and SIGTERM. Registered on Node's `process` rather than with
 * `Deno.addSignalListener` so that the signal-exit listeners of npm packages see that the signal
 * is handled and do not re-raise it to end the process.
 */
export function onStopSignal(stop: () => void): void {
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
}

/**
 * Runs `start`, then removes the SIGINT/SIGTERM listeners it added. Miniflare adds listeners that
 * kill workerd and exit the process at once, which would cut an orderly shutdown short (the last
 * spans, the build directory); the caller stops workerd itself through `mf.dispose()`.
 */
export async function withoutSignalExits<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(STOP_SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  try {
    return await start();
  } finally {
    for (const signal of STOP_SIGNALS) {
      const kept = before.get(signal) ?? [];
      for (const listener of process.listeners(signal)) {
        if (!kept.includes(listener)) process.removeListener(signal, listener);
      }
    }
  }
}
