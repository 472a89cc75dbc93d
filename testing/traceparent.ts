/** W3C `traceparent` values for test requests: a known trace to look for afterwards. */
import { formatTraceparent, TraceFlagBits } from "../src/propagation/traceparent.ts";
import { hexOfBytes } from "../viewer/otlp/fields.ts";

export interface TestTraceparent {
  /** 32 lowercase hex characters: the trace to wait for. */
  readonly traceId: string;
  /** 16 lowercase hex characters: the caller's span, the parent of the service's first span. */
  readonly parentId: string;
  readonly sampled: boolean;
  /** The header value, e.g. `00-4bf9…4736-00f0…02b7-01`. */
  readonly header: string;
}

export interface TraceparentOptions {
  /** Default true. */
  readonly sampled?: boolean;
  /** Default random. */
  readonly traceId?: string;
  /** Default random. */
  readonly parentId?: string;
}

/**
 * A traceparent with random ids (or the ones given), sampled unless `sampled: false`.
 *
 * @throws RangeError for a given id that is not lowercase hex of the right length, or all zeros.
 */
export function newTraceparent(options: TraceparentOptions = {}): TestTraceparent {
  const { sampled = true, traceId = randomId(16), parentId = randomId(8) } = options;
  const header = formatTraceparent({
    traceId,
    parentId,
    flags: sampled ? TraceFlagBits.SAMPLED : 0,
  });
  return { traceId, parentId, sampled, header };
}

function randomId(bytes: number): string {
  const id = new Uint8Array(bytes);
  // All zeros is not a valid id; at 2^-64 odds or less, draw again.
  while (id.every((byte) => byte === 0)) crypto.getRandomValues(id);
  return hexOfBytes(id);
}
