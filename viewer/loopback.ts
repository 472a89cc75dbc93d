/**
 * The viewer answers only requests addressed to a loopback name. A web page on another site can
 * make the browser send it requests (DNS rebinding points the attacker's own name at 127.0.0.1),
 * but such a request still carries the attacker's name in `Host`: refused, it reads nothing.
 */
import type { MiddlewareHandler } from "hono";
import { parseHost } from "../src/http/host.ts";

/** `localhost` (and its subdomains, which browsers resolve to loopback), 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
  if (host === undefined) return false;
  const name = host.address.toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(name);
}

/**
 * Refuses (421 Misdirected Request) a request whose `Host` is not a loopback name, nor one of
 * `alsoAllowed` (the address the viewer was told to listen on, when that is not loopback).
 */
export function loopbackHostOnly(alsoAllowed: readonly string[] = []): MiddlewareHandler {
  const allowed = new Set(alsoAllowed.map((name) => name.toLowerCase()));
  return async function loopbackHostOnly(c, next) {
    const host = c.req.header("host");
    const name = host === undefined ? undefined : parseHost(host)?.address.toLowerCase();
    if (!isLoopbackHost(host) && (name === undefined || !allowed.has(name))) {
      return c.text("the trace viewer answers only loopback host names\n", 421);
    }
    await next();
  };
}
