/**
 * Hono hello-world on `Deno.serve`:
 * `deno run -A bench/servers/hello.ts bare|noop|floor|tracegate|hono-otel`. Spans go to
 * OTEL_EXPORTER_OTLP_ENDPOINT. A second listener (not instrumented) answers `GET /count` with the
 * requests the handler has served, so the driver knows exactly how many spans to expect at the
 * sink. `noop` and `floor` trace nothing: they measure what any middleware, and any tracing
 * middleware that continues the trace and hands it back, costs before its first span.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { UNSAMPLED_TRACEPARENT } from "../lib/fixtures.ts";
import { announce, exitOnSignal } from "./announce.ts";

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
    case "floor": {
      // What tracegate must do for an unsampled request, and nothing more: the propagation headers
      // read, a context made active around the handler (AsyncLocalStorage), the request id and
      // the trace handed back.
      const { context, createContextKey, ROOT_CONTEXT } = await import("@opentelemetry/api");
      const { ensureContextManager } = await import("../../middleware/context_manager.ts");
      ensureContextManager();
      const key = createContextKey("bench floor");
      const handBack = `traceparent;desc="${UNSAMPLED_TRACEPARENT}"`;
      return {
        middleware: async (c, next) => {
          const headers = c.req.raw.headers;
          const parent = headers.get("traceparent");
          headers.get("tracestate");
          headers.get("baggage");
          const requestId = headers.get("x-request-id") ?? "req-0123456789abcdef";
          await context.with(ROOT_CONTEXT.setValue(key, parent), next);
          c.res.headers.set("x-request-id", requestId);
          c.res.headers.append("server-timing", handBack);
        },
        shutdown: async () => {},
      };
    }
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
        `unknown mode ${JSON.stringify(mode)}: bare, noop, floor, tracegate, hono-otel`,
      );
  }
}
