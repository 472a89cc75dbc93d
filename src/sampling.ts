/** The standard samplers named by `OTEL_TRACES_SAMPLER`. */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type Sampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";
import type { SamplerSettings } from "./config/settings.ts";
import { ConsistentRatioSampler } from "./sampling/consistent_ratio_sampler.ts";
import { ParentBasedSampler } from "./sampling/parent_based_sampler.ts";
import { ParentThresholdSampler } from "./sampling/parent_threshold_sampler.ts";
import { ReasonSampler } from "./sampling/reason.ts";

export { SamplingDecision };
export type { Sampler };

/** Parent-based, passing a sampled caller's probability threshold on (`ot=th:`). */
function parentBased(root: Sampler): Sampler {
  return new ParentBasedSampler({ root, remoteParentSampled: new ParentThresholdSampler() });
}

/** The sampler `OTEL_TRACES_SAMPLER` names, giving the roots it samples their reason. */
export function samplerFromSettings(settings: SamplerSettings): Sampler {
  return new ReasonSampler(standardSampler(settings), settings);
}

function standardSampler({ name, ratio }: SamplerSettings): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new ConsistentRatioSampler(ratio);
    case "parentbased_always_on":
      return parentBased(new AlwaysOnSampler());
    case "parentbased_always_off":
      return parentBased(new AlwaysOffSampler());
    case "parentbased_traceidratio":
      return parentBased(new ConsistentRatioSampler(ratio));
  }
}
