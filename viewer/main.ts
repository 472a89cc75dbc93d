/**
 * `deno task viewer`: the local trace viewer. Receives OTLP/HTTP on 127.0.0.1:4318 (set
 * TRACEGATE_VIEWER_HOSTNAME / TRACEGATE_VIEWER_PORT to change it), serves the web UI on the same
 * port and prints each finished trace as a tree. Ctrl-C stops it.
 */
import { EnvReader } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import { DEFAULT_PORT, startViewer, type Viewer } from "./server.ts";
import { renderTrace } from "./terminal.ts";

const env = new EnvReader(Deno.env.toObject());
const hostname = env.string("TRACEGATE_VIEWER_HOSTNAME") ?? "127.0.0.1";
const port = env.integer("TRACEGATE_VIEWER_PORT", DEFAULT_PORT, { min: 0, max: 65535 });
logConfigErrors(env.errors, console.error);

const color = Deno.stdout.isTerminal() && Deno.env.get("NO_COLOR") === undefined;
/** Baggage keys recorded as span attributes are shown in the printed trees too. */
const alsoShow = env.list("TRACEGATE_BAGGAGE_ATTRIBUTES");

async function listen(): Promise<Viewer> {
  try {
    return await startViewer({
      hostname,
      port,
      log: console.error,
      onTraceSettled: (trace) =>
        console.log(renderTrace(trace, { color, update: trace.update, alsoShow })),
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(
      `viewer: ${hostname}:${port} is in use (another collector?); ` +
        `set TRACEGATE_VIEWER_PORT to use another port`,
    );
    Deno.exit(1);
  }
}

const viewer = await listen();
console.log(`tracegate viewer: ${viewer.url}`);
console.log(`  send OTLP/HTTP traces to: OTEL_EXPORTER_OTLP_ENDPOINT=${viewer.url}`);

const stop = async () => {
  await viewer.close();
  Deno.exit(0);
};
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
