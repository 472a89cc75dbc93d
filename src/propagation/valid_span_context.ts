/**
 * Span contexts known to be valid. The API's `isSpanContextValid` runs two case-insensitive
 * regular expressions each time it is asked, and one request asks it about the same two contexts
 * (the caller's and the server span's) four times or more: the starter, the sampler, the
 * hand-back. Contexts built from ids that were just parsed strictly or generated are marked when
 * they are made; any other is checked by the API once and remembered (span contexts are not
 * changed after they are made).
 */
import { isSpanContextValid, type SpanContext } from "@opentelemetry/api";

const valid = new WeakSet<SpanContext>();

/** `spanContext`, recorded as valid: only for ids parsed strictly or generated, never all zeros. */
export function knownValid<T extends SpanContext>(spanContext: T): T {
  valid.add(spanContext);
  return spanContext;
}

/** The API's `isSpanContextValid`, asked once per context. */
export function isValidSpanContext(spanContext: SpanContext): boolean {
  if (valid.has(spanContext)) return true;
  if (!isSpanContextValid(spanContext)) return false;
  valid.add(spanContext);
  return true;
}
