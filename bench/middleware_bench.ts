/**
 * One request through a Hono hello-world app in-process (`app.request`, body read to the end),
 * with and without instrumentation. Providers have no span processor (spans are recorded, then
 * dropped): this is the request-path cost; export is measured under load by `bench/run.ts`.
 */
import { context, createContextKey, ROOT_CONTEXT } from "@opentelemetry/api";
import { Hono, type MiddlewareHandler } from "hono";
import { tracegate } from "../middleware/mod.ts";
import { onBodyEnd } from "../src/http/body_end.ts";
import { REQUEST_HEADERS, UNSAMPLED_TRACEPARENT } from "./lib/fixtures.ts";
import { honoOtel } from "./lib/hono_otel_sdk.ts";

function helloApp(middleware?: MiddlewareHandler): Hono {
  const app = new Hono();
  if (middleware) app.use(middleware);
  app.get("/", (c) => c.text("Hello, World!"));
  return app;
}

const bare = helloApp();
const traced = helloApp(
  tracegate({
    env: { OTEL_SERVICE_NAME: "bench", OTEL_TRACES_EXPORTER: "none" },
    log: () => {},
  }) as MiddlewareHandler,
);
const peer = helloApp(honoOtel(undefined).middleware);

const sampled = { headers: REQUEST_HEADERS };
const unsampled = { headers: { ...REQUEST_HEADERS, traceparent: UNSAMPLED_TRACEPARENT } };

async function request(app: Hono, init: RequestInit): Promise<void> {
  const response = await app.request("/", init);
  await response.arrayBuffer();
}

const group = "app.request, hello world";
Deno.bench("bare Hono", { group, baseline: true }, () => request(bare, sampled));
Deno.bench("tracegate, sampled", { group }, () => request(traced, sampled));
Deno.bench("tracegate, unsampled", { group }, () => request(traced, unsampled));
Deno.bench("@hono/otel + SDK, sampled", { group }, () => request(peer, sampled));
Deno.bench("@hono/otel + SDK, unsampled", { group }, () => request(peer, unsampled));

// Pieces of the middleware on their own, to show what each costs per request off Workers.
const wrapped = helloApp(async (c, next) => {
  await next();
  const response = onBodyEnd(c.res, () => {});
  c.res = undefined;
  c.res = response;
});
const probed = helloApp(async (c, next) => {
  await next();
  try {
    c.executionCtx.waitUntil(Promise.resolve()); // as keepAlive does: it throws off Workers
  } catch {
    // not on Workers
  }
});
// What any tracing middleware pays before its span: Hono's compose (one middleware takes Hono off
// its single-handler path), the context made active around the handler (AsyncLocalStorage), the
// propagation headers read and the hand-back headers written.
const composed = helloApp(async (_c, next) => {
  await next();
});
const requestContext = ROOT_CONTEXT.setValue(createContextKey("bench"), true);
const inContext = helloApp((_c, next) => context.with(requestContext, next));
const headersRead = helloApp(async (c, next) => {
  const headers = c.req.raw.headers;
  for (const name of ["traceparent", "tracestate", "baggage", "x-request-id"]) headers.get(name);
  await next();
});
const handedBack = helloApp(async (c, next) => {
  await next();
  c.res.headers.set("x-request-id", REQUEST_HEADERS["x-request-id"]);
  c.res.headers.set("server-timing", `traceparent;desc="${UNSAMPLED_TRACEPARENT}"`);
});
const pieces = "pieces of the middleware, each alone on bare Hono";
Deno.bench("bare Hono", { group: pieces, baseline: true }, () => request(bare, sampled));
Deno.bench("+ response body wrap (onBodyEnd)", { group: pieces }, () => request(wrapped, sampled));
Deno.bench(
  "+ c.executionCtx probe (throws off Workers)",
  { group: pieces },
  () => request(probed, sampled),
);
Deno.bench(
  "+ a no-op middleware (Hono's compose)",
  { group: pieces },
  () => request(composed, sampled),
);
Deno.bench(
  "+ context.with around next (AsyncLocalStorage)",
  { group: pieces },
  () => request(inContext, sampled),
);
Deno.bench("+ 4 propagation headers read", { group: pieces }, () => request(headersRead, sampled));
Deno.bench(
  "+ X-Request-ID and Server-Timing written",
  { group: pieces },
  () => request(handedBack, sampled),
);
