/**
 * A span its sampler chose to record only for the tail rules (not sampled, kept if a rule says so
 * at the end), left unrecorded until the request's outcome shows that a rule may keep it. The proxy
 * starts its spans this way: most requests are not kept, and for those a recorded span and its end
 * through the processors were the largest part of an unsampled request's tracing (`deno task
 * bench`, bench/ANALYSIS.md). Until then it is what the API's non-recording span is, a carrier of
 * the ids the request propagates; `record` makes the `RecordingSpan` it stands for, from its start.
 */
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanStatus,
  TimeInput,
} from "@opentelemetry/api";
import type { RecordingSpan, RecordingSpanStart, SpanStartTime } from "./recording_span.ts";

/** What recording one of tracegate's spans needs: its start, as the starter had it. */
export interface SpanRecordStart extends RecordingSpanStart {
  /** The context it started in, which the processors' `onStart` is given. */
  readonly parent: Context;
  /** The sampler's attributes. */
  readonly attributes?: Attributes;
}

/** Makes the recording span of a start, telling the processors it started. */
export interface SpanRecorder {
  record(start: SpanRecordStart): RecordingSpan;
}

export class DeferredSpan implements Span {
  readonly #start: SpanRecordStart;
  readonly #recorder: SpanRecorder;

  /** `start` holds the time it started (`startedAt`), read when the sampler decided. */
  constructor(
    start: SpanRecordStart & { readonly startedAt: SpanStartTime },
    recorder: SpanRecorder,
  ) {
    this.#start = start;
    this.#recorder = recorder;
  }

  /** The recording span this one stands for, started when this one did. Call it once. */
  record(): RecordingSpan {
    return this.#recorder.record(this.#start);
  }

  spanContext(): SpanContext {
    return this.#start.spanContext;
  }

  isRecording(): boolean {
    return false;
  }

  // Written to before it is recorded, it is a non-recording span: nothing is kept.
  setAttribute(_key: string, _value: AttributeValue): this {
    return this;
  }

  setAttributes(_attributes: Attributes): this {
    return this;
  }

  addEvent(_name: string, _attributes?: Attributes | TimeInput, _time?: TimeInput): this {
    return this;
  }

  addLink(_link: Link): this {
    return this;
  }

  addLinks(_links: Link[]): this {
    return this;
  }

  setStatus(_status: SpanStatus): this {
    return this;
  }

  updateName(_name: string): this {
    return this;
  }

  end(_endTime?: TimeInput): void {}

  recordException(_exception: Exception, _time?: TimeInput): void {}
}
