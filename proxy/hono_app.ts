/**
 * The proxy as a Hono app, for users who mount it among their own routes. Kept apart from the
 * proxy itself so the Worker and Deno entries, which call the proxy directly, never bundle Hono.
 */
import { type Context, Hono } from "hono";
import type { Proxy, ProxyRequestInfo } from "./app.ts";

/**
 * The proxy as a Hono app. `proxyOf` gives the proxy for a request's context (built on first use,
 * since on Workers the environment arrives with the first request) and `infoOf` what the runtime
 * knows of the request.
 */
// deno-lint-ignore no-explicit-any
export function createProxyApp<E extends { Bindings?: any }>(
  proxyOf: (c: Context<E>) => Proxy,
  infoOf: (c: Context<E>) => ProxyRequestInfo,
): Hono<E> {
  const app = new Hono<E>();
  app.all("*", (c) => proxyOf(c).handle(c.req.raw, infoOf(c)));
  return app;
}
