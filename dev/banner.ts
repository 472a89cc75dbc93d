/** What `deno task dev` prints once everything runs: where each piece is and what to try. */
import { newTraceparent } from "../testing/traceparent.ts";
import type { ConfigError } from "../src/config/env.ts";
import { DEMO_ROUTES, DEMO_SERVICE_NAME } from "./demo.ts";

/** The last line of the banner: everything is listening. */
const READY_LINE = "tracegate dev is ready: each finished trace is printed below. " +
  "Ctrl-C stops everything.";

export interface DevUrls {
  readonly viewer: string;
  readonly proxy: string;
  readonly demo: string;
}

/** `ignored`: collector settings from the environment that were not URLs. */
export function banner(
  urls: DevUrls,
  bindings: Readonly<Record<string, string>>,
  ignored: readonly ConfigError[] = [],
): string {
  const upstream = bindings.TRACEGATE_UPSTREAM ?? `the routes ${bindings.TRACEGATE_ROUTES}`;
  const inFrontOfDemo = upstream === urls.demo;
  const collector = bindings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    bindings.OTEL_EXPORTER_OTLP_ENDPOINT;
  const path = inFrontOfDemo ? "/orders/42" : "/";
  const traceparent = newTraceparent({ sampled: true }).header;
  const forceHeader = bindings.TRACEGATE_FORCE_HEADER ?? "x-tracegate-force";
  const lines = [
    "",
    `  viewer  ${urls.viewer}  traces UI; receives OTLP/HTTP on /v1/traces`,
    `  proxy   ${urls.proxy}  the tracegate Worker in workerd, in front of ${upstream}`,
    `  demo    ${urls.demo}  ${DEMO_SERVICE_NAME}: Hono with the tracegate middleware`,
    "",
    // Said here, not only in a log line above: otherwise the banner names what is not used.
    ...ignored.map((error) => `  ${error.message}: ignored.`),
    `  The proxy and the demo export to ${collector}` +
    (collector === urls.viewer ? "." : ": the viewer and this terminal show none of it."),
    "",
    "  Try (a sampled traceparent; the force header with baggage):",
    `    curl -i -H 'traceparent: ${traceparent}' ${urls.proxy}${path}`,
    `    curl -i -H '${forceHeader}: ${bindings.TRACEGATE_FORCE_TOKEN}' ` +
    `-H 'baggage: user.id=ada' ${urls.proxy}${inFrontOfDemo ? "/whoami" : "/"}`,
    "",
    // In front of another upstream the proxy does not reach these: they are the demo's own.
    inFrontOfDemo
      ? "  Demo routes, through the proxy:"
      : `  Demo routes, at ${urls.demo} directly:`,
    ...Object.entries(DEMO_ROUTES).map(([route, what]) => `    ${route.padEnd(15)} ${what}`),
    "",
    READY_LINE,
  ];
  return lines.join("\n");
}
