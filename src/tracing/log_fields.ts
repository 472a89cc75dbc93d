import { type Context, context, trace } from "@opentelemetry/api";
import { traceFlagsHex } from "../propagation/traceparent.ts";

/** The trace fields of a log line, named as the OpenTelemetry log data model names them. */
export interface TraceLogFields {
  readonly trace_id: string;
  readonly span_id: string;
  /** `01` when sampled, `00` when not. */
  readonly trace_flags: string;
}

/**
 * The current trace's fields for an app's own log lines (`{ ...traceLogFields(), msg }`), from
 * `ctx` (by default the active context, e.g. inside a handler); undefined outside any trace.
 */
export function traceLogFields(ctx: Context = context.active()): TraceLogFields | undefined {
  const span = trace.getSpanContext(ctx);
  if (span === undefined || !trace.isSpanContextValid(span)) return undefined;
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    trace_flags: traceFlagsHex(span.traceFlags),
  };
}
