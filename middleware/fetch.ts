import { context } from "@opentelemetry/api";
import { createTracedFetch } from "../src/tracing/client.ts";
import type { Tracing } from "../src/tracing/setup.ts";
import { ensureContextManager } from "./context_manager.ts";

/**
 * A traced `fetch` for code outside a request handler (a CLI, a queue consumer): each call is a
 * CLIENT span under whatever context is active when it is made (`tracer.startActiveSpan`,
 * `context.with`: an AsyncLocalStorage context manager is registered unless one already is).
 * Call `tracing.shutdown()` before the program exits so the spans are exported.
 */
export function tracedFetch(tracing: Tracing, send: typeof fetch = fetch): typeof fetch {
  ensureContextManager();
  return createTracedFetch(tracing, () => context.active(), (request) => send(request));
}
