/**
 * Configuration parsing as tables, without servers: each row is an environment, the part of the
 * settings it shapes, and the configuration errors it must (and must only) produce.
 */
import assert from "node:assert/strict";
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from "@opentelemetry/api";
import type { EnvSource } from "../../src/config/env.ts";
import {
  readTracingSettings,
  SAMPLER_NAMES,
  type TracingSettings,
} from "../../src/config/settings.ts";
import { samplerFromSettings, SamplingDecision } from "../../src/sampling.ts";
import { seededRandom } from "../support/seeded_random.ts";

interface Row {
  readonly env: EnvSource;
  readonly read: (settings: TracingSettings) => unknown;
  readonly expected: unknown;
  /** One pattern per configuration error expected, in order. */
  readonly errors?: readonly RegExp[];
}

const DEFAULTS = { serviceName: "default-service", sampler: "parentbased_always_on" } as const;
const otlp = (settings: TracingSettings) => {
  assert.equal(settings.export.kind, "otlp");
  return settings.export as Extract<TracingSettings["export"], { kind: "otlp" }>;
};

const ROWS: Record<string, Row> = {
  "export defaults": {
    env: {},
    read: (s) => s.export,
    expected: {
      kind: "otlp",
      tracesUrl: "http://localhost:4318/v1/traces",
      protocol: "http/protobuf",
      compression: "none",
      headers: {},
      timeoutMs: 10_000,
    },
  },
  "base endpoint gets /v1/traces": {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example:4318/otlp" },
    read: (s) => otlp(s).tracesUrl,
    expected: "https://collector.example:4318/otlp/v1/traces",
  },
  "base endpoint with a trailing slash": {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" },
    read: (s) => otlp(s).tracesUrl,
    expected: "http://127.0.0.1:4318/v1/traces",
  },
  "traces endpoint is used as given and wins": {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9999/custom",
    },
    read: (s) => otlp(s).tracesUrl,
    expected: "http://127.0.0.1:9999/custom",
  },
  "bad endpoint: error, default": {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x" },
    read: (s) => otlp(s).tracesUrl,
    expected: "http://localhost:4318/v1/traces",
    errors: [/^OTEL_EXPORTER_OTLP_ENDPOINT: expected an absolute http/],
  },
  "protocol http/json": {
    env: { OTEL_EXPORTER_OTLP_PROTOCOL: "HTTP/JSON" },
    read: (s) => otlp(s).protocol,
    expected: "http/json",
  },
  "traces protocol wins": {
    env: {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
    },
    read: (s) => otlp(s).protocol,
    expected: "http/protobuf",
  },
  "grpc: a clear error, protobuf over HTTP": {
    env: { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
    read: (s) => otlp(s).protocol,
    expected: "http/protobuf",
    errors: [/^OTEL_EXPORTER_OTLP_PROTOCOL: expected .*over HTTP only, not gRPC.*got "grpc"/],
  },
  "bad traces protocol falls back to the general one": {
    env: {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "thrift",
    },
    read: (s) => otlp(s).protocol,
    expected: "http/json",
    errors: [
      /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected http\/protobuf or http\/json, got "thrift"/,
    ],
  },
  "compression gzip": {
    env: { OTEL_EXPORTER_OTLP_COMPRESSION: "gzip" },
    read: (s) => otlp(s).compression,
    expected: "gzip",
  },
  "traces compression wins": {
    env: {
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "none",
    },
    read: (s) => otlp(s).compression,
    expected: "none",
  },
  "unknown compression: error, none": {
    env: { OTEL_EXPORTER_OTLP_COMPRESSION: "deflate" },
    read: (s) => otlp(s).compression,
    expected: "none",
    errors: [/^OTEL_EXPORTER_OTLP_COMPRESSION: expected one of gzip, none, got "deflate"/],
  },
  "traces timeout wins": {
    env: { OTEL_EXPORTER_OTLP_TIMEOUT: "2000", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "700" },
    read: (s) => otlp(s).timeoutMs,
    expected: 700,
  },
  "bad timeout: error, default": {
    env: { OTEL_EXPORTER_OTLP_TIMEOUT: "1.5s" },
    read: (s) => otlp(s).timeoutMs,
    expected: 10_000,
    errors: [/^OTEL_EXPORTER_OTLP_TIMEOUT: expected a whole number of at least 1, got "1.5s"/],
  },
  "headers percent-decoded, traces headers win": {
    env: {
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%20b,x-tenant=one",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=two",
    },
    read: (s) => otlp(s).headers,
    expected: { "api-key": "a b", "x-tenant": "two" },
  },
  "malformed headers: error, none": {
    env: { OTEL_EXPORTER_OTLP_HEADERS: "novalue" },
    read: (s) => otlp(s).headers,
    expected: {},
    errors: [/^OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated key=value pairs/],
  },
  "exporter none": {
    env: { OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
    read: (s) => s.export,
    expected: { kind: "none" },
  },
  "unknown exporter: error, otlp": {
    env: { OTEL_TRACES_EXPORTER: "zipkin" },
    read: (s) => s.export.kind,
    expected: "otlp",
    errors: [/^OTEL_TRACES_EXPORTER: expected one of otlp, none, got "zipkin"/],
  },
  "queue and shutdown defaults": {
    env: {},
    read: (s) => s.queue,
    expected: {
      maxQueueSize: 8192,
      maxExportBatchSize: 512,
      scheduleDelayMs: 250,
      shutdownTimeoutMs: 3_000,
      exportTimeoutMs: 30_000,
    },
  },
  "shutdown deadline": {
    env: { TRACEGATE_SHUTDOWN_TIMEOUT_MS: "500" },
    read: (s) => s.queue.shutdownTimeoutMs,
    expected: 500,
  },
  "negative shutdown deadline: error, default": {
    env: { TRACEGATE_SHUTDOWN_TIMEOUT_MS: "-1" },
    read: (s) => s.queue.shutdownTimeoutMs,
    expected: 3_000,
    errors: [/^TRACEGATE_SHUTDOWN_TIMEOUT_MS: expected a whole number from 0 to 600000, got "-1"/],
  },
  "service name: the default": {
    env: {},
    read: (s) => s.serviceName,
    expected: "default-service",
  },
  "service name from the resource attributes": {
    env: { OTEL_RESOURCE_ATTRIBUTES: "service.name=from%20resource,team=edge" },
    read: (s) => [s.serviceName, s.resourceAttributes],
    expected: ["from resource", { "service.name": "from resource", team: "edge" }],
  },
  "OTEL_SERVICE_NAME wins over the resource attribute": {
    env: { OTEL_SERVICE_NAME: "named", OTEL_RESOURCE_ATTRIBUTES: "service.name=other" },
    read: (s) => s.serviceName,
    expected: "named",
  },
  "sampler default and its ratio": {
    env: {},
    read: (s) => s.sampler,
    expected: { name: "parentbased_always_on", ratio: 1 },
  },
  "ratio sampler with its argument": {
    env: { OTEL_TRACES_SAMPLER: "ParentBased_TraceIdRatio", OTEL_TRACES_SAMPLER_ARG: "0.25" },
    read: (s) => s.sampler,
    expected: { name: "parentbased_traceidratio", ratio: 0.25 },
  },
  "ratio out of range: error, 1": {
    env: { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1.5" },
    read: (s) => s.sampler,
    expected: { name: "traceidratio", ratio: 1 },
    errors: [/^OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, got "1.5"/],
  },
  "the argument is ignored by samplers without a ratio": {
    env: { OTEL_TRACES_SAMPLER: "always_off", OTEL_TRACES_SAMPLER_ARG: "nonsense" },
    read: (s) => s.sampler,
    expected: { name: "always_off", ratio: 1 },
  },
  "unknown sampler: error, the default": {
    env: { OTEL_TRACES_SAMPLER: "jaeger_remote" },
    read: (s) => s.sampler.name,
    expected: "parentbased_always_on",
    errors: [/^OTEL_TRACES_SAMPLER: expected one of always_on, .*, got "jaeger_remote"/],
  },
  "propagators default": {
    env: {},
    read: (s) => s.propagators,
    expected: ["tracecontext", "baggage"],
  },
  "propagators listed, case-insensitive": {
    env: { OTEL_PROPAGATORS: "B3, tracecontext" },
    read: (s) => s.propagators,
    expected: ["b3", "tracecontext"],
  },
  "unknown propagator: error, the known ones kept": {
    env: { OTEL_PROPAGATORS: "xray,b3multi" },
    read: (s) => s.propagators,
    expected: ["b3multi"],
    errors: [/^OTEL_PROPAGATORS: expected a comma-separated list of .*, got "xray,b3multi"/],
  },
  "HTTP settings: lists split and trimmed (names are normalised when tracing is created)": {
    env: {
      TRACEGATE_REQUEST_ID_HEADER: "X-Correlation-ID",
      TRACEGATE_CAPTURE_REQUEST_HEADERS: "Accept, X-Custom ,",
      TRACEGATE_CAPTURE_RESPONSE_HEADERS: "Content-Type",
      TRACEGATE_TRUST_FORWARDED: "yes",
      TRACEGATE_SERVER_TIMING: "off",
    },
    read: (s) => [
      s.http.requestIdHeader,
      s.http.captureRequestHeaders,
      s.http.captureResponseHeaders,
      s.http.trustForwardedHeaders,
      s.http.serverTiming,
    ],
    expected: ["X-Correlation-ID", ["Accept", "X-Custom"], ["Content-Type"], true, false],
  },
  "bad boolean: error, default": {
    env: { TRACEGATE_TRACERESPONSE: "sometimes" },
    read: (s) => s.http.traceResponse,
    expected: false,
    errors: [/^TRACEGATE_TRACERESPONSE: expected true or false, got "sometimes"/],
  },
  "Workers bindings may hold non-strings": {
    env: { OTEL_BSP_MAX_QUEUE_SIZE: 100, TRACEGATE_SERVER_TIMING: false },
    read: (s) => [s.queue.maxQueueSize, s.http.serverTiming],
    expected: [100, false],
  },
};

for (const [name, row] of Object.entries(ROWS)) {
  Deno.test(`settings: ${name}`, () => {
    const { settings, errors } = readTracingSettings(row.env, DEFAULTS);
    assert.deepStrictEqual(row.read(settings), row.expected);
    const messages = errors.map((error) => error.message);
    assert.equal(messages.length, (row.errors ?? []).length, messages.join("\n"));
    (row.errors ?? []).forEach((pattern, i) => assert.match(messages[i], pattern));
  });
}

// The sampler for each name, judged by what it decides: roots, sampled and unsampled parents.
const random = seededRandom(42);
const traceIds = Array.from(
  { length: 4000 },
  () => Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(random() * 16)]).join(""),
);

function sampledShare(name: typeof SAMPLER_NAMES[number], ratio: number, parentFlags?: number) {
  const sampler = samplerFromSettings({ name, ratio });
  let sampled = 0;
  for (const traceId of traceIds) {
    const context = parentFlags === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: "00f067aa0ba902b7",
      traceFlags: parentFlags,
      isRemote: true,
    });
    const { decision } = sampler.shouldSample(context, traceId, "span", SpanKind.SERVER, {}, []);
    if (decision === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
  }
  return sampled / traceIds.length;
}

const SAMPLER_ROWS: readonly [typeof SAMPLER_NAMES[number], number, number, number, number][] = [
  // name, ratio, share of roots sampled, with a sampled parent, with an unsampled parent
  ["always_on", 0.25, 1, 1, 1],
  ["always_off", 0.25, 0, 0, 0],
  ["traceidratio", 0.25, 0.25, 0.25, 0.25],
  ["traceidratio", 0, 0, 0, 0],
  ["traceidratio", 1, 1, 1, 1],
  ["parentbased_always_on", 0.25, 1, 1, 0],
  ["parentbased_always_off", 0.25, 0, 1, 0],
  ["parentbased_traceidratio", 0.1, 0.1, 1, 0],
  ["parentbased_traceidratio", 0.5, 0.5, 1, 0],
];

for (const [name, ratio, root, sampledParent, unsampledParent] of SAMPLER_ROWS) {
  Deno.test(`samplerFromSettings: ${name} (ratio ${ratio})`, () => {
    // 4000 trace ids: a share within ±0.03 of the ratio is well inside chance (σ ≤ 0.008).
    const near = (actual: number, expected: number, what: string) =>
      assert.ok(Math.abs(actual - expected) <= 0.03, `${what}: ${actual}, expected ${expected}`);
    near(sampledShare(name, ratio), root, "roots");
    near(sampledShare(name, ratio, TraceFlags.SAMPLED), sampledParent, "sampled parents");
    near(sampledShare(name, ratio, TraceFlags.NONE), unsampledParent, "unsampled parents");
  });
}

Deno.test("samplerFromSettings: every name has a sampler", () => {
  for (const name of SAMPLER_NAMES) {
    assert.ok(samplerFromSettings({ name, ratio: 0.5 }).toString().length > 0, name);
  }
});
