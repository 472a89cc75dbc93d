/**
 * Hono hello-world on `Deno.serve`:
 * `deno run -A bench/servers/hello.ts <mode>` (see `instrumentation`). Spans go to
 * OTEL_EXPORTER_OTLP_ENDPOINT. A second listener (not instrumented) answers `GET /count` with the
 * requests the handler has served, so the driver knows exactly how many spans to expect at the
 * sink. `noop` and the `floor` modes trace nothing: they measure what any middleware, and any
 * tracing middleware that continues the trace and hands it back, costs before its first span;
 * `floor:read`, `floor:context` and `floor:handback` each do one part of `floor` alone.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { UNSAMPLED_TRACEPARENT } from "../lib/fixtures.ts";
import { announce, exitOnSignal } from "./announce.ts";

/**
 * What tracegate must do for an unsampled request, and nothing more: the propagation headers read
 * (`read`), a context made active around the handler (`context`: AsyncLocalStorage), the request
 * id and the trace handed back (`handback`). With one part, `handback` writes only Server-Timing
 * and `read` reads only `traceparent`: the least a middleware can do that continues the trace or
 * hands it back.
 */
const FLOOR_PARTS = ["read", "context", "handback"] as const;
type FloorPart = typeof FLOOR_PARTS[number];

const mode = Deno.args[0];
const app = new Hono();
const tracer = await instrumentation(mode);
if (tracer.middleware) app.use(tracer.middleware);

let served = 0;
app.get("/", (c) => {
  served++;
  return c.text("Hello, World!");
});

const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
const server = Deno.serve(listen, (request, info) => app.fetch(request, info));
const control = Deno.serve(listen, () => Response.json({ served }));
exitOnSignal(async () => {
  await server.shutdown();
  await control.shutdown();
  await tracer.shutdown();
});
announce(`http://127.0.0.1:${server.addr.port}`, {
  control: `http://127.0.0.1:${control.addr.port}`,
});

interface Instrumentation {
  readonly middleware?: MiddlewareHandler;
  shutdown(): Promise<void>;
}

async function instrumentation(mode: string | undefined): Promise<Instrumentation> {
  switch (mode) {
    case "bare":
      return { shutdown: async () => {} };
    case "noop":
      return { middleware: async (_c, next) => await next(), shutdown: async () => {} };
    case "floor":
      return { middleware: await floor(FLOOR_PARTS), shutdown: async () => {} };
    case "floor:read":
    case "floor:context":
    case "floor:handback":
      return {
        middleware: await floor([mode.slice("floor:".length) as FloorPart]),
        shutdown: async () => {},
      };
    case "tracegate": {
      const { tracegate, tracingFromOptions } = await import("../../middleware/mod.ts");
      // Built here, not on the first request, so SIGTERM can shut it down and its last drop count
      // is printed.
      const tracing = tracingFromOptions({}, Deno.env.toObject());
      return {
        middleware: tracegate({ tracing }) as MiddlewareHandler,
        shutdown: () => tracing.shutdown(),
      };
    }
    case "hono-otel": {
      const { honoOtel } = await import("../lib/hono_otel_sdk.ts");
      const { middleware, provider } = honoOtel(Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT"));
      return { middleware, shutdown: () => provider.shutdown() };
    }
    default:
      throw new Error(
        `unknown mode ${JSON.stringify(mode)}: bare, noop, floor, ${
          FLOOR_PARTS.map((part) => `floor:${part}`).join(", ")
        }, tracegate, hono-otel`,
      );
  }
}

async function floor(parts: readonly FloorPart[]): Promise<MiddlewareHandler> {
  const { context, createContextKey, ROOT_CONTEXT } = await import("@opentelemetry/api");
  const { ensureContextManager } = await import("../../middleware/context_manager.ts");
  const read = parts.includes("read");
  const activate = parts.includes("context");
  const handBack = parts.includes("handback");
  const wholeFloor = read && activate && handBack;
  if (activate) ensureContextManager();
  const key = createContextKey("bench floor");
  const serverTiming = `traceparent;desc="${UNSAMPLED_TRACEPARENT}"`;
  return async (c, next) => {
    let parent: string | null = null;
    let requestId = "req-0123456789abcdef";
    if (read) {
      const headers = c.req.raw.headers;
      parent = headers.get("traceparent");
      if (wholeFloor) {
        headers.get("tracestate");
        headers.get("baggage");
        requestId = headers.get("x-request-id") ?? requestId;
      }
    }
    if (activate) await context.with(ROOT_CONTEXT.setValue(key, parent), next);
    else await next();
    if (handBack) {
      if (wholeFloor) c.res.headers.set("x-request-id", requestId);
      c.res.headers.append("server-timing", serverTiming);
    }
  };
}
