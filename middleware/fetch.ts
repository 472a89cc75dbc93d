import { context } from "@opentelemetry/api";
import { createTracedFetch } from "../src/tracing/client.ts";
import type { Tracing } from "../src/tracing/setup.ts";

/**
 * A traced `fetch` for code outside a request handler (a CLI, a queue consumer): each call is a
 * CLIENT span under whatever context is active when it is made.
 */
export function tracedFetch(tracing: Tracing, send: typeof fetch = fetch): typeof fetch {
  return createTracedFetch(tracing, () => context.active(), (request) => send(request));
}
