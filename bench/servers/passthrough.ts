/**
 * The bare pass-through proxy on Deno the tracegate proxy is compared with: every request is
 * sent to BENCH_UPSTREAM with `fetch`, path and query kept, and the response passed back. With
 * BENCH_BODY_END=1 the response body is wrapped by tracegate's `onBodyEnd` (nothing else), to
 * show what that part of the proxy costs.
 */
import { onBodyEnd } from "../../src/http/body_end.ts";
import { announce, exitOnSignal } from "./announce.ts";

const upstream = new URL(Deno.env.get("BENCH_UPSTREAM") ?? "");
const wrapBody = Deno.env.get("BENCH_BODY_END") === "1";
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const url = new URL(request.url);
  const response = await fetch(new Request(new URL(url.pathname + url.search, upstream), request));
  return wrapBody ? onBodyEnd(response, () => {}) : response;
});
exitOnSignal(() => server.shutdown());
announce(`http://127.0.0.1:${server.addr.port}`);
