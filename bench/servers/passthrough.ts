/**
 * The bare pass-through proxy on Deno the tracegate proxy is compared with: every request is
 * sent to BENCH_UPSTREAM with `fetch`, path and query kept, and the response passed back.
 */
import { announce, exitOnSignal } from "./announce.ts";

const upstream = new URL(Deno.env.get("BENCH_UPSTREAM") ?? "");
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const url = new URL(request.url);
  return await fetch(new Request(new URL(url.pathname + url.search, upstream), request));
});
exitOnSignal(() => server.shutdown());
announce(`http://127.0.0.1:${server.addr.port}`);
