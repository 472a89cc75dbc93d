/**
 * Every setting tracegate reads, with its environment variable. The OpenTelemetry SDK variables
 * keep their standard meaning; tracegate's own carry a `TRACEGATE_` prefix.
 */
import type { Attributes } from "@opentelemetry/api";
import { PROPAGATOR_NAMES, type PropagatorName } from "../propagation/mod.ts";
import { type ConfigError, type EnvReader, EnvReader as Reader, type EnvSource } from "./env.ts";

export const SAMPLER_NAMES = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = typeof SAMPLER_NAMES[number];

export interface SamplerSettings {
  readonly name: SamplerName;
  /** For the `traceidratio` samplers: the share of root traces sampled, 0 to 1. */
  readonly ratio: number;
}

export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;
export type OtlpProtocol = typeof OTLP_PROTOCOLS[number];
export const OTLP_COMPRESSIONS = ["gzip", "none"] as const;
export type OtlpCompression = typeof OTLP_COMPRESSIONS[number];

export interface OtlpExportSettings {
  readonly kind: "otlp";
  readonly tracesUrl: string;
  readonly protocol: OtlpProtocol;
  readonly compression: OtlpCompression;
  readonly headers: Readonly<Record<string, string>>;
  /** Per export, retries included. */
  readonly timeoutMs: number;
}

export type ExportSettings = OtlpExportSettings | { readonly kind: "none" };

export interface QueueSettings {
  /** Spans held in memory at most; beyond it spans are dropped and counted. */
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  /** How long a flush waits for more spans to share one export. */
  readonly scheduleDelayMs: number;
  /** How long shutdown may take to send what is left; what is still unsent then is counted. */
  readonly shutdownTimeoutMs: number;
  /** An export (retries included) still going after this long is given up and counted. */
  readonly exportTimeoutMs: number;
}

/** What shapes each traced request, in the middleware and the proxy alike. */
export interface HttpSettings {
  readonly requestIdHeader: string;
  readonly baggageAttributes: readonly string[];
  readonly captureRequestHeaders: readonly string[];
  readonly captureResponseHeaders: readonly string[];
  readonly sensitiveQueryParams: readonly string[];
  readonly trustForwardedHeaders: boolean;
  readonly serverTiming: boolean;
  readonly traceResponse: boolean;
  /** One log line per request saying whether it was traced and why. */
  readonly debug: boolean;
  /** One JSON access-log line per request, with its trace fields. */
  readonly accessLog: boolean;
}

export interface TracingSettings {
  readonly serviceName: string;
  readonly resourceAttributes: Attributes;
  readonly export: ExportSettings;
  readonly queue: QueueSettings;
  readonly sampler: SamplerSettings;
  readonly propagators: readonly PropagatorName[];
  readonly http: HttpSettings;
}

export interface SettingsDefaults {
  readonly serviceName: string;
  readonly sampler: SamplerName;
}

/** The settings and the configuration errors met on the way (each already given a default). */
export interface SettingsResult<T> {
  readonly settings: T;
  readonly errors: readonly ConfigError[];
}

const DEFAULT_OTLP_BASE = "http://localhost:4318";
/** `OTEL_BSP_EXPORT_TIMEOUT`'s default, as the SDK environment specification gives it. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;

export function readTracingSettings(
  env: EnvSource,
  defaults: SettingsDefaults,
): SettingsResult<TracingSettings> {
  const reader = new Reader(env);
  const settings = readTracingSettingsWith(reader, defaults);
  return { settings, errors: reader.errors };
}

export function readTracingSettingsWith(
  reader: EnvReader,
  defaults: SettingsDefaults,
): TracingSettings {
  const resourceAttributes = readResourceAttributes(reader);
  const serviceName = reader.string("OTEL_SERVICE_NAME") ??
    stringAttribute(resourceAttributes["service.name"]) ?? defaults.serviceName;
  return {
    serviceName,
    resourceAttributes,
    export: readExport(reader),
    queue: {
      // Four times the SDK's 2048: a saturated edge instance ends thousands of spans per second
      // while one export is in flight, and a full queue loses them (issue 8 measured 56 % lost on
      // workerd at 2048). At an estimated 1–2 KiB per ended span that is 8–16 MiB at most.
      maxQueueSize: reader.integer("OTEL_BSP_MAX_QUEUE_SIZE", 8192, { min: 1, max: 1_000_000 }),
      maxExportBatchSize: reader.integer("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, {
        min: 1,
        max: 1_000_000,
      }),
      // The SDK's 5 s default suits long-lived servers; at the edge the isolate may go idle soon
      // after the response, so spans leave after a short gathering window instead.
      scheduleDelayMs: reader.integer("OTEL_BSP_SCHEDULE_DELAY", 250, { min: 0, max: 60_000 }),
      // Well inside the usual grace periods (Kubernetes and systemd give 30 s, Deno Deploy less).
      shutdownTimeoutMs: reader.integer("TRACEGATE_SHUTDOWN_TIMEOUT_MS", 3_000, {
        min: 0,
        max: 600_000,
      }),
      exportTimeoutMs: reader.integer("OTEL_BSP_EXPORT_TIMEOUT", DEFAULT_EXPORT_TIMEOUT_MS, {
        min: 1,
        max: 600_000,
      }),
    },
    sampler: readSampler(reader, defaults.sampler),
    propagators: readPropagators(reader),
    http: {
      requestIdHeader: reader.string("TRACEGATE_REQUEST_ID_HEADER") ?? "x-request-id",
      baggageAttributes: reader.list("TRACEGATE_BAGGAGE_ATTRIBUTES"),
      captureRequestHeaders: reader.list("TRACEGATE_CAPTURE_REQUEST_HEADERS"),
      captureResponseHeaders: reader.list("TRACEGATE_CAPTURE_RESPONSE_HEADERS"),
      sensitiveQueryParams: reader.list("TRACEGATE_SENSITIVE_QUERY_PARAMS"),
      trustForwardedHeaders: reader.boolean("TRACEGATE_TRUST_FORWARDED", false),
      serverTiming: reader.boolean("TRACEGATE_SERVER_TIMING", true),
      traceResponse: reader.boolean("TRACEGATE_TRACERESPONSE", false),
      debug: reader.boolean("TRACEGATE_DEBUG", false),
      accessLog: reader.boolean("TRACEGATE_ACCESS_LOG", false),
    },
  };
}

function stringAttribute(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, values percent-encoded (W3C Baggage octets). */
function readResourceAttributes(reader: EnvReader): Attributes {
  return reader.keyValues("OTEL_RESOURCE_ATTRIBUTES");
}

function readExport(reader: EnvReader): ExportSettings {
  const exporter = reader.oneOf("OTEL_TRACES_EXPORTER", ["otlp", "none"] as const, "otlp");
  if (exporter === "none") return { kind: "none" };
  const tracesUrl = reader.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?.href ??
    signalUrl(reader.url("OTEL_EXPORTER_OTLP_ENDPOINT")?.href ?? DEFAULT_OTLP_BASE);
  return {
    kind: "otlp",
    tracesUrl,
    protocol: readProtocol(reader),
    compression: reader.oneOf(
      "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
      OTLP_COMPRESSIONS,
      reader.oneOf("OTEL_EXPORTER_OTLP_COMPRESSION", OTLP_COMPRESSIONS, "none"),
    ),
    headers: {
      ...reader.keyValues("OTEL_EXPORTER_OTLP_HEADERS", { secret: true }),
      ...reader.keyValues("OTEL_EXPORTER_OTLP_TRACES_HEADERS", { secret: true }),
    },
    timeoutMs: reader.integer(
      "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
      reader.integer("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000, { min: 1 }),
      { min: 1 },
    ),
  };
}

/**
 * `http/protobuf` (the specification's default) or `http/json`; the `TRACES_` variable wins.
 * gRPC is not offered (no runtime-neutral HTTP/2 client at the edge): it is refused clearly.
 */
function readProtocol(reader: EnvReader): OtlpProtocol {
  const read = (name: string, fallback: OtlpProtocol): OtlpProtocol => {
    const value = reader.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return value as OtlpProtocol;
    reader.fail(
      name,
      value === "grpc"
        ? "http/protobuf or http/json (tracegate exports over HTTP only, not gRPC)"
        : "http/protobuf or http/json",
      value,
    );
    return fallback;
  };
  return read(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    read("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
  );
}

/** The base endpoint gets `v1/traces` appended, per the OTLP exporter specification. */
function signalUrl(base: string): string {
  return `${base.endsWith("/") ? base : `${base}/`}v1/traces`;
}

function readSampler(reader: EnvReader, fallback: SamplerName): SamplerSettings {
  const name = reader.oneOf("OTEL_TRACES_SAMPLER", SAMPLER_NAMES, fallback);
  const ratio = name.endsWith("traceidratio")
    ? reader.number("OTEL_TRACES_SAMPLER_ARG", 1, { min: 0, max: 1 })
    : 1;
  return { name, ratio };
}

function readPropagators(reader: EnvReader): PropagatorName[] {
  const names = reader.list("OTEL_PROPAGATORS").map((name) => name.toLowerCase());
  if (names.length === 0) return ["tracecontext", "baggage"];
  const known = names.filter((name): name is PropagatorName =>
    (PROPAGATOR_NAMES as readonly string[]).includes(name)
  );
  if (known.length !== names.length) {
    reader.fail(
      "OTEL_PROPAGATORS",
      `a comma-separated list of ${PROPAGATOR_NAMES.join(", ")}`,
      names.join(","),
    );
    return known.length > 0 ? known : ["tracecontext", "baggage"];
  }
  return names as PropagatorName[];
}
