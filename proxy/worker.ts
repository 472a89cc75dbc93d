/**
 * The Cloudflare Workers entry (`main` in wrangler.toml). Configuration comes from the Worker's
 * vars and secrets; spans are exported in `ctx.waitUntil` after each response.
 */
import { smallBodiesThrough } from "../src/http/body_end.ts";
import { workerdBodyEnd } from "../middleware/runtime/workerd.ts";
import { createProxy, createProxyApp, type Proxy } from "./app.ts";

type WorkerEnv = { Bindings: Record<string, unknown> };

let proxy: Proxy | undefined;
/** Relayed bodies: small ones through the native pipe, long ones where a departed client shows. */
const RELAYED_BODY_END = smallBodiesThrough(workerdBodyEnd);

const app = createProxyApp<WorkerEnv>(
  (c) => (proxy ??= createProxy(c.env)),
  (c) => ({
    waitUntil: (work) => c.executionCtx.waitUntil(work),
    // Set by Cloudflare's edge on every request; not forgeable by the client there.
    clientAddress: c.req.header("cf-connecting-ip"),
    bodyEnd: RELAYED_BODY_END,
  }),
);

export default app;
