/**
 * Trace and span ids: random bytes from a pooled `crypto.getRandomValues` buffer, spelled in
 * lower-case hex through a table.
 *
 * Instead of the SDK's `RandomIdGenerator` because its Node.js form writes `Math.random()` into a
 * `Buffer` and reads it back with `toString("hex")`, a runtime call per id (Deno's
 * `op_node_encoding_slice`). One `getRandomValues` call fills ids for about 170 spans.
 * tests/unit/ids_test.ts holds the format and the spread.
 */
import type { IdGenerator } from "@opentelemetry/sdk-trace-base";

const POOL_BYTES = 4096;
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

/** '0'-'9', 'a'-'f' by their value. */
const DIGIT = new Uint8Array(16);
for (let value = 0; value < 16; value++) DIGIT[value] = value.toString(16).charCodeAt(0);

export class PooledIdGenerator implements IdGenerator {
  readonly #fill: (bytes: Uint8Array<ArrayBuffer>) => void;
  readonly #pool = new Uint8Array(POOL_BYTES);
  #used = POOL_BYTES;
  /** The character codes of one id, reused: `fromCharCode` makes the string flat in one call. */
  readonly #traceChars: number[] = new Array(2 * TRACE_ID_BYTES).fill(0);
  readonly #spanChars: number[] = new Array(2 * SPAN_ID_BYTES).fill(0);

  /** `fill` writes random bytes over the whole array it is given (tests pass their own). */
  constructor(fill: (bytes: Uint8Array<ArrayBuffer>) => void = (b) => crypto.getRandomValues(b)) {
    this.#fill = fill;
  }

  /** 32 hex digits, never all zero (an all-zero id is invalid). */
  generateTraceId = (): string => this.#next(this.#traceChars);

  /** 16 hex digits, never all zero. */
  generateSpanId = (): string => this.#next(this.#spanChars);

  /** The next unused random bytes, as many as `chars` holds digits, spelled in hex. */
  #next(chars: number[]): string {
    const count = chars.length >> 1;
    if (this.#used + count > POOL_BYTES) {
      this.#fill(this.#pool);
      this.#used = 0;
    }
    const pool = this.#pool;
    const at = this.#used;
    this.#used = at + count;
    let any = 0;
    for (let i = 0; i < count; i++) {
      const byte = pool[at + i];
      any |= byte;
      chars[2 * i] = DIGIT[byte >> 4];
      chars[2 * i + 1] = DIGIT[byte & 15];
    }
    // As the SDK does: an all-zero id gets a last byte of 1 (one chance in 2^64 or 2^128).
    if (any === 0) chars[2 * count - 1] = DIGIT[1];
    return String.fromCharCode.apply(null, chars);
  }
}
