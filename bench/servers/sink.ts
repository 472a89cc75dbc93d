/** The OTLP sink in its own process: `deno run -A bench/servers/sink.ts [port]`. */
import { startSink } from "../lib/sink.ts";
import { announce, exitOnSignal } from "./announce.ts";

const sink = startSink({ port: Number(Deno.args[0] ?? 0) });
exitOnSignal(() => sink.close());
announce(sink.endpoint);
