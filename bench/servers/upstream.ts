/**
 * The upstream behind every proxy target: answers "Hello, World!" and counts what it served;
 * `GET /__bench/count` (asked directly, never through a proxy) returns the count.
 */
import { announce, exitOnSignal } from "./announce.ts";

export const COUNT_PATH = "/__bench/count";

if (import.meta.main) {
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname === COUNT_PATH) return Response.json({ served });
    served++;
    return new Response("Hello, World!", { headers: { "content-type": "text/plain" } });
  });
  exitOnSignal(() => server.shutdown());
  announce(`http://127.0.0.1:${server.addr.port}`);
}
