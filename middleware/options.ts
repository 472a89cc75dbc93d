import { EnvReader, type EnvSource } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import {
  type HttpSettings,
  readTracingSettingsWith,
  type SamplerSettings,
} from "../src/config/settings.ts";
import type { PropagatorName } from "../src/propagation/mod.ts";
import { samplerFromSettings } from "../src/sampling.ts";
import {
  readTailRules,
  TailRecordingSampler,
  type TailRules,
  tailRulesOn,
} from "../src/sampling/tail.ts";
import { createTracing, type ProviderOptions, type Tracing } from "../src/tracing/setup.ts";

/** How the middleware builds its tracing setup; each option wins over its environment variable. */
export type TracingBuildOptions = Partial<HttpSettings> & ProviderOptions & {
  /** Where `OTEL_*` and `TRACEGATE_*` are read from; default: the runtime's environment. */
  readonly env?: EnvSource;
  readonly serviceName?: string;
  readonly propagators?: readonly PropagatorName[];
  readonly log?: (line: string) => void;
  /** Where access-log lines go (with `accessLog` on). Default: console.log. */
  readonly writeAccessLog?: (line: string) => void;
  /**
   * Keep requests that were not head-sampled when they fail (5xx or a throw) or are slow; default
   * `TRACEGATE_TAIL_ERRORS` (false) and `TRACEGATE_TAIL_SLOWER_THAN_MS` (off).
   */
  readonly tail?: Partial<TailRules>;
};

/** Options of the middleware itself, whichever way its tracing setup comes. */
export interface MiddlewareOptions {
  readonly generateRequestId?: () => string;
  readonly validateRequestId?: (id: string) => boolean;
  /**
   * Register the provider, propagator and an AsyncLocalStorage context manager as the
   * OpenTelemetry globals (each only when none is registered yet). Default true.
   */
  readonly registerGlobals?: boolean;
}

/** Every key a setup is built from: not allowed beside a shared `tracing`. */
type BuildKey =
  | keyof HttpSettings
  | "env"
  | "serviceName"
  | "propagators"
  | "log"
  | "writeAccessLog"
  | "tail"
  | "sampler"
  | "exporter"
  | "tracerProvider";

/**
 * Middleware options: either how to build the tracing setup, or a setup shared with other code
 * (`tracing`, for example one a standalone traced fetch also uses) — not both, since a shared
 * setup is already built and would silently ignore them.
 */
export type TracegateOptions =
  & MiddlewareOptions
  & (
    | (TracingBuildOptions & { readonly tracing?: never })
    | ({ readonly tracing: Tracing } & { readonly [K in BuildKey]?: never })
  );

/**
 * The tracing setup the middleware uses: settings from `env` with the options laid over them.
 * Build it yourself to share it with a standalone `tracedFetch` (and pass it to `tracegate` as `tracing`).
 */
export function tracingFromOptions(options: TracingBuildOptions, env: EnvSource): Tracing {
  const log = options.log ?? console.error;
  const reader = new EnvReader(env);
  const settings = readTracingSettingsWith(reader, {
    serviceName: "unknown_service",
    sampler: "parentbased_always_on",
  });
  const tail = { ...readTailRules(reader, false), ...options.tail };
  logConfigErrors(reader.errors, log);
  const http: HttpSettings = {
    requestIdHeader: options.requestIdHeader ?? settings.http.requestIdHeader,
    baggageAttributes: options.baggageAttributes ?? settings.http.baggageAttributes,
    captureRequestHeaders: options.captureRequestHeaders ?? settings.http.captureRequestHeaders,
    captureResponseHeaders: options.captureResponseHeaders ??
      settings.http.captureResponseHeaders,
    sensitiveQueryParams: options.sensitiveQueryParams ?? settings.http.sensitiveQueryParams,
    trustForwardedHeaders: options.trustForwardedHeaders ?? settings.http.trustForwardedHeaders,
    serverTiming: options.serverTiming ?? settings.http.serverTiming,
    traceResponse: options.traceResponse ?? settings.http.traceResponse,
    debug: options.debug ?? settings.http.debug,
    accessLog: options.accessLog ?? settings.http.accessLog,
  };
  return createTracing({
    ...settings,
    serviceName: options.serviceName ?? settings.serviceName,
    propagators: options.propagators ?? settings.propagators,
    http,
  }, {
    ...providerOptions(options, settings.sampler, tail),
    log,
    writeAccessLog: options.writeAccessLog,
    tail,
  });
}

/** A provider you bring samples by itself; the one built records for the tail rules when on. */
function providerOptions(
  options: ProviderOptions,
  named: SamplerSettings,
  tail: TailRules,
): ProviderOptions {
  if (options.tracerProvider) return { tracerProvider: options.tracerProvider };
  const sampler = tailRulesOn(tail)
    ? new TailRecordingSampler(options.sampler ?? samplerFromSettings(named))
    : options.sampler;
  return { sampler, exporter: options.exporter };
}
