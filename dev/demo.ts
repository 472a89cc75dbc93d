/**
 * The demo service of `deno task dev`: a Hono app traced by the tracegate middleware, with routes
 * that show the interesting cases (a nested call, a slow route, a failure, baggage).
 */
import { propagation } from "@opentelemetry/api";
import { Hono } from "hono";
import type { EnvSource } from "../src/config/env.ts";
import type { Tracing } from "../src/tracing/setup.ts";
import { tracegate, type TracegateEnv } from "../middleware/mod.ts";
import { tracingFromOptions } from "../middleware/options.ts";

export const DEMO_SERVICE_NAME = "demo-service";

/** What each route shows, printed by `deno task dev` and answered on `/`. */
export const DEMO_ROUTES: Readonly<Record<string, string>> = {
  "/orders/42": "calls /inventory/42 through c.var.tracedFetch (nested spans)",
  "/inventory/42": "answers directly",
  "/slow": "answers after about 300 ms",
  "/fail": "throws: a 500 with an error span",
  "/whoami": "echoes the user.id baggage entry (recorded as a span attribute)",
};

/** Baggage entries the demo records as span attributes. */
export const DEMO_BAGGAGE_ATTRIBUTES: readonly string[] = ["user.id"];

const SLOW_MS = 300;

/** `origin` is where the app itself listens, for the nested call. */
export function demoApp(tracing: Tracing, origin: () => string): Hono<TracegateEnv> {
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ tracing }));
  app.get("/", (c) => c.json({ service: DEMO_SERVICE_NAME, routes: DEMO_ROUTES }));
  app.get("/orders/:id", async (c) => {
    const id = c.req.param("id");
    const stock = await c.var.tracedFetch(`${origin()}/inventory/${encodeURIComponent(id)}`);
    return c.json({ order: id, requestId: c.var.requestId, inventory: await stock.json() });
  });
  app.get("/inventory/:id", (c) => c.json({ item: c.req.param("id"), inStock: 7 }));
  app.get("/slow", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
    return c.text(`answered after ${SLOW_MS} ms\n`);
  });
  app.get("/fail", () => {
    throw new Error("demo failure: the payment backend is down");
  });
  app.get("/whoami", (c) => {
    const userId = propagation.getBaggage(c.var.traceContext)?.getEntry("user.id")?.value;
    return c.json({ userId: userId ?? null });
  });
  // Without this Hono would print each /fail stack trace; the error span already records it,
  // and the client gets a generic body (an exception's message is for spans and logs only).
  app.onError((_error, c) => c.text("Internal Server Error\n", 500));
  return app;
}

export interface Demo extends AsyncDisposable {
  readonly url: string;
  /** Stops listening, then exports the spans still queued. */
  close(): Promise<void>;
}

/**
 * Serves the demo on 127.0.0.1:`port` (0: a free port). Its tracing settings come from `env`
 * (the `OTEL_*` variables), with `OTEL_SERVICE_NAME` set to demo-service.
 */
export function startDemo(options: { port: number; env: EnvSource }): Demo {
  const tracing = tracingFromOptions(
    { baggageAttributes: DEMO_BAGGAGE_ATTRIBUTES },
    { ...options.env, OTEL_SERVICE_NAME: DEMO_SERVICE_NAME },
  );
  let url = "";
  const app = demoApp(tracing, () => url);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen() {} },
    (request, info) => app.fetch(request, info),
  );
  url = `http://127.0.0.1:${server.addr.port}`;
  const close = async () => {
    await server.shutdown();
    await tracing.shutdown();
  };
  return { url, close, [Symbol.asyncDispose]: close };
}
