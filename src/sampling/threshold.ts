/**
 * Consistent probability sampling as the OpenTelemetry "TraceState: Probability Sampling"
 * specification defines it: a 56-bit randomness value R (the `ot=rv:` sub-key, else the trace
 * id's last 56 bits) is kept when R >= the rejection threshold T, and T travels as `ot=th:`.
 *
 * Hand-written rather than taken from `@opentelemetry/sampler-composite` (0.x, experimental): that
 * package writes thresholds at full 56-bit precision instead of the 4 digits the specification
 * recommends, cannot tell whether a caller's trace id is random, and would bring a second
 * `@opentelemetry/core` into the Worker bundle. tests/unit/consistent_sampling_test.ts checks it
 * against the specification's own table.
 */
import type { TraceState } from "@opentelemetry/api";
import { W3CTraceState } from "../propagation/tracestate.ts";

/** 2^56: one more than the largest randomness value; the threshold that rejects everything. */
export const MAX_THRESHOLD: bigint = 1n << 56n;
const DIGITS = 14;
const OT_KEY = "ot";
const HEX = /^[0-9a-f]{1,14}$/;

/**
 * The rejection threshold for sampling `probability` (2^-56 to 1), rounded to `precision`
 * significant hex digits (the specification recommends 4), more for probabilities near zero.
 */
export function probabilityToThreshold(probability: number, precision = 4): bigint {
  if (probability >= 1) return 0n;
  // As the specification's algorithm: one more digit per leading `f` of the threshold.
  const exponent = Math.floor(Math.log2(probability)) + 1; // frexp's exponent
  const digits = Math.max(1, Math.min(12, precision + Math.floor(exponent / -4)));
  const scale = 16 ** digits;
  const rounded = Math.min(Math.floor((1 - probability) * scale + 0.5), scale - 1);
  return BigInt(rounded) << BigInt(4 * (DIGITS - digits));
}

/** The share of traces a threshold keeps. */
export function thresholdToProbability(threshold: bigint): number {
  return Number(MAX_THRESHOLD - threshold) / Number(MAX_THRESHOLD);
}

/** The `th` value: 14 hex digits with trailing zeros removed, `0` for keep-all. */
export function encodeThreshold(threshold: bigint): string {
  if (threshold === 0n) return "0";
  return threshold.toString(16).padStart(DIGITS, "0").replace(/0+$/, "");
}

/** What the `ot` tracestate entry says about sampling; invalid values count as absent. */
export interface OtSampling {
  readonly threshold?: bigint;
  readonly randomness?: bigint;
}

export function readOtSampling(traceState: TraceState | undefined): OtSampling {
  let threshold: bigint | undefined;
  let randomness: bigint | undefined;
  for (const member of traceState?.get(OT_KEY)?.split(";") ?? []) {
    const value = member.slice(3);
    if (member.startsWith("th:") && HEX.test(value)) {
      threshold = BigInt(`0x${value.padEnd(DIGITS, "0")}`);
    } else if (member.startsWith("rv:") && value.length === DIGITS && HEX.test(value)) {
      randomness = BigInt(`0x${value}`);
    }
  }
  return { threshold, randomness };
}

/** R for a trace: the explicit `rv`, else the trace id's least significant 56 bits. */
export function randomnessOf(traceId: string, traceState: TraceState | undefined): bigint {
  return readOtSampling(traceState).randomness ?? traceIdRandomness(traceId);
}

/** The trace id's least significant 56 bits (random when the level 2 random flag says so). */
export function traceIdRandomness(traceId: string): bigint {
  return BigInt(`0x${traceId.slice(-DIGITS)}`);
}

/**
 * `traceState` with the `ot` entry's `th` set to `threshold`, or removed when undefined; the
 * entry's other sub-keys are kept, and an entry left empty is removed.
 */
export function withThreshold(
  traceState: TraceState | undefined,
  threshold: bigint | undefined,
): TraceState | undefined {
  const others = (traceState?.get(OT_KEY)?.split(";") ?? []).filter((member) =>
    member !== "" && !member.startsWith("th:")
  );
  const members = threshold === undefined
    ? others
    : [`th:${encodeThreshold(threshold)}`, ...others];
  if (members.length === 0) {
    return traceState?.get(OT_KEY) === undefined ? traceState : traceState?.unset(OT_KEY);
  }
  return (traceState ?? W3CTraceState.EMPTY).set(OT_KEY, members.join(";"));
}
