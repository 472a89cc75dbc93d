/**
 * The SDK's `ParentBasedSampler`, asking whether the parent is valid of `isValidSpanContext`: the
 * SDK's asks the API's `isSpanContextValid`, which scans both ids on every span, although
 * tracegate's own span contexts are known valid when made. Same decisions, same delegates and
 * defaults, same `toString` (tests/unit/parent_based_sampler_test.ts runs both side by side).
 */
import {
  type Attributes,
  type Context,
  type Link,
  type SpanKind,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type Sampler,
  type SamplingResult,
} from "@opentelemetry/sdk-trace-base";
import { isValidSpanContext } from "../propagation/valid_span_context.ts";

export interface ParentBasedSamplerConfig {
  readonly root: Sampler;
  readonly remoteParentSampled?: Sampler;
  readonly remoteParentNotSampled?: Sampler;
  readonly localParentSampled?: Sampler;
  readonly localParentNotSampled?: Sampler;
}

export class ParentBasedSampler implements Sampler {
  readonly #root: Sampler;
  readonly #remoteParentSampled: Sampler;
  readonly #remoteParentNotSampled: Sampler;
  readonly #localParentSampled: Sampler;
  readonly #localParentNotSampled: Sampler;

  constructor(config: ParentBasedSamplerConfig) {
    this.#root = config.root;
    this.#remoteParentSampled = config.remoteParentSampled ?? new AlwaysOnSampler();
    this.#remoteParentNotSampled = config.remoteParentNotSampled ?? new AlwaysOffSampler();
    this.#localParentSampled = config.localParentSampled ?? new AlwaysOnSampler();
    this.#localParentNotSampled = config.localParentNotSampled ?? new AlwaysOffSampler();
  }

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const parent = trace.getSpanContext(context);
    let sampler = this.#root;
    if (parent !== undefined && isValidSpanContext(parent)) {
      const sampled = (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
      sampler = parent.isRemote
        ? (sampled ? this.#remoteParentSampled : this.#remoteParentNotSampled)
        : (sampled ? this.#localParentSampled : this.#localParentNotSampled);
    }
    return sampler.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `ParentBased{root=${this.#root}, remoteParentSampled=${this.#remoteParentSampled}, ` +
      `remoteParentNotSampled=${this.#remoteParentNotSampled}, ` +
      `localParentSampled=${this.#localParentSampled}, ` +
      `localParentNotSampled=${this.#localParentNotSampled}}`;
  }
}
