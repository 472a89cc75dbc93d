/**
 * Starts tracegate's own SERVER and CLIENT spans as the SDK's tracer starts spans (suppression,
 * parent, ids, the sampler's decision, trace state, the processors' onStart/onEnding/onEnd), but
 * as a `RecordingSpan` when recorded and the API's non-recording span (a context carrier only)
 * when not. Used when tracegate builds the provider; the user's spans still come from the SDK
 * tracer of that same provider, with the same sampler, processors and resource.
 */
import {
  type Context,
  INVALID_SPAN_CONTEXT,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { type InstrumentationScope, isTracingSuppressed } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import {
  type IdGenerator,
  type Sampler,
  SamplingDecision,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { isValidSpanContext, knownValid } from "../propagation/valid_span_context.ts";
import { DeferredSpan, type SpanRecorder, type SpanRecordStart } from "./deferred_span.ts";
import { RecordingSpan, type SpanPipeline } from "./recording_span.ts";

/** Starts a span of `kind` under the span in `parent` (or a new trace), with optional links. */
export type StartSpan = (
  name: string,
  kind: SpanKind,
  parent: Context,
  links?: readonly Link[],
) => Span;

export interface SpanStarterOptions {
  readonly sampler: Sampler;
  readonly processors: readonly SpanProcessor[];
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The provider's, so that its SDK spans and these draw ids alike. */
  readonly ids: IdGenerator;
  /**
   * Starts a span the sampler records only (for the tail rules) as a `DeferredSpan`, recorded
   * once its request may be kept. Only for spans nothing else nests under: a span of the user's
   * started under a deferred one is not recorded (the proxy's spans; not the middleware's).
   */
  readonly deferRecordOnly?: boolean;
}

const NO_LINKS: readonly Link[] = Object.freeze([]);

export class SpanStarter implements SpanPipeline, SpanRecorder {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly #sampler: Sampler;
  readonly #processors: readonly SpanProcessor[];
  readonly #ids: IdGenerator;
  readonly #deferRecordOnly: boolean;

  constructor(options: SpanStarterOptions) {
    this.resource = options.resource;
    this.scope = options.scope;
    this.#sampler = options.sampler;
    this.#processors = options.processors;
    this.#ids = options.ids;
    this.#deferRecordOnly = options.deferRecordOnly ?? false;
  }

  readonly start: StartSpan = (name, kind, context, links = NO_LINKS) => {
    if (isTracingSuppressed(context)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parent = trace.getSpanContext(context);
    const validParent = parent !== undefined && isValidSpanContext(parent) ? parent : undefined;
    const traceId = validParent?.traceId ?? this.#ids.generateTraceId();
    // The sampler sees what the SDK's tracer passes it: no attributes yet, the links as given.
    const result = this.#sampler.shouldSample(context, traceId, name, kind, {}, links as Link[]);
    // A valid parent's trace id or a generated one, and a generated span id.
    const spanContext: SpanContext = knownValid({
      traceId,
      spanId: this.#ids.generateSpanId(),
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED
        ? TraceFlags.SAMPLED
        : TraceFlags.NONE,
      traceState: result.traceState ?? validParent?.traceState,
    });
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const start: SpanRecordStart = {
      name,
      kind,
      spanContext,
      parentSpanContext: validParent,
      links,
      parent: context,
      attributes: result.attributes,
    };
    if (result.decision === SamplingDecision.RECORD && this.#deferRecordOnly) {
      const startedAt = { epochMillis: Date.now(), performanceMillis: performance.now() };
      return new DeferredSpan({ ...start, startedAt }, this);
    }
    return this.record(start);
  };

  /** The recording span of a span started now, or of a deferred one from its start. */
  record(start: SpanRecordStart): RecordingSpan {
    const span = new RecordingSpan(start, this);
    if (start.attributes) span.setAttributes(start.attributes);
    for (const processor of this.#processors) processor.onStart(span, start.parent);
    return span;
  }

  ending(span: RecordingSpan): void {
    for (const processor of this.#processors) processor.onEnding?.(span);
  }

  ended(span: RecordingSpan): void {
    for (const processor of this.#processors) processor.onEnd(span);
  }
}
