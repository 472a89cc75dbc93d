/**
 * The Deno entry: `deno task proxy:deno`. Configuration comes from the environment; a fatal error
 * in it stops the process at start (exit 1, the reason on stderr). It listens on
 * `TRACEGATE_HOSTNAME` (default 127.0.0.1) and `TRACEGATE_PORT` (default 8787; 0 picks a free
 * port, printed on the listening line), and exports the spans still queued on SIGINT/SIGTERM
 * before it exits. Upstream bodies Deno's fetch has decoded go out with matching headers, and
 * WebSocket upgrades are bridged (Deno's fetch can do neither by itself).
 */
import { EnvReader } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import { smallBodiesThrough } from "../src/http/body_end.ts";
import { denoBodyEnd } from "../middleware/runtime/deno.ts";
import { createProxyFrom } from "./app.ts";
import { readProxyConfig } from "./config.ts";
import { fetchDecoded } from "./deno_fetch.ts";
import { webSocketBridge } from "./deno_websocket.ts";
import { isWebSocketUpgrade } from "./forward.ts";

const env = Deno.env.toObject();
const listen = new EnvReader(env);
const hostname = listen.string("TRACEGATE_HOSTNAME") ?? "127.0.0.1";
const port = listen.integer("TRACEGATE_PORT", 8787, { min: 0, max: 65535 });
logConfigErrors(listen.errors, console.error);

const config = readProxyConfig(env);
logConfigErrors(config.warnings, console.error);
if (config.proxy === undefined) {
  // Nothing could be forwarded: stop now, with the reason, rather than answer 500 forever.
  logConfigErrors(config.fatal, console.error, "the proxy cannot start");
  Deno.exit(1);
}
const proxy = createProxyFrom(config, { fetch: fetchDecoded });
// The proxy answers every path the same way: no router in front of it.
const server = Deno.serve({
  hostname,
  port,
  onListen: ({ hostname, port }) =>
    console.error(`tracegate proxy listening on http://${hostname}:${port}`),
}, (request, info) =>
  proxy.handle(request, {
    clientAddress: info.remoteAddr.hostname,
    bodyEnd: smallBodiesThrough(denoBodyEnd(info)),
    fetch: isWebSocketUpgrade(request.headers) ? webSocketBridge(request) : undefined,
  }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.shutdown();
  await proxy.shutdown();
  Deno.exit(0);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
