/**
 * Header-driven sampling at the edge: nothing is traced unless the request says so (a sampled
 * `traceparent`, or the force header with the right token) or the root sampler does; ignored
 * paths never are; a per-instance cap bounds the cost; requests not head-sampled are recorded
 * (not exported) so tail rules can still keep the ones that fail or are slow.
 */
import {
  type Context,
  createContextKey,
  type Link,
  type SpanKind,
  trace,
} from "@opentelemetry/api";
import type { Attributes } from "@opentelemetry/api";
import { type Sampler, SamplingDecision, type SamplingResult } from "@opentelemetry/sdk-trace-base";
import { ATTR_SAMPLING_REASON } from "../src/sampling/reason.ts";
import { followLocalParent } from "../src/sampling/tail.ts";
import { withThreshold } from "../src/sampling/threshold.ts";
import { linked } from "../src/tracing/linked_context.ts";

/** What the proxy knows of a request before its span starts, carried in the Context. */
export interface RequestFacts {
  /** The force header carried the configured token. */
  readonly forced: boolean;
  /** The path is one of `TRACEGATE_IGNORE_PATHS`. */
  readonly ignored: boolean;
}

const FACTS = createContextKey("tracegate.proxy.request-facts");

/** `ctx` with the facts, in a context whose later `setValue`s do not copy it (the request sets several). */
export function withRequestFacts(ctx: Context, facts: RequestFacts): Context {
  return linked(ctx).setValue(FACTS, facts);
}

export interface EdgeSamplingOptions {
  /** Traced requests allowed per second per instance; undefined for no cap. */
  readonly maxTracesPerSecond?: number;
  /** Record requests that are not head-sampled so a tail rule may keep them. */
  readonly recordForTail: boolean;
  readonly now?: () => number;
}

const FORCED = { [ATTR_SAMPLING_REASON]: "force" } as const;

export class EdgeSampler implements Sampler {
  readonly #root: Sampler;
  readonly #options: EdgeSamplingOptions;
  readonly #cap: TokenBucket | undefined;

  /** `root` is the sampler named by `OTEL_TRACES_SAMPLER` (by default parent-based, root off). */
  constructor(root: Sampler, options: EdgeSamplingOptions) {
    this.#root = root;
    this.#options = options;
    this.#cap = options.maxTracesPerSecond === undefined
      ? undefined
      : new TokenBucket(options.maxTracesPerSecond, options.now ?? Date.now);
  }

  shouldSample(
    ctx: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    // Spans under the proxy's own server span follow it: sampled, record-only or neither.
    const local = followLocalParent(ctx);
    if (local) return local;
    const parentContext = trace.getSpanContext(ctx);
    const facts = ctx.getValue(FACTS) as RequestFacts | undefined;
    // Any decision but the root sampler's own says nothing of a probability: no `ot=th:`.
    const withoutThreshold = withThreshold(parentContext?.traceState, undefined);
    if (facts?.ignored) return { decision: SamplingDecision.NOT_RECORD };
    const rooted = this.#root.shouldSample(ctx, traceId, name, kind, attributes, links);
    const sampled = facts?.forced === true ||
      rooted.decision === SamplingDecision.RECORD_AND_SAMPLED;
    if (sampled) {
      // Over the cap the request goes on unsampled and unrecorded: the cap is a cost guard.
      if (this.#cap && !this.#cap.take()) {
        return { decision: SamplingDecision.NOT_RECORD, traceState: withoutThreshold };
      }
      return facts?.forced === true
        ? {
          decision: SamplingDecision.RECORD_AND_SAMPLED,
          traceState: withoutThreshold,
          attributes: FORCED,
        }
        : rooted;
    }
    return {
      decision: this.#options.recordForTail ? SamplingDecision.RECORD : SamplingDecision.NOT_RECORD,
      traceState: withoutThreshold,
    };
  }

  toString(): string {
    return `EdgeSampler{root=${this.#root.toString()}}`;
  }
}

/** Allows `rate` takes per second on average, with bursts up to `rate`. */
class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(private readonly rate: number, private readonly now: () => number) {
    this.#tokens = rate;
    this.#last = now();
  }

  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Whether the force header carries the secret token, compared in constant time: both sides are
 * hashed first, so neither the token's content nor its length shows in the timing.
 */
export async function carriesForceToken(
  presented: string | null,
  token: string | undefined,
): Promise<boolean> {
  if (token === undefined || presented === null) return false;
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(token)),
  ]);
  const left = new Uint8Array(a);
  const right = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= left[i] ^ right[i];
  return difference === 0;
}

/** `TRACEGATE_IGNORE_PATHS` entries: exact paths, or prefixes when they end in `*`. */
export function isIgnoredPath(pathname: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    if (pattern.endsWith("*") ? pathname.startsWith(pattern.slice(0, -1)) : pathname === pattern) {
      return true;
    }
  }
  return false;
}
