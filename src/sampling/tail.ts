/**
 * Tail sampling: a request that was not head-sampled is recorded (not exported) while it runs,
 * and kept at its end when it failed or was slow. This module owns the rules, the decision at the
 * response and at the body's end, and the contract with the export queue: a record-only span
 * waits until its local root decides, and the root's decision is the reason it carries.
 */
import { type Context, type Span, trace, TraceFlags } from "@opentelemetry/api";
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
} from "@opentelemetry/sdk-trace-base";
import type { EnvReader } from "../config/env.ts";
import type { BodyOutcome } from "../http/body_end.ts";
import { isValidSpanContext } from "../propagation/valid_span_context.ts";
import { DeferredSpan } from "../tracing/deferred_span.ts";
import { ATTR_SAMPLING_REASON, type TailReason } from "./reason.ts";

export interface TailRules {
  /** Keep requests that end in 5xx, an upstream failure or an exception. */
  readonly errors: boolean;
  /** Keep requests slower than this; undefined for no slowness rule. */
  readonly slowerThanMs?: number;
}

export const NO_TAIL_RULES: TailRules = { errors: false };

/** Whether any rule may keep a request, so unsampled requests must be recorded. */
export function tailRulesOn(rules: TailRules): boolean {
  return rules.errors || rules.slowerThanMs !== undefined;
}

/** `TRACEGATE_TAIL_ERRORS` and `TRACEGATE_TAIL_SLOWER_THAN_MS` (0 for off). */
export function readTailRules(reader: EnvReader, errorsByDefault: boolean): TailRules {
  const slower = reader.integer("TRACEGATE_TAIL_SLOWER_THAN_MS", 0, { min: 0 });
  return {
    errors: reader.boolean("TRACEGATE_TAIL_ERRORS", errorsByDefault),
    slowerThanMs: slower > 0 ? slower : undefined,
  };
}

/** What the response shows of how a request went. */
export interface ResponseOutcome {
  readonly status: number;
  readonly threw: boolean;
  /** The proxy's upstream gave no response. */
  readonly upstreamFailed?: boolean;
}

/** Why a request that was not head-sampled is kept anyway; undefined when it is not. */
export function tailReason(
  rules: TailRules,
  outcome: ResponseOutcome & { readonly durationMs: number },
): TailReason | undefined {
  if (rules.errors) {
    if (outcome.upstreamFailed) return "upstream_failure";
    if (outcome.threw || outcome.status >= 500) return "error";
  }
  if (rules.slowerThanMs !== undefined && outcome.durationMs > rules.slowerThanMs) return "slow";
  return undefined;
}

/** Whether a rule may still keep the request once its body ends: only the end tells slowness. */
export function mayKeep(rules: TailRules, outcome: ResponseOutcome): boolean {
  return rules.slowerThanMs !== undefined ||
    tailReason(rules, { ...outcome, durationMs: 0 }) !== undefined;
}

/**
 * How a server span ends. `now`: nothing of it will be exported (untraced, or recorded for a
 * tail rule the response already rules out), so it ends at once and nothing waits for the body.
 * `withBody`: it ends when the body has streamed, and `reasonAt` (for a record-only span) tells
 * then whether a rule keeps it.
 */
export type SpanEnding =
  | { readonly kind: "now" }
  | {
    readonly kind: "withBody";
    readonly reasonAt?: (body: BodyOutcome) => TailReason | undefined;
  };

/** Shared: every span that ends at once ends the same way (one object fewer per request). */
const NOW: SpanEnding = Object.freeze({ kind: "now" });
const WITH_BODY: SpanEnding = Object.freeze({ kind: "withBody" });

/** How a server span ends, given the response and the rules. */
export function endingFor(
  { span, startedAt }: { readonly span: Span; readonly startedAt: number },
  rules: TailRules,
  outcome: ResponseOutcome,
): SpanEnding {
  if (!span.isRecording()) return NOW;
  const sampled = (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
  // Recorded by a sampler of the user's, not for a rule: it ends as a sampled span does.
  if (sampled || !tailRulesOn(rules)) return WITH_BODY;
  if (!mayKeep(rules, outcome)) return NOW;
  return {
    kind: "withBody",
    reasonAt: (body) =>
      tailReason(rules, {
        ...outcome,
        threw: outcome.threw || body.kind === "error",
        durationMs: Date.now() - startedAt,
      }),
  };
}

/**
 * Where a span under a span of this process stands: it follows that span (sampled, record-only
 * or neither). Undefined when the span has no local parent.
 */
export function followLocalParent(ctx: Context): SamplingResult | undefined {
  const parent = trace.getSpan(ctx);
  const parentContext = parent?.spanContext();
  if (!parent || !parentContext || parentContext.isRemote) return undefined;
  if (!isValidSpanContext(parentContext)) return undefined;
  if (parentContext.traceFlags & TraceFlags.SAMPLED) {
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }
  // A span deferred until a tail rule may keep its request is record-only, as its children are.
  const recordOnly = parent.isRecording() || parent instanceof DeferredSpan;
  return { decision: recordOnly ? SamplingDecision.RECORD : SamplingDecision.NOT_RECORD };
}

/** Records what `sampler` does not sample, so a tail rule may keep it at its end. */
export class TailRecordingSampler implements Sampler {
  readonly #sampler: Sampler;

  constructor(sampler: Sampler) {
    this.#sampler = sampler;
  }

  shouldSample(...args: Parameters<Sampler["shouldSample"]>): SamplingResult {
    const result = this.#sampler.shouldSample(...args);
    if (result.decision !== SamplingDecision.NOT_RECORD) return result;
    return { ...result, decision: followLocalParent(args[0])?.decision ?? SamplingDecision.RECORD };
  }

  toString(): string {
    return this.#sampler.toString();
  }
}

/**
 * What becomes of an ended span that was not head-sampled: `kept` once its local root carries a
 * reason (a tail rule kept it; what waited with it goes too), `dropped` when the root ended
 * without one, `undecided` for a span under a root still running (it waits for that root).
 */
export function tailVerdict(span: ReadableSpan): "kept" | "dropped" | "undecided" {
  if (span.attributes[ATTR_SAMPLING_REASON] !== undefined) return "kept";
  const parent = span.parentSpanContext;
  return parent === undefined || parent.isRemote === true ? "dropped" : "undecided";
}
