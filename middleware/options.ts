import type { TracerProvider } from "@opentelemetry/api";
import type { Sampler, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EnvSource } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import { type HttpSettings, readTracingSettings } from "../src/config/settings.ts";
import type { PropagatorName } from "../src/propagation/mod.ts";
import { createTracing, type Tracing } from "../src/tracing/setup.ts";

/** Middleware options; each one wins over the environment variable of the same meaning. */
export interface TracegateOptions extends Partial<HttpSettings> {
  /** Where `OTEL_*` and `TRACEGATE_*` are read from; default: the runtime's environment. */
  readonly env?: EnvSource;
  /** A tracing setup shared with other code (for example a standalone traced fetch). */
  readonly tracing?: Tracing;
  readonly tracerProvider?: TracerProvider;
  readonly sampler?: Sampler;
  readonly exporter?: SpanExporter;
  readonly serviceName?: string;
  readonly propagators?: readonly PropagatorName[];
  readonly generateRequestId?: () => string;
  readonly validateRequestId?: (id: string) => boolean;
  /**
   * Register the provider, propagator and an AsyncLocalStorage context manager as the
   * OpenTelemetry globals (each only when none is registered yet). Default true.
   */
  readonly registerGlobals?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * The tracing setup the middleware uses: settings from `env` with the options laid over them.
 * Build it yourself to share it with a standalone `tracedFetch` (and pass it to `tracegate` as `tracing`).
 */
export function tracingFromOptions(options: TracegateOptions, env: EnvSource): Tracing {
  const log = options.log ?? console.error;
  const { settings, errors } = readTracingSettings(env, {
    serviceName: "unknown_service",
    sampler: "parentbased_always_on",
  });
  logConfigErrors(errors, log);
  const http: HttpSettings = {
    requestIdHeader: (options.requestIdHeader ?? settings.http.requestIdHeader).toLowerCase(),
    baggageAttributes: options.baggageAttributes ?? settings.http.baggageAttributes,
    captureRequestHeaders: options.captureRequestHeaders ?? settings.http.captureRequestHeaders,
    captureResponseHeaders: options.captureResponseHeaders ??
      settings.http.captureResponseHeaders,
    sensitiveQueryParams: options.sensitiveQueryParams ?? settings.http.sensitiveQueryParams,
    trustForwardedHeaders: options.trustForwardedHeaders ?? settings.http.trustForwardedHeaders,
    serverTiming: options.serverTiming ?? settings.http.serverTiming,
    traceResponse: options.traceResponse ?? settings.http.traceResponse,
  };
  return createTracing({
    ...settings,
    serviceName: options.serviceName ?? settings.serviceName,
    propagators: options.propagators ?? settings.propagators,
    http,
  }, {
    tracerProvider: options.tracerProvider,
    sampler: options.sampler,
    exporter: options.exporter,
    log,
  });
}
