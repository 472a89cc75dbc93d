/**
 * One SERVER span started and ended with the full attribute set (URL, redacted query, client and
 * server address, user agent, a captured request and response header, request id, route) through
 * `src/tracing/server.ts`, as the middleware and the proxy run it: the Request is read, the
 * hand-back headers set, and the span ends when the Response body has been read.
 *
 * The provider is a BasicTracerProvider with no span processor (OTEL_TRACES_EXPORTER=none): this
 * is tracegate's cost on the request path. Export (ExportQueue, OTLP/HTTP to a sink on 127.0.0.1)
 * runs off the request path and is measured under load by `bench/run.ts` (CPU per span).
 */
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { requestHeaderCaptures, serverRequestAttributes } from "../src/http/attributes.ts";
import { sensitiveQueryParams } from "../src/http/redact.ts";
import { ServerSpan } from "../src/tracing/server.ts";
import type { Tracing } from "../src/tracing/setup.ts";
import { tracingFromOptions } from "../middleware/options.ts";
import { REQUEST_HEADERS, UNSAMPLED_TRACEPARENT } from "./lib/fixtures.ts";

const tracing = tracingFromOptions({ log: () => {} }, {
  OTEL_SERVICE_NAME: "bench",
  OTEL_TRACES_EXPORTER: "none",
  TRACEGATE_CAPTURE_REQUEST_HEADERS: "x-tenant",
  TRACEGATE_CAPTURE_RESPONSE_HEADERS: "content-type",
});

const URL = "http://127.0.0.1:8000/orders/42?lang=en&sig=secret";
const sampled = new Request(URL, { headers: REQUEST_HEADERS });
const unsampled = new Request(URL, {
  headers: { ...REQUEST_HEADERS, traceparent: UNSAMPLED_TRACEPARENT },
});

async function serverSpan(tracing: Tracing, request: Request): Promise<void> {
  const server = new ServerSpan(tracing, {
    request,
    active: ROOT_CONTEXT,
    clientAddress: "127.0.0.1",
  });
  server.setRoute("/orders/:id");
  const response = server.finish(
    new Response("Hello, World!", { headers: { "content-type": "text/plain" } }),
    { ending: { kind: "withBody" } },
  );
  await response.arrayBuffer();
}

const attributes = serverRequestAttributes(sampled, {
  trustForwardedFor: false,
  sensitiveQueryParams: sensitiveQueryParams([]),
  capturedRequestHeaders: requestHeaderCaptures(["x-tenant"]),
  clientAddress: "127.0.0.1",
});

const group = "server span, full attributes, no processors";
Deno.bench("ServerSpan, sampled", { group, baseline: true }, () => serverSpan(tracing, sampled));
Deno.bench("ServerSpan, unsampled parent", { group }, () => serverSpan(tracing, unsampled));
Deno.bench("SDK span alone (attributes precomputed)", { group }, () => {
  tracing.tracer.startSpan("GET /orders/:id", { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT)
    .end();
});
Deno.bench("Response body read alone (no span)", { group }, async () => {
  await new Response("Hello, World!", { headers: { "content-type": "text/plain" } })
    .arrayBuffer();
});
