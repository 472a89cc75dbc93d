/**
 * Encoding a batch of exported spans for OTLP/HTTP, per batch of 100 SERVER+CLIENT span pairs
 * with the attributes tracegate records: tracegate's encoders (src/export/otlp_protobuf.ts,
 * otlp_json.ts) beside @opentelemetry/otlp-transformer's serializers, which the SDK exporters use.
 * Divide by 200 for the cost per span; the bar for all export work per span is 8 µs.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { encodeJsonTraces } from "../src/export/otlp_json.ts";
import { ProtobufTraceEncoder } from "../src/export/otlp_protobuf.ts";
import { REQUEST_HEADERS } from "./lib/fixtures.ts";

const spans: ReadableSpan[] = [];
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "bench", "deployment.environment": "prod" }),
  sampler: new AlwaysOnSampler(),
  spanProcessors: [{
    onStart() {},
    onEnd: (span) => spans.push(span),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  }],
});
const tracer = provider.getTracer("tracegate", "0.1.0");
/** What tracegate records on a SERVER span of a typical request. */
const attributes = {
  "http.request.method": "GET",
  "url.scheme": "http",
  "url.path": "/orders/42",
  "url.query": "lang=en",
  "url.full": "http://127.0.0.1:8000/orders/42?lang=en",
  "server.address": "127.0.0.1",
  "server.port": 8000,
  "client.address": "127.0.0.1",
  "network.protocol.version": "1.1",
  "user_agent.original": REQUEST_HEADERS["user-agent"],
  "http.request.header.x-tenant": ["acme"],
  "tracegate.request.id": REQUEST_HEADERS["x-request-id"],
  "tracegate.sampling.reason": "parent",
};
for (let i = 0; i < 100; i++) {
  const server = tracer.startSpan(
    "GET /orders/:id",
    { kind: SpanKind.SERVER, attributes },
    ROOT_CONTEXT,
  );
  server.setAttributes({ "http.route": "/orders/:id", "http.response.status_code": 200 });
  tracer.startSpan("GET", {
    kind: SpanKind.CLIENT,
    attributes: {
      "http.request.method": "GET",
      "url.full": "http://upstream.internal:8080/orders/42?lang=en",
      "server.address": "upstream.internal",
      "server.port": 8080,
      "http.response.status_code": 200,
    },
  }, trace.setSpan(context.active(), server)).end();
  if (i % 10 === 0) server.setStatus({ code: SpanStatusCode.ERROR, message: "upstream failed" });
  server.end();
}

const encoder = new ProtobufTraceEncoder();
const group = "encode 200 spans for export";
Deno.bench("tracegate protobuf", { group, baseline: true }, () => {
  encoder.encode(spans);
});
Deno.bench("otlp-transformer protobuf", { group }, () => {
  ProtobufTraceSerializer.serializeRequest(spans);
});
Deno.bench("tracegate JSON", { group }, () => {
  encodeJsonTraces(spans);
});
Deno.bench("otlp-transformer JSON", { group }, () => {
  JsonTraceSerializer.serializeRequest(spans);
});
