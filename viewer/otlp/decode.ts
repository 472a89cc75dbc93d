/**
 * Decodes OTLP/HTTP trace exports (`ExportTraceServiceRequest`, as sent to `POST /v1/traces`) into a
 * flat, normalized list of spans.
 *
 * Both OTLP/HTTP encodings are supported: binary protobuf (`application/x-protobuf`) and OTLP/JSON
 * (`application/json`), optionally gzip-compressed. Runtime-neutral: Web APIs only.
 *
 * Spec: opentelemetry-proto `docs/specification.md` (OTLP/HTTP) and the trace/common/resource protos.
 */
import { decodeContent } from "./content_encoding.ts";
import { countJsonSpans, decodeJsonExport } from "./decode_json.ts";
import { countProtobufSpans, decodeProtobufExport } from "./decode_protobuf.ts";
import { OtlpPayloadTooLargeError, OtlpUnsupportedMediaTypeError } from "./errors.ts";
import type { DecodedSpan } from "./spans.ts";

/** The two OTLP/HTTP payload encodings. */
export type OtlpFormat = "json" | "protobuf";

export interface OtlpDecodeLimits {
  /** Largest body accepted, both as received and after decompression. */
  readonly maxBodyBytes?: number;
}

/** The OTLP spec recommends 20 MiB as a receiver's default body limit. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;

/** The encoding named by a Content-Type header, or undefined when OTLP/HTTP does not use it. */
export function parseOtlpContentType(
  contentType: string | null | undefined,
): OtlpFormat | undefined {
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType === "application/json") return "json";
  if (mediaType === "application/x-protobuf") return "protobuf";
  return undefined;
}

/**
 * Decodes an OTLP/HTTP trace export body.
 *
 * @throws OtlpPayloadTooLargeError when the body, or its decompressed form, exceeds the limit.
 * @throws OtlpDecodeError (or its OtlpUnsupportedMediaTypeError subclass) for anything else that
 *   is not a valid export; never another error type.
 */
export async function decodeTraceExport(
  body: Uint8Array,
  contentType: string | null | undefined,
  contentEncoding?: string | null,
  limits: OtlpDecodeLimits = {},
): Promise<DecodedSpan[]> {
  const { format, payload } = await payloadOf(body, contentType, contentEncoding, limits);
  return format === "json" ? decodeJsonExport(payload) : decodeProtobufExport(payload);
}

/**
 * How many spans an OTLP/HTTP trace export body holds, each checked to carry a trace id and a span
 * id, without building them: for a receiver that only counts (the benchmarks' sink shares the
 * machine with what it measures, and building every span cost it ~24 µs of CPU a span). Throws
 * as `decodeTraceExport` does for a body whose structure down to the spans is broken; what lies
 * inside a span beyond its ids is skipped, not checked.
 */
export async function countTraceSpans(
  body: Uint8Array,
  contentType: string | null | undefined,
  contentEncoding?: string | null,
  limits: OtlpDecodeLimits = {},
): Promise<number> {
  const { format, payload } = await payloadOf(body, contentType, contentEncoding, limits);
  return format === "json" ? countJsonSpans(payload) : countProtobufSpans(payload);
}

/** The body's encoding and its bytes with the Content-Encoding undone, within the size limit. */
async function payloadOf(
  body: Uint8Array,
  contentType: string | null | undefined,
  contentEncoding: string | null | undefined,
  limits: OtlpDecodeLimits,
): Promise<{ format: OtlpFormat; payload: Uint8Array }> {
  const maxBytes = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const format = parseOtlpContentType(contentType);
  if (format === undefined) {
    throw new OtlpUnsupportedMediaTypeError(
      `unsupported Content-Type ${JSON.stringify(contentType ?? "")}: ` +
        `expected application/json or application/x-protobuf`,
    );
  }
  if (body.byteLength > maxBytes) throw new OtlpPayloadTooLargeError(maxBytes, "received");
  return { format, payload: await decodeContent(body, contentEncoding, maxBytes) };
}
