/**
 * One SERVER span started and ended through `src/tracing/server.ts`, as the middleware and the
 * proxy run it: the inbound context extracted, the span started, the request's attributes, the
 * route and the response recorded, the hand-back headers set, and the span ended when the
 * runtime says the body has been sent (a signal like Deno's `info.completed`, so no JavaScript
 * wraps the body; `bench/middleware_bench.ts` measures the whole middleware).
 *
 * The provider has no span processor (OTEL_TRACES_EXPORTER=none): this is tracegate's cost on
 * the request path. Export (ExportQueue, OTLP/HTTP to a sink on 127.0.0.1) runs off the request
 * path and is measured under load by `bench/run.ts` (CPU per span).
 */
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { requestHeaderCaptures, serverRequestAttributes } from "../src/http/attributes.ts";
import type { BodyEndSignal } from "../src/http/body_end.ts";
import { sensitiveQueryParams } from "../src/http/redact.ts";
import { ServerSpan } from "../src/tracing/server.ts";
import { tracingFromOptions } from "../middleware/options.ts";
import { REQUEST_HEADERS, SAMPLED_TRACEPARENT, UNSAMPLED_TRACEPARENT } from "./lib/fixtures.ts";

const tracing = tracingFromOptions({ log: () => {} }, {
  OTEL_SERVICE_NAME: "bench",
  OTEL_TRACES_EXPORTER: "none",
  TRACEGATE_CAPTURE_REQUEST_HEADERS: "x-tenant",
  TRACEGATE_CAPTURE_RESPONSE_HEADERS: "content-type",
});

const URL = "http://127.0.0.1:8000/orders/42?lang=en&sig=secret";
const USER_AGENT = REQUEST_HEADERS["user-agent"];
/** What the load runs send: a traceparent and a user agent. */
const plain = new Request(URL, {
  headers: { "user-agent": USER_AGENT, traceparent: SAMPLED_TRACEPARENT },
});
const full = new Request(URL, { headers: REQUEST_HEADERS });
const unsampled = new Request(URL, {
  headers: { "user-agent": USER_AGENT, traceparent: UNSAMPLED_TRACEPARENT },
});

/** The body counts as sent at once, as Deno's `info.completed` would tell it. */
const sentAtOnce: BodyEndSignal = (response, done) => {
  done({ kind: "complete" });
  return response;
};

function serverSpan(request: Request): Response {
  const server = new ServerSpan(tracing, {
    request,
    active: ROOT_CONTEXT,
    clientAddress: "127.0.0.1",
  });
  server.setRoute("/orders/:id");
  return server.finish(
    new Response("Hello, World!", { headers: { "content-type": "text/plain" } }),
    { ending: { kind: "withBody" }, bodyEnd: sentAtOnce },
  );
}

const attributes = serverRequestAttributes(full, {
  trustForwardedFor: false,
  sensitiveQueryParams: sensitiveQueryParams([]),
  capturedRequestHeaders: requestHeaderCaptures(["x-tenant"]),
  clientAddress: "127.0.0.1",
});

const group = "server span, full attributes, no processors";
Deno.bench("ServerSpan, sampled, traceparent only", { group, baseline: true }, () => {
  serverSpan(plain);
});
Deno.bench("ServerSpan, sampled, tracestate, baggage, captured header", { group }, () => {
  serverSpan(full);
});
Deno.bench("ServerSpan, unsampled parent", { group }, () => {
  serverSpan(unsampled);
});
Deno.bench("SDK span alone (attributes precomputed)", { group }, () => {
  tracing.tracer.startSpan("GET /orders/:id", { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT)
    .end();
});
Deno.bench("Response with a header alone (no span)", { group }, () => {
  new Response("Hello, World!", { headers: { "content-type": "text/plain" } });
});
