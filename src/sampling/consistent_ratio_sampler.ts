import { type Context, trace } from "@opentelemetry/api";
import { type Sampler, SamplingDecision, type SamplingResult } from "@opentelemetry/sdk-trace-base";
import { isTraceRandom } from "../propagation/randomness.ts";
import {
  encodeThreshold,
  MAX_THRESHOLD,
  probabilityToThreshold,
  readOtSampling,
  traceIdRandomness,
  withThreshold,
} from "./threshold.ts";

/**
 * `traceidratio` as consistent probability sampling: keeps a trace when its randomness reaches
 * the ratio's rejection threshold, and writes that threshold as `ot=th:` into the tracestate, so
 * services behind agree and backends can compute adjusted counts from exported spans.
 */
export class ConsistentRatioSampler implements Sampler {
  /** Undefined for ratio 0: never sampling is not a probability, and writes no threshold. */
  readonly #threshold: bigint | undefined;
  readonly #ratio: number;

  constructor(ratio: number) {
    this.#ratio = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
    const threshold = this.#ratio > 0 ? probabilityToThreshold(this.#ratio) : MAX_THRESHOLD;
    this.#threshold = threshold < MAX_THRESHOLD ? threshold : undefined;
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const parentState = trace.getSpanContext(ctx)?.traceState;
    const threshold = this.#threshold;
    if (threshold === undefined) {
      return {
        decision: SamplingDecision.NOT_RECORD,
        traceState: withThreshold(parentState, undefined),
      };
    }
    const explicit = readOtSampling(parentState).randomness;
    const randomness = explicit ?? traceIdRandomness(traceId);
    const sampled = randomness >= threshold;
    // The threshold states the probability only if R was random: an explicit `rv`, or a trace id
    // made here or vouched for by the caller's level 2 random flag.
    const known = explicit !== undefined || isTraceRandom(ctx, traceId);
    return {
      decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
      traceState: withThreshold(parentState, sampled && known ? threshold : undefined),
    };
  }

  toString(): string {
    const th = this.#threshold === undefined ? "none" : encodeThreshold(this.#threshold);
    return `ConsistentRatio{${this.#ratio}, th=${th}}`;
  }
}
