/**
 * The tracegate Hono middleware: continues the caller's trace, opens the SERVER span, makes it
 * the active context for the handler, hands the trace back in the response, and gives the
 * handler a traced `fetch` that carries the context onward. Configuration comes from the
 * `OTEL_*` and `TRACEGATE_*` variables of the runtime's environment (a Worker's vars and
 * secrets), and the options, which win over them.
 *
 * @example A traced Hono app; its outgoing call is a CLIENT span with the context injected
 * ```ts
 * import { Hono } from "hono";
 * import { tracegate, type TracegateEnv } from "@tracegate/tracegate/middleware";
 *
 * const app = new Hono<TracegateEnv>();
 * app.use(tracegate({ baggageAttributes: ["user.id"] }));
 * app.get("/orders/:id", async (c) => {
 *   const stock = await c.var.tracedFetch(`https://stock.internal/items/${c.req.param("id")}`);
 *   return c.json({ requestId: c.var.requestId, stock: await stock.json() });
 * });
 * Deno.serve(app.fetch);
 * ```
 *
 * @example A traced `fetch` outside a handler (a CLI, a queue consumer)
 * ```ts
 * import { tracedFetch, tracingFromOptions } from "@tracegate/tracegate/middleware";
 *
 * const tracing = tracingFromOptions({ serviceName: "my-cli" }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" });
 * const send = tracedFetch(tracing);
 * await tracing.tracer.startActiveSpan("sync", async (span) => {
 *   await (await send("https://api.example.com/items")).body?.cancel();
 *   span.end();
 * });
 * await tracing.shutdown();
 * ```
 *
 * @module
 */
import {
  type Context as OtelContext,
  context,
  propagation,
  type Span,
  trace,
} from "@opentelemetry/api";
import type { Context, MiddlewareHandler } from "hono";
import { env as runtimeEnv } from "hono/adapter";
import { routePath } from "hono/route";
import { DEFAULT_REQUEST_ID_POLICY, type RequestIdPolicy } from "../src/http/request_id.ts";
import { endingFor } from "../src/sampling/tail.ts";
import { tracedCall } from "../src/tracing/client.ts";
import { ServerSpan } from "../src/tracing/server.ts";
import type { Tracing } from "../src/tracing/setup.ts";
import { clientAddressOf } from "./client_address.ts";
import { ensureContextManager } from "./context_manager.ts";
import { type TracegateOptions, tracingFromOptions } from "./options.ts";
import { runtimeBodyEnd } from "./runtime/mod.ts";

export {
  type MiddlewareOptions,
  type TracegateOptions,
  type TracingBuildOptions,
  tracingFromOptions,
} from "./options.ts";
export { tracedFetch } from "./fetch.ts";
export { type TraceLogFields, traceLogFields } from "../src/tracing/log_fields.ts";

/** What the middleware puts on `c.var`. `requestId` matches `hono/request-id`. */
export interface TracegateVariables {
  /** The SERVER span of this request. */
  span: Span;
  /** The OpenTelemetry context of this request (span, baggage, request id). */
  traceContext: OtelContext;
  requestId: string;
  /** `fetch` that opens a CLIENT span and injects the trace context, baggage and request id. */
  tracedFetch: typeof fetch;
}

export interface TracegateEnv {
  Variables: TracegateVariables;
}

export function tracegate(options: TracegateOptions = {}): MiddlewareHandler<TracegateEnv> {
  let hasExecutionCtx: boolean | undefined;
  // On Workers the export runs after the response, inside `waitUntil`. Elsewhere Hono's getter
  // throws, and a throw per request is costly: the answer is kept after the first request.
  const waitUntilOf = (c: Context): ((work: Promise<void>) => void) | undefined => {
    if (hasExecutionCtx === false) return undefined;
    try {
      const executionCtx = c.executionCtx;
      hasExecutionCtx = true;
      return (work) => executionCtx.waitUntil(work);
    } catch {
      hasExecutionCtx = false; // not on Workers: the export runs in the background by itself
      return undefined;
    }
  };
  const requestIds: RequestIdPolicy = {
    validate: options.validateRequestId ?? DEFAULT_REQUEST_ID_POLICY.validate,
    generate: options.generateRequestId ?? DEFAULT_REQUEST_ID_POLICY.generate,
  };

  // Now, not on the first request: middleware registered before this one may set a context.
  if (options.registerGlobals !== false) ensureContextManager();
  const registered = (tracing: Tracing): Tracing => {
    if (options.registerGlobals !== false) {
      trace.setGlobalTracerProvider(tracing.provider);
      propagation.setGlobalPropagator(tracing.propagator);
    }
    return tracing;
  };

  let tracing: Tracing | undefined;
  let setup: (c: Context) => Tracing;
  if (options.tracing) {
    tracing = registered(options.tracing);
    setup = () => options.tracing;
  } else {
    // Built on the first request: on Workers the environment exists only then.
    const build = options;
    setup = (c) => registered(tracingFromOptions(build, build.env ?? runtimeEnv(c)));
  }

  return async function tracegateMiddleware(c, next) {
    const active = tracing ??= setup(c);
    const req = c.req;
    const server = new ServerSpan(active, {
      request: req.raw,
      active: context.active(),
      // A function, not a getter: an object literal with an accessor is built on V8's slow path
      // (~0.5 µs against ~15 ns, measured), more than the runtime call it defers.
      clientAddress: () => clientAddressOf(c),
      requestId: c.get("requestId"),
      requestIds,
    });
    c.set("span", server.span);
    c.set("traceContext", server.context);
    c.set("requestId", server.requestId);
    // One small closure; the span and the Request are made only if it is called.
    c.set("tracedFetch", (input, init) => tracedCall(active, server.context, fetch, input, init));

    const ownIndex = req.routeIndex;
    try {
      await context.with(server.context, next);
    } catch (error) {
      server.recordError(error);
      throw error;
    }
    if (c.error) server.recordError(c.error);
    // The route names the span and sets `http.route`: nothing to look up for a span that records
    // nothing.
    if (req.routeIndex !== ownIndex && server.span.isRecording()) server.setRoute(routePath(c));

    const ending = endingFor(server, active.tail, {
      status: c.res.status,
      threw: server.errored,
    });
    // Asked only for a span that waits for its body: Deno's `completed` getter has a cost.
    const response = ending.kind === "now"
      ? server.finish(c.res, { ending })
      : server.finish(c.res, { ending, waitUntil: waitUntilOf(c), bodyEnd: runtimeBodyEnd(c) });
    if (response !== c.res) {
      // Assigning over an existing response makes Hono copy the old headers onto the new one,
      // which would overwrite the Server-Timing entry just appended; clear it first.
      c.res = undefined;
      c.res = response;
    }
  };
}
