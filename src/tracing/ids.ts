/**
 * Trace and span ids: random bytes from a pooled `crypto.getRandomValues` buffer, spelled in
 * lower-case hex through a table.
 *
 * Instead of the SDK's `RandomIdGenerator` because its Node.js form writes `Math.random()` into a
 * `Buffer` and reads it back with `toString("hex")`, a runtime call per id (Deno's
 * `op_node_encoding_slice`) that cost three times what this does. One `getRandomValues` call
 * fills ids for about 170 spans. tests/unit/ids_test.ts holds the format and the spread.
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

  /** `fill` writes random bytes over the whole array it is given (tests pass their own). */
  constructor(fill: (bytes: Uint8Array<ArrayBuffer>) => void = (b) => crypto.getRandomValues(b)) {
    this.#fill = fill;
  }

  /** 32 hex digits, never all zero (an all-zero id is invalid). */
  generateTraceId = (): string => {
    const at = this.#take(TRACE_ID_BYTES);
    return this.#hex(at) + this.#hex(at + 8);
  };

  /** 16 hex digits, never all zero. */
  generateSpanId = (): string => this.#hex(this.#take(SPAN_ID_BYTES));

  /** Where `count` unused random bytes start, none of the ids they spell all zero. */
  #take(count: number): number {
    if (this.#used + count > POOL_BYTES) {
      this.#fill(this.#pool);
      this.#used = 0;
    }
    const at = this.#used;
    this.#used = at + count;
    const pool = this.#pool;
    let any = 0;
    for (let i = at; i < at + count; i++) any |= pool[i];
    // As the SDK does: an all-zero id gets a last byte of 1 (one chance in 2^64 or 2^128).
    if (any === 0) pool[at + count - 1] = 1;
    return at;
  }

  /** The eight bytes at `at` as 16 hex digits: one flat string, made in one call. */
  #hex(at: number): string {
    const p = this.#pool;
    const b0 = p[at], b1 = p[at + 1], b2 = p[at + 2], b3 = p[at + 3];
    const b4 = p[at + 4], b5 = p[at + 5], b6 = p[at + 6], b7 = p[at + 7];
    return String.fromCharCode(
      DIGIT[b0 >> 4],
      DIGIT[b0 & 15],
      DIGIT[b1 >> 4],
      DIGIT[b1 & 15],
      DIGIT[b2 >> 4],
      DIGIT[b2 & 15],
      DIGIT[b3 >> 4],
      DIGIT[b3 & 15],
      DIGIT[b4 >> 4],
      DIGIT[b4 & 15],
      DIGIT[b5 >> 4],
      DIGIT[b5 & 15],
      DIGIT[b6 >> 4],
      DIGIT[b6 & 15],
      DIGIT[b7 >> 4],
      DIGIT[b7 & 15],
    );
  }
}
