/**
 * The span tracegate records its own SERVER and CLIENT spans with: the OpenTelemetry API `Span`
 * (what `c.var.span` and `trace.getSpan(ctx)` hand to users, and what SDK spans nest under) and
 * the SDK's `ReadableSpan` (what the span processors and the export queue read), in one object.
 *
 * Written instead of the SDK's `SpanImpl` because that one costs more than the whole budget of a
 * traced request: every attribute is validated and copied one call at a time, every timestamp
 * goes through several HrTime conversions, and the tracer validates ids it has just made. Here
 * the attributes tracegate computes itself are written straight into the record
 * (`recordOwnAttributes`); what users write goes through the same checks and limits as the SDK's
 * span. tests/unit/recording_span_test.ts holds it to the SDK span's exported fields.
 */
import {
  type Attributes,
  type AttributeValue,
  diag,
  type Exception,
  type HrTime,
  type Link,
  type Span as ApiSpan,
  type SpanAttributes,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
} from "@opentelemetry/api";
import {
  addHrTimes,
  hrTime,
  hrTimeDuration,
  type InstrumentationScope,
  isAttributeValue,
  isTimeInput,
  isTimeInputHrTime,
  millisToHrTime,
  sanitizeAttributes,
} from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, Span as SdkSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
} from "@opentelemetry/semantic-conventions";

/**
 * The SDK provider's default limits (tracegate's provider sets none): attributes per span, per
 * event and per link, events and links per span. Attribute values are not truncated.
 */
const COUNT_LIMIT = 128;

/**
 * What a span holds until it is written to, shared: most spans never get an event or a link, and
 * each of these is replaced, never changed (one allocation fewer each per span).
 */
const NONE: never[] = Object.freeze([]) as never[];
const NOT_ENDED = Object.freeze([0, 0]) as unknown as HrTime;
const NO_DURATION = Object.freeze([-1, -1]) as unknown as HrTime;
const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
/** What span start times are counted from, so that they stay small integers (see the spans). */
const BASE_SECONDS = Math.floor(Date.now() / 1000);

/** The SDK's name for the event `recordException` adds. */
const EXCEPTION_EVENT = "exception";

/** The provider's side of a recording span: what it belongs to and who hears that it ended. */
export interface SpanPipeline {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The processors' `onEnding`, while the span can still be written. */
  ending(span: RecordingSpan): void;
  /** The processors' `onEnd`, once it has ended. */
  ended(span: RecordingSpan): void;
}

/** When a span started, on both clocks it reads (see `RecordingSpan`). */
export interface SpanStartTime {
  /** `Date.now()`. */
  readonly epochMillis: number;
  /** `performance.now()`, read just after. */
  readonly performanceMillis: number;
}

export interface RecordingSpanStart {
  readonly name: string;
  readonly kind: SpanKind;
  readonly spanContext: SpanContext;
  /** The parent's span context, when it is valid. */
  readonly parentSpanContext?: SpanContext;
  readonly links: readonly Link[];
  /** When it started, if not now (a span recorded after its start: see `DeferredSpan`). */
  readonly startedAt?: SpanStartTime;
}

export class RecordingSpan implements SdkSpan, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  status: SpanStatus = UNSET_STATUS;
  readonly attributes: Attributes = {};
  links: Link[] = NONE;
  events: TimedEvent[] = NONE;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;
  readonly #spanContext: SpanContext;
  readonly #pipeline: SpanPipeline;
  #attributeCount = 0;
  /**
   * The start, in whole seconds after `BASE_SECONDS` and nanoseconds, and the end, in whole
   * seconds after the start's second and nanoseconds (-1: not ended). Kept as small integers in
   * the span itself, `startTime`, `endTime` and `duration` built when read (the exporter reads
   * each once): as arrays (and a clock offset too large to be stored unboxed) they were seven more
   * objects per span for the garbage collector to copy while the span waits for its export (heap
   * held per queued proxy span: 900 bytes with them, 618 without).
   */
  readonly #startSeconds: number;
  readonly #startNanos: number;
  #endSeconds = 0;
  #endNanos = -1;
  /** `performance.now()` at the start: later times are the start plus the elapsed time. */
  readonly #startedAt: number;

  constructor(start: RecordingSpanStart, pipeline: SpanPipeline) {
    // As the SDK does: the wall clock's millisecond, then durations from the performance clock.
    const started = start.startedAt;
    const [seconds, nanos] = millisToHrTime(started?.epochMillis ?? Date.now());
    this.#startedAt = started?.performanceMillis ?? performance.now();
    this.#startSeconds = seconds - BASE_SECONDS;
    this.#startNanos = nanos;
    this.name = start.name;
    this.kind = start.kind;
    this.#spanContext = start.spanContext;
    this.parentSpanContext = start.parentSpanContext;
    this.#pipeline = pipeline;
    this.resource = pipeline.resource;
    this.instrumentationScope = pipeline.scope;
    for (const link of start.links) this.addLink(link);
  }

  spanContext(): SpanContext {
    return this.#spanContext;
  }

  /**
   * Attributes tracegate computed itself (valid keys and values, arrays it made): written into
   * the record without the per-attribute checks and copies. The count limit still applies.
   */
  recordOwnAttributes(attributes: Attributes): void {
    if (this.ended) return;
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined && value !== null) this.#write(key, value);
    }
  }

  setAttribute(key: string, value?: AttributeValue): this {
    if (value === undefined || value === null || this.#endedWarning()) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    if (!isAttributeValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    // Copied as the SDK copies: the caller may change its array afterwards.
    this.#write(key, Array.isArray(value) ? value.slice() as AttributeValue : value);
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) {
      if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    }
    return this;
  }

  #write(key: string, value: AttributeValue): void {
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.#attributeCount >= COUNT_LIMIT) {
        this.droppedAttributesCount++;
        return;
      }
      this.#attributeCount++;
    }
    this.attributes[key] = value;
  }

  addEvent(
    name: string,
    attributesOrStartTime?: SpanAttributes | TimeInput,
    timeStamp?: TimeInput,
  ): this {
    if (this.#endedWarning()) return this;
    if (this.events.length >= COUNT_LIMIT) {
      this.events.shift();
      this.droppedEventsCount++;
    }
    let attributes: SpanAttributes | undefined;
    if (isTimeInput(attributesOrStartTime)) {
      if (!isTimeInput(timeStamp)) timeStamp = attributesOrStartTime;
    } else {
      attributes = attributesOrStartTime;
    }
    const limited = withinCountLimit(sanitizeAttributes(attributes));
    if (this.events === NONE) this.events = [];
    this.events.push({
      name,
      attributes: limited.attributes,
      time: this.#timeOf(timeStamp),
      droppedAttributesCount: limited.dropped,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.#endedWarning()) return this;
    if (this.links.length >= COUNT_LIMIT) {
      this.links.shift();
      this.droppedLinksCount++;
    }
    const limited = withinCountLimit(sanitizeAttributes(link.attributes));
    const recorded: Link = { context: link.context };
    if (limited.count > 0) recorded.attributes = limited.attributes;
    if (limited.dropped > 0) recorded.droppedAttributesCount = limited.dropped;
    if (this.links === NONE) this.links = [];
    this.links.push(recorded);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#endedWarning()) return this;
    if (status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) {
      return this;
    }
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR && typeof status.message === "string") {
      next.message = status.message;
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.#endedWarning()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      const { traceId, spanId } = this.#spanContext;
      diag.error(`${this.name} ${traceId}-${spanId} - You can only call end() on a span once.`);
      return;
    }
    const [endSeconds, endNanos] = this.#timeOf(endTime);
    const seconds = endSeconds - BASE_SECONDS - this.#startSeconds;
    // An end before the start is the start, as the SDK makes it.
    const early = seconds < 0 || (seconds === 0 && endNanos < this.#startNanos);
    this.#endSeconds = early ? 0 : seconds;
    this.#endNanos = early ? this.#startNanos : endNanos;
    this.#pipeline.ending(this);
    this.ended = true;
    this.#pipeline.ended(this);
  }

  get startTime(): HrTime {
    return [BASE_SECONDS + this.#startSeconds, this.#startNanos];
  }

  get endTime(): HrTime {
    if (this.#endNanos < 0) return NOT_ENDED;
    return [BASE_SECONDS + this.#startSeconds + this.#endSeconds, this.#endNanos];
  }

  get duration(): HrTime {
    return this.#endNanos < 0 ? NO_DURATION : hrTimeDuration(this.startTime, this.endTime);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") {
      attributes[ATTR_EXCEPTION_MESSAGE] = exception;
    } else if (exception) {
      if (exception.code) attributes[ATTR_EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[ATTR_EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[ATTR_EXCEPTION_TYPE] || attributes[ATTR_EXCEPTION_MESSAGE]) {
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    } else {
      diag.warn(`Failed to record an exception ${exception}`);
    }
  }

  /** Times as the SDK reads them; none given: the start plus the performance clock's elapsed time. */
  #timeOf(input: TimeInput | undefined): HrTime {
    if (typeof input === "number") {
      // A number not after the performance clock's now is a performance timestamp.
      if (input > performance.now()) return millisToHrTime(input);
      // Wall clock minus the performance clock at the start.
      const startMs = (BASE_SECONDS + this.#startSeconds) * 1000 + this.#startNanos / 1e6;
      return hrTime(input + startMs - (this.#startedAt + performance.timeOrigin));
    }
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.#startedAt));
  }

  #endedWarning(): boolean {
    if (this.ended) {
      const { traceId, spanId } = this.#spanContext;
      diag.warn(
        `Cannot execute the operation on ended Span {traceId: ${traceId}, spanId: ${spanId}}`,
      );
    }
    return this.ended;
  }
}

/** Event and link attributes past the per-item count limit are dropped and counted. */
function withinCountLimit(
  sanitized: Attributes,
): { attributes: Attributes; count: number; dropped: number } {
  const attributes: Attributes = {};
  let count = 0;
  let dropped = 0;
  for (const key in sanitized) {
    if (count >= COUNT_LIMIT) {
      dropped++;
      continue;
    }
    attributes[key] = sanitized[key];
    count++;
  }
  return { attributes, count, dropped };
}

/** Writes tracegate's own attributes: straight into a `RecordingSpan`, else through the API. */
export function recordAttributes(span: ApiSpan, attributes: Attributes): void {
  if (span instanceof RecordingSpan) span.recordOwnAttributes(attributes);
  else span.setAttributes(attributes);
}
