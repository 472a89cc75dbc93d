/** Each OTLP/HTTP encoding tracegate sends, as the environment that selects it. */
export const OTLP_ENCODINGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "http/json": { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
};
