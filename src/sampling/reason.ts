/**
 * Why a request was traced, or why not. Every exported root/server span carries its reason in
 * `tracegate.sampling.reason`; the debug switch logs the same for each request, untraced ones too.
 */
import {
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
  type SpanKind,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { type Sampler, SamplingDecision, type SamplingResult } from "@opentelemetry/sdk-trace-base";
import type { SamplerSettings } from "../config/settings.ts";
import { isValidSpanContext } from "../propagation/valid_span_context.ts";

/** On a local root span that is exported: why (head reasons at start, tail reasons at end). */
export const ATTR_SAMPLING_REASON = "tracegate.sampling.reason";

/** Kept from the start: the caller's sampled flag, the force header, the ratio, always on. */
export type HeadReason = "parent" | "force" | "ratio" | "always_on";
/** Kept at the end though not head-sampled: a tail rule matched. */
export type TailReason = "error" | "upstream_failure" | "slow";
export type SamplingReason = HeadReason | TailReason;

const PARENT_BASED = new Set<SamplerSettings["name"]>([
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
]);

/** The reason a sampler from settings gives the roots it samples. */
function rootReason({ name }: SamplerSettings): HeadReason | undefined {
  if (name.endsWith("traceidratio")) return "ratio";
  return name.endsWith("always_on") ? "always_on" : undefined;
}

/**
 * Adds the reason to what `sampler` (built from `settings`) samples: on spans without a local
 * parent only, since their descendants follow them.
 */
export class ReasonSampler implements Sampler {
  readonly #sampler: Sampler;
  readonly #parentBased: boolean;
  readonly #rootReason: { readonly [ATTR_SAMPLING_REASON]: HeadReason } | undefined;
  readonly #parentReason = Object.freeze({ [ATTR_SAMPLING_REASON]: "parent" } as const);

  constructor(sampler: Sampler, settings: SamplerSettings) {
    this.#sampler = sampler;
    this.#parentBased = PARENT_BASED.has(settings.name);
    const reason = rootReason(settings);
    this.#rootReason = reason && Object.freeze({ [ATTR_SAMPLING_REASON]: reason });
  }

  shouldSample(
    ctx: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const result = this.#sampler.shouldSample(ctx, traceId, name, kind, attributes, links);
    if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) return result;
    const parent = trace.getSpanContext(ctx);
    const validParent = parent !== undefined && isValidSpanContext(parent);
    if (validParent && !parent.isRemote) return result;
    const reason = this.#parentBased && validParent ? this.#parentReason : this.#rootReason;
    if (!reason) return result;
    // Written out rather than spread (every sampled request passes here), and the reason object
    // itself when the sampler gave no attributes: it is frozen, and read only.
    return {
      decision: result.decision,
      traceState: result.traceState,
      attributes: result.attributes ? { ...result.attributes, ...reason } : reason,
    };
  }

  toString(): string {
    return this.#sampler.toString();
  }
}

/** The reason on a span sampled by tracegate's samplers (an SDK span's attributes). */
export function reasonOf(span: object): SamplingReason | undefined {
  const value = (span as { attributes?: Attributes }).attributes?.[ATTR_SAMPLING_REASON];
  return typeof value === "string" ? value as SamplingReason : undefined;
}

/** What the force header said, where there is one (the proxy). */
export type ForceHeader = "absent" | "token mismatch" | "valid" | "no token configured";

/** What a request's decision is explained from. */
export interface DecisionFacts {
  /** The server span's context: sampled or not. */
  readonly span: SpanContext;
  /** The reason on the span, when it was sampled and one is known. */
  readonly reason?: SamplingReason;
  /** The caller's span context, when it sent a valid one. */
  readonly parent?: SpanContext;
  readonly sampler: SamplerSettings;
  readonly force?: ForceHeader;
  readonly ignoredPath?: boolean;
}

/**
 * One line for the debug log: the decision and its reason, e.g. `not traced: no sampled parent;
 * no force header; root sampler off`. Never includes a header's value.
 */
export function describeDecision(facts: DecisionFacts): string {
  if ((facts.span.traceFlags & TraceFlags.SAMPLED) !== 0) {
    return `traced (reason: ${facts.reason ?? "sampler"})`;
  }
  const why: string[] = [];
  if (facts.ignoredPath) {
    why.push("path in TRACEGATE_IGNORE_PATHS");
  } else {
    const { parent, sampler } = facts;
    const parentSampled = parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (parent === undefined) why.push("no sampled parent");
    else if (!parentSampled) why.push("caller's traceparent not sampled");
    if (facts.force === "absent") why.push("no force header");
    else if (facts.force === "token mismatch") why.push("force header present, token mismatch");
    else if (facts.force === "no token configured") {
      why.push("force header present, but no TRACEGATE_FORCE_TOKEN is configured");
    }
    const parentDecides = parent !== undefined && PARENT_BASED.has(sampler.name);
    if (facts.force === "valid" || (parentDecides && parentSampled)) {
      why.push("over TRACEGATE_MAX_TRACES_PER_SECOND");
    } else if (!parentDecides) {
      why.push(
        sampler.name.endsWith("always_off")
          ? "root sampler off"
          : sampler.name.endsWith("traceidratio")
          ? `not in the ratio ${sampler.ratio} (or over TRACEGATE_MAX_TRACES_PER_SECOND)`
          : "over TRACEGATE_MAX_TRACES_PER_SECOND",
      );
    }
  }
  return `not traced: ${why.join("; ")}`;
}
