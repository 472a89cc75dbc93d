import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { ExportSettings } from "../config/settings.ts";

/**
 * The OTLP/HTTP exporter (JSON). It retries 429/502/503/504 with exponential backoff and honours
 * Retry-After within its timeout, as the OTLP specification asks. Its browser build (picked by
 * wrangler for workerd) sends with `fetch`; on Deno the Node build sends with `node:http`.
 */
export function createSpanExporter(settings: ExportSettings): SpanExporter | undefined {
  if (settings.kind === "none") return undefined;
  return new OTLPTraceExporter({
    url: settings.tracesUrl,
    headers: { ...settings.headers },
    timeoutMillis: settings.timeoutMs,
  });
}
