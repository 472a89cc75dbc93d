/** What `deno task dev` reads from the environment, and the proxy's vars it derives. */
import { type ConfigError, EnvReader } from "../src/config/env.ts";

export interface DevPorts {
  readonly viewer: number;
  readonly proxy: number;
  readonly demo: number;
}

/** Ports on 127.0.0.1; 0 picks a free one. */
export function readDevPorts(env: Record<string, string>): {
  ports: DevPorts;
  errors: readonly ConfigError[];
} {
  const reader = new EnvReader(env);
  const port = (name: string, fallback: number) =>
    reader.integer(name, fallback, { min: 0, max: 65535 });
  const ports = {
    viewer: port("TRACEGATE_DEV_VIEWER_PORT", 4318),
    proxy: port("TRACEGATE_DEV_PROXY_PORT", 8787),
    demo: port("TRACEGATE_DEV_DEMO_PORT", 8788),
  };
  return { ports, errors: reader.errors };
}

export const DEV_FORCE_TOKEN = "dev-token";

/** In `task dev` every request says whether it was traced and why, and leaves an access-log line. */
export const DEV_LOGGING: Readonly<Record<string, string>> = {
  TRACEGATE_DEBUG: "true",
  TRACEGATE_ACCESS_LOG: "true",
};

const COLLECTOR_VARIABLES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
] as const;

/** The collector endpoints the environment sets that are not URLs: ignored, the viewer is used. */
export function invalidCollectorSettings(env: Record<string, string>): readonly ConfigError[] {
  const reader = new EnvReader(env);
  for (const name of COLLECTOR_VARIABLES) reader.url(name);
  return reader.errors;
}

/** The environment names a valid collector of its own: spans go there, not to the local viewer. */
export function hasOwnCollector(env: Record<string, string>): boolean {
  const reader = new EnvReader(env);
  return COLLECTOR_VARIABLES.some((name) => reader.url(name) !== undefined);
}

/**
 * The proxy's vars, as `wrangler dev` would bind them: wrangler.toml's `[vars]`, overridden by the
 * `OTEL_*` and `TRACEGATE_*` variables of the environment. What the environment leaves unset points
 * at the local pieces: the demo as upstream, the viewer as collector, and a known force token.
 */
export function proxyBindings(
  vars: Readonly<Record<string, string>>,
  env: Record<string, string>,
  local: { readonly upstream: string; readonly collector: string },
): Record<string, string> {
  const invalid = new Set(invalidCollectorSettings(env).map((error) => error.variable));
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter(([name]) =>
      /^(OTEL|TRACEGATE)_/.test(name) && !name.startsWith("TRACEGATE_DEV_") && !invalid.has(name)
    ),
  );
  const bindings: Record<string, string> = {
    ...vars,
    ...DEV_LOGGING,
    TRACEGATE_FORCE_TOKEN: DEV_FORCE_TOKEN,
  };
  if (env.TRACEGATE_ROUTES) {
    delete bindings.TRACEGATE_UPSTREAM; // exactly one of the two may be set
  } else {
    bindings.TRACEGATE_UPSTREAM = local.upstream;
  }
  if (!hasOwnCollector(env)) bindings.OTEL_EXPORTER_OTLP_ENDPOINT = local.collector;
  return { ...bindings, ...fromEnv };
}
