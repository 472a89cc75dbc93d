/**
 * The OTLP/HTTP side of a trace receiver, shared by the viewer and the test receiver: reading a
 * bounded body, turning decode failures into the status OTLP asks for (400, 413, 415) and
 * answering in the request's encoding, as the OTLP/HTTP specification describes.
 */
import { readBounded } from "./content_encoding.ts";
import { decodeTraceExport, type OtlpDecodeLimits, type OtlpFormat } from "./decode.ts";
import {
  OtlpDecodeError,
  OtlpPayloadTooLargeError,
  OtlpUnsupportedMediaTypeError,
} from "./errors.ts";
import type { DecodedSpan } from "./spans.ts";

export const TRACES_PATH = "/v1/traces";

export type ExportOutcome =
  | { readonly accepted: DecodedSpan[] }
  | { readonly refusal: 400 | 413 | 415; readonly message: string };

/** Decodes an export body; a body that is not a valid export becomes the refusal to answer with. */
export async function decodeExportOutcome(
  body: Uint8Array,
  contentType: string | null,
  contentEncoding: string | null,
  limits: OtlpDecodeLimits = {},
): Promise<ExportOutcome> {
  try {
    return { accepted: await decodeTraceExport(body, contentType, contentEncoding, limits) };
  } catch (error) {
    return refusalFor(error);
  }
}

function refusalFor(error: unknown): ExportOutcome {
  if (error instanceof OtlpPayloadTooLargeError) return { refusal: 413, message: error.message };
  if (error instanceof OtlpUnsupportedMediaTypeError) {
    return { refusal: 415, message: error.message };
  }
  if (error instanceof OtlpDecodeError) return { refusal: 400, message: error.message };
  throw error;
}

/**
 * Reads a request body within `maxBytes` (see readBounded); one whose Content-Length is already
 * past the limit is refused unread.
 *
 * @throws OtlpPayloadTooLargeError past the limit.
 */
export async function readBoundedBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await request.body?.cancel();
    throw new OtlpPayloadTooLargeError(maxBytes, "received");
  }
  return request.body ? await readBounded(request.body, maxBytes, "received") : new Uint8Array();
}

/** Reads and decodes an export request, within the limit. */
export async function receiveExport(
  request: Request,
  maxBodyBytes: number,
): Promise<ExportOutcome> {
  let body: Uint8Array;
  try {
    body = await readBoundedBody(request, maxBodyBytes);
  } catch (error) {
    return refusalFor(error);
  }
  return await decodeExportOutcome(
    body,
    request.headers.get("content-type"),
    request.headers.get("content-encoding"),
    { maxBodyBytes },
  );
}

/** Full success: an empty ExportTraceServiceResponse in the request's encoding. */
export function exportSuccessResponse(format: OtlpFormat | undefined): Response {
  return format === "protobuf"
    ? new Response(null, { headers: { "content-type": "application/x-protobuf" } })
    : Response.json({});
}

/**
 * A failure answer. OTLP wants a google.rpc.Status body in the request's encoding; only its
 * `message` (field 2) is set, as the spec lets servers omit `code`. A request in neither encoding
 * gets plain text.
 */
export function exportFailureResponse(
  status: number,
  format: OtlpFormat | undefined,
  message: string,
  extraHeaders: HeadersInit = {},
): Response {
  const headers = new Headers(extraHeaders);
  if (format === undefined) {
    headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(`${message}\n`, { status, headers });
  }
  if (format === "json") {
    headers.set("content-type", "application/json");
    return new Response(JSON.stringify({ message }), { status, headers });
  }
  headers.set("content-type", "application/x-protobuf");
  const text = new TextEncoder().encode(message);
  const STATUS_MESSAGE_TAG = 0x12; // field 2, length-delimited
  return new Response(new Uint8Array([STATUS_MESSAGE_TAG, ...varint(text.length), ...text]), {
    status,
    headers,
  });
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  for (; value >= 0x80; value >>>= 7) bytes.push((value & 0x7f) | 0x80);
  bytes.push(value);
  return bytes;
}
