/**
 * One request through a Hono hello-world app in-process (`app.request`, body read to the end),
 * with and without instrumentation. Providers have no span processor (spans are recorded, then
 * dropped): this is the request-path cost; export is measured under load by `bench/run.ts`.
 */
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

// Two pieces of the middleware on their own, to show what each costs per request off Workers.
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
const pieces = "pieces of the middleware, each alone on bare Hono";
Deno.bench("bare Hono", { group: pieces, baseline: true }, () => request(bare, sampled));
Deno.bench("+ response body wrap (onBodyEnd)", { group: pieces }, () => request(wrapped, sampled));
Deno.bench(
  "+ c.executionCtx probe (throws off Workers)",
  { group: pieces },
  () => request(probed, sampled),
);
