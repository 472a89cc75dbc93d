/**
 * Span contexts known to be valid. The API's `isSpanContextValid` runs two case-insensitive
 * regular expressions each time it is asked, and one request asks about the same two contexts
 * (the caller's and the server span's) four times or more: the starter, the sampler, the
 * hand-back. Contexts built from ids just parsed strictly or generated are made as
 * `ValidSpanContext`, which only this module can make; any other is asked of the API.
 */
import { isSpanContextValid, type SpanContext, type TraceState } from "@opentelemetry/api";

class ValidSpanContext implements SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote: boolean | undefined;
  readonly traceState: TraceState | undefined;

  constructor(fields: SpanContext) {
    this.traceId = fields.traceId;
    this.spanId = fields.spanId;
    this.traceFlags = fields.traceFlags;
    this.isRemote = fields.isRemote;
    this.traceState = fields.traceState;
  }
}

/** A span context of ids parsed strictly or generated (lower-case hex, never all zeros). */
export function knownValid(fields: SpanContext): SpanContext {
  return new ValidSpanContext(fields);
}

/** The API's `isSpanContextValid`, without asking it about contexts made by `knownValid`. */
export function isValidSpanContext(spanContext: SpanContext): boolean {
  return spanContext instanceof ValidSpanContext || isSpanContextValid(spanContext);
}
