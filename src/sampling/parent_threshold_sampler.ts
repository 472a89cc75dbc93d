import { type Context, trace } from "@opentelemetry/api";
import { type Sampler, SamplingDecision, type SamplingResult } from "@opentelemetry/sdk-trace-base";
import { randomnessOf, readOtSampling, withThreshold } from "./threshold.ts";

/**
 * For a sampled remote parent in parent-based mode: samples, and passes the caller's `ot=th:`
 * on unchanged unless it is evidently inconsistent (the trace's randomness below it), in which
 * case it is erased, as the probability-sampling specification asks.
 */
export class ParentThresholdSampler implements Sampler {
  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const traceState = trace.getSpanContext(ctx)?.traceState;
    const { threshold } = readOtSampling(traceState);
    const consistent = threshold === undefined || randomnessOf(traceId, traceState) >= threshold;
    return {
      decision: SamplingDecision.RECORD_AND_SAMPLED,
      traceState: consistent ? traceState : withThreshold(traceState, undefined),
    };
  }

  toString(): string {
    return "ParentThreshold";
  }
}
