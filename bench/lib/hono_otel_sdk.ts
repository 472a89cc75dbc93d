/**
 * The peer setup the middleware is compared with: `@hono/otel` on the OpenTelemetry SDK as its
 * documentation sets it up outside Node — BasicTracerProvider, BatchSpanProcessor with its
 * defaults, OTLPTraceExporter (OTLP/HTTP JSON), parent-based always-on sampling, and W3C
 * propagation plus an AsyncLocalStorage context manager registered globally.
 */
import { httpInstrumentationMiddleware } from "@hono/otel";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { MiddlewareHandler } from "hono";

const SERVICE_NAME = "bench-hono-otel";

export interface HonoOtel {
  readonly middleware: MiddlewareHandler;
  readonly provider: BasicTracerProvider;
}

/**
 * `endpoint` is an OTLP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes; undefined builds the
 * provider without any span processor (spans are recorded, then dropped).
 */
export function honoOtel(endpoint: string | undefined): HonoOtel {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": SERVICE_NAME }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: endpoint === undefined
      ? []
      : [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const middleware = httpInstrumentationMiddleware({
    tracerProvider: provider,
    serviceName: SERVICE_NAME,
  });
  return { middleware, provider };
}
