/**
 * Large bodies for tests without holding them in memory: deterministic pseudo-random bytes
 * generated chunk by chunk as they are read, and SHA-256 computed incrementally as they stream (or
 * over chunks already held).
 */
import { createHash } from "node:crypto";

const CHUNK_BYTES = 64 * 1024;

/**
 * `total` bytes from a xorshift32 generator seeded with `seed`, made one 64 KiB chunk per read:
 * the same seed and length always give the same bytes, and reordered or repeated chunks change
 * the hash (unlike a constant fill).
 */
export function patternStream(total: number, seed = 1): ReadableStream<Uint8Array<ArrayBuffer>> {
  let state = seed >>> 0 || 1;
  let produced = 0;
  return new ReadableStream({
    pull(controller) {
      const size = Math.min(CHUNK_BYTES, total - produced);
      if (size <= 0) {
        controller.close();
        return;
      }
      const words = new Uint32Array(Math.ceil(size / 4));
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state;
      }
      produced += size;
      controller.enqueue(new Uint8Array(words.buffer, 0, size));
    },
  }, { highWaterMark: 0 });
}

export interface StreamDigest {
  readonly bytes: number;
  /** Lower-case hex. */
  readonly sha256: string;
}

/** SHA-256 (lower-case hex) of `chunks` one after the other. */
export function sha256Of(chunks: Iterable<Uint8Array>): string {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
}

/** Reads `stream` to the end, hashing each chunk as it arrives. */
export async function digestStream(stream: ReadableStream<Uint8Array>): Promise<StreamDigest> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest("hex") };
}

/**
 * `source` handed on one chunk per `gapMs`: a slow sender, for uploads that must take longer than
 * a timeout while never pausing near it.
 */
export function throttled(
  source: ReadableStream<Uint8Array>,
  gapMs: number,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
