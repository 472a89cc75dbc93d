/**
 * The socket peer's address, from what each runtime hands a Hono app as `c.env`: Hono's own
 * `getConnInfo` helpers do the same per runtime, but each lives in a runtime-specific module
 * (`hono/deno`, `hono/bun`, `@hono/node-server/conninfo`) the middleware cannot import
 * everywhere, so this reads the same fields duck-typed.
 */
import type { Context } from "hono";

/** `Deno.serve`'s handler info. */
interface DenoServeInfo {
  remoteAddr?: { hostname?: unknown };
}
/** `@hono/node-server`: the request's `IncomingMessage`. */
interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: unknown } };
}
/** `Bun.serve`'s server. */
interface BunServer {
  requestIP?: (request: Request) => { address?: unknown } | null;
}

export function clientAddressOf(c: Context): string | undefined {
  const env = c.env as (DenoServeInfo & NodeBindings & BunServer) | undefined;
  if (env) {
    const address = env.remoteAddr?.hostname ??
      env.incoming?.socket?.remoteAddress ??
      (typeof env.requestIP === "function" ? env.requestIP(c.req.raw)?.address : undefined);
    if (typeof address === "string") return address;
  }
  // Workers: Cloudflare's edge sets CF-Connecting-IP on requests that carry `cf` properties.
  const raw = c.req.raw as Request & { cf?: unknown };
  return raw.cf ? c.req.header("cf-connecting-ip") : undefined;
}
