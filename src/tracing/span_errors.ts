import { type Span, SpanStatusCode } from "@opentelemetry/api";

/** `error.type` for a thrown value: the error's class name, as the semantic conventions ask. */
export function errorTypeOf(error: unknown): string {
  if (error instanceof Error) return error.name || "Error";
  return "_OTHER";
}

/** Status ERROR with `error.type`; no exception event (for error status codes). */
export function markError(span: Span, errorType: string, message?: string): void {
  if (!span.isRecording()) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute("error.type", errorType);
}

/** A thrown error or failed stream: exception event, status ERROR, `error.type`. */
export function recordFailure(span: Span, error: unknown, errorType = errorTypeOf(error)): void {
  if (!span.isRecording()) return;
  span.recordException(error instanceof Error ? error : String(error));
  markError(span, errorType, error instanceof Error ? error.message : String(error));
}
