/** The proxy's settings: where to forward, how to sample, plus the shared tracing settings. */
import { type ConfigError, EnvReader, type EnvSource } from "../src/config/env.ts";
import { readTracingSettingsWith, type TracingSettings } from "../src/config/settings.ts";
import { readTailRules, type TailRules } from "../src/sampling/tail.ts";
import type { InboundContextMode } from "../src/tracing/server.ts";
import { parseRoutes, type RouteTable } from "./routes.ts";

export interface ProxySettings {
  readonly routes: RouteTable;
  readonly upstreamTimeoutMs: number;
  readonly inbound: InboundContextMode;
  readonly forceHeader: string;
  /** Unset: the force header is ignored (and still stripped). */
  readonly forceToken: string | undefined;
  readonly ignorePaths: readonly string[];
  readonly maxTracesPerSecond: number | undefined;
  readonly tail: TailRules;
}

export interface ProxyConfig {
  readonly tracing: TracingSettings;
  /** Undefined while misconfigured: nothing can be forwarded. */
  readonly proxy: ProxySettings | undefined;
  /** Errors that fell back to a default. */
  readonly warnings: readonly ConfigError[];
  /** Errors that leave the proxy unable to forward (a generic 500 to every request). */
  readonly fatal: readonly ConfigError[];
}

const FATAL = new Set(["TRACEGATE_UPSTREAM", "TRACEGATE_ROUTES"]);

export function readProxyConfig(env: EnvSource): ProxyConfig {
  const reader = new EnvReader(env);
  const shared = readTracingSettingsWith(reader, {
    serviceName: "tracegate-proxy",
    sampler: "parentbased_always_off",
  });
  const forceHeader = (reader.string("TRACEGATE_FORCE_HEADER") ?? "x-tracegate-force")
    .toLowerCase();
  // The force header holds a token: never recorded, whatever its name and the capture list say.
  const tracing: TracingSettings = {
    ...shared,
    http: {
      ...shared.http,
      captureRequestHeaders: shared.http.captureRequestHeaders.filter((name) =>
        name.trim().toLowerCase() !== forceHeader
      ),
    },
  };
  const routes = parseRoutes(reader);
  const maxTraces = reader.number("TRACEGATE_MAX_TRACES_PER_SECOND", 0, { min: 0 });
  const settings: Omit<ProxySettings, "routes"> = {
    upstreamTimeoutMs: reader.integer("TRACEGATE_UPSTREAM_TIMEOUT_MS", 30_000, {
      min: 1,
      max: 3_600_000,
    }),
    inbound: reader.oneOf(
      "TRACEGATE_INBOUND_CONTEXT",
      ["continue", "link", "ignore"] as const,
      "continue",
    ),
    forceHeader,
    forceToken: reader.string("TRACEGATE_FORCE_TOKEN"),
    ignorePaths: reader.list("TRACEGATE_IGNORE_PATHS"),
    maxTracesPerSecond: maxTraces > 0 ? maxTraces : undefined,
    tail: readTailRules(reader, true),
  };
  const fatal = reader.errors.filter((error) => FATAL.has(error.variable));
  const warnings = reader.errors.filter((error) => !FATAL.has(error.variable));
  return {
    tracing,
    proxy: routes && fatal.length === 0 ? { ...settings, routes } : undefined,
    warnings,
    fatal,
  };
}
