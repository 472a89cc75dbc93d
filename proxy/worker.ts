/**
 * The Cloudflare Workers entry (`main` in wrangler.toml). Configuration comes from the Worker's
 * vars and secrets; spans are exported in `ctx.waitUntil` after each response.
 *
 * A plain module Worker rather than `createProxyApp`: the proxy answers every path the same way,
 * so Hono's router would only add its bytes to the bundle (~7 KiB gzip) and its work to each
 * request.
 */
import { smallBodiesThrough } from "../src/http/body_end.ts";
import { workerdReadAhead, workerdTeeBodyEnd } from "../middleware/runtime/workerd.ts";
import { createProxy, type Proxy } from "./app.ts";

/** What workerd passes a module Worker's `fetch` as its third argument. */
interface ExecutionContext {
  waitUntil(work: Promise<unknown>): void;
}

let proxy: Proxy | undefined;
/** Relayed bodies not read ahead: small ones teed natively, long ones where a departed client shows. */
const RELAYED_BODY_END = smallBodiesThrough(workerdTeeBodyEnd);

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    proxy ??= createProxy(env, { deadlineTimers: "per request" });
    return proxy.handle(request, {
      waitUntil: (work) => ctx.waitUntil(work),
      // Set by Cloudflare's edge on every request; not forgeable by the client there.
      clientAddress: request.headers.get("cf-connecting-ip") ?? undefined,
      bodyEnd: RELAYED_BODY_END,
      readAhead: workerdReadAhead,
    });
  },
};
