/**
 * tracegate's runtime-neutral core: W3C propagation, sampling, configuration from the
 * environment, tracer provider and OTLP export, and the server and client sides of a traced
 * HTTP request. The Hono middleware (`tracegate/middleware`) and the proxy (`tracegate/proxy`)
 * are built on it.
 *
 * @example Continue a caller's trace around your own request handling
 * ```ts
 * import { context } from "@opentelemetry/api";
 * import {
 *   createTracing,
 *   endingFor,
 *   readTracingSettings,
 *   ServerSpan,
 * } from "@tracegate/tracegate";
 *
 * const { settings } = readTracingSettings(
 *   { OTEL_SERVICE_NAME: "orders", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" },
 *   { serviceName: "unknown_service", sampler: "parentbased_always_on" },
 * );
 * const tracing = createTracing(settings);
 * async function handle(request: Request): Promise<Response> {
 *   const server = new ServerSpan(tracing, { request, active: context.active() });
 *   const response = new Response("ok");
 *   // The tail rules say whether the span ends now or once the body has been sent.
 *   const ending = endingFor(server, tracing.tail, { status: response.status, threw: false });
 *   return server.finish(response, { ending });
 * }
 * ```
 *
 * @module
 */
export { ConfigError, type EnvSource } from "./config/env.ts";
export {
  type HttpSettings,
  readTracingSettings,
  SAMPLER_NAMES,
  type SamplerName,
  type TracingSettings,
} from "./config/settings.ts";
export * from "./propagation/mod.ts";
export {
  endingFor,
  type ResponseOutcome,
  type SpanEnding,
  type TailRules,
} from "./sampling/tail.ts";
export { samplerFromSettings } from "./sampling.ts";
export { BaggageAttributesProcessor } from "./baggage_attributes.ts";
export { ExportQueue, type QueueStats } from "./export/queue.ts";
export {
  ATTR_SAMPLING_REASON,
  type HeadReason,
  type SamplingReason,
  type TailReason,
} from "./sampling/reason.ts";
export {
  createTracing,
  type ProviderOptions,
  type Tracing,
  type TracingOptions,
} from "./tracing/setup.ts";
export { type InboundContextMode, ServerSpan, type ServerSpanStart } from "./tracing/server.ts";
export { ClientSpan, createTracedFetch } from "./tracing/client.ts";
export { type TraceLogFields, traceLogFields } from "./tracing/log_fields.ts";
export { ATTR_REQUEST_ID, requestIdFrom, withRequestId } from "./tracing/request_id.ts";
