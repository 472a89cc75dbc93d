/**
 * Each OTLP/HTTP encoding tracegate sends (every protocol with and without compression), as the
 * environment that selects it; a protocol or compression added to the settings is tested with it.
 */
import { OTLP_COMPRESSIONS, OTLP_PROTOCOLS } from "../../src/config/settings.ts";

export const OTLP_ENCODINGS: Readonly<Record<string, Readonly<Record<string, string>>>> = Object
  .fromEntries(
    OTLP_PROTOCOLS.flatMap((protocol) =>
      OTLP_COMPRESSIONS.map((compression) => [
        compression === "none" ? protocol : `${protocol}, ${compression}`,
        {
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_COMPRESSION: compression,
        },
      ])
    ),
  );
