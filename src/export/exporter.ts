import type { ExportSettings } from "../config/settings.ts";
import { OtlpHttpExporter } from "./otlp_http_exporter.ts";

/** The exporter `OTEL_TRACES_EXPORTER` and `OTEL_EXPORTER_OTLP_*` ask for, if any. */
export function createSpanExporter(settings: ExportSettings): OtlpHttpExporter | undefined {
  return settings.kind === "none" ? undefined : new OtlpHttpExporter(settings);
}
