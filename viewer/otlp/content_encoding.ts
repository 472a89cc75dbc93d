/** Undoing an OTLP/HTTP body's Content-Encoding (gzip or none) within a size limit. */
import {
  OtlpDecodeError,
  OtlpPayloadTooLargeError,
  OtlpUnsupportedMediaTypeError,
} from "./errors.ts";
import { errorMessage } from "./fields.ts";

export async function decodeContent(
  body: Uint8Array,
  contentEncoding: string | null | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return body;
  if (encoding === "gzip") return await gunzip(body, maxBytes);
  throw new OtlpUnsupportedMediaTypeError(
    `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}: expected gzip or none`,
  );
}

async function gunzip(body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const compressed = new ReadableStream<BufferSource>({
    start(controller) {
      controller.enqueue(unsharedBytes(body));
      controller.close();
    },
  });
  try {
    return await readBounded(
      compressed.pipeThrough(new DecompressionStream("gzip")),
      maxBytes,
      "decompressed",
    );
  } catch (error) {
    if (error instanceof OtlpPayloadTooLargeError) throw error;
    throw new OtlpDecodeError(`gzip body could not be decompressed: ${errorMessage(error)}`);
  }
}

/**
 * Reads `stream` to the end, giving up (and cancelling it) as soon as it exceeds `maxBytes`, so
 * an oversized body is never held whole.
 *
 * @throws OtlpPayloadTooLargeError past the limit, naming `stage`; a failed read as it failed.
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  stage: OtlpPayloadTooLargeError["stage"],
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    total += chunk.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new OtlpPayloadTooLargeError(maxBytes, stage);
    }
    chunks.push(chunk.value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Compression streams take no views of a SharedArrayBuffer; such a body is copied. */
function unsharedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}
