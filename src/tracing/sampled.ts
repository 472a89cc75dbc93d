import { type Span, TraceFlags } from "@opentelemetry/api";

/** Head-sampled: exported whatever happens, not only recorded in case a tail rule keeps it. */
export function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}
