/**
 * The Cloudflare Workers entry (`main` in wrangler.toml). Configuration comes from the Worker's
 * vars and secrets; spans are exported in `ctx.waitUntil` after each response.
 */
import { workerdBodyEnd } from "../middleware/runtime/workerd.ts";
import { createProxy, createProxyApp, type Proxy } from "./app.ts";

type WorkerEnv = { Bindings: Record<string, unknown> };

let proxy: Proxy | undefined;

const app = createProxyApp<WorkerEnv>(
  (c) => (proxy ??= createProxy(c.env)),
  (c) => ({
    waitUntil: (work) => c.executionCtx.waitUntil(work),
    // Set by Cloudflare's edge on every request; not forgeable by the client there.
    clientAddress: c.req.header("cf-connecting-ip"),
    bodyEnd: workerdBodyEnd,
  }),
);

export default app;
