/**
 * What a request leaves in the logs when asked to: with `debug`, one line saying whether it was
 * traced and why; with `accessLog`, one JSON line whose field names follow the OpenTelemetry log
 * data model (`timestamp`, `severity_text`, `body`, `trace_id`, `span_id`, `trace_flags`) and the
 * HTTP semantic conventions, so any JSON log pipeline can join it to the trace.
 */
import { TraceFlags } from "@opentelemetry/api";
import { ATTR_SAMPLING_REASON, type DecisionFacts, describeDecision } from "../sampling/reason.ts";
import { ATTR_REQUEST_ID } from "./request_id.ts";
import { traceFlagsHex } from "../propagation/traceparent.ts";

/** One finished request, as the log lines tell it: what it did, and what its decision was made of. */
export interface FinishedRequest extends DecisionFacts {
  readonly method: string;
  /** `url.path`, as recorded on the span. */
  readonly path: string;
  readonly status: number;
  readonly requestId: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

export function debugLine(request: FinishedRequest): string {
  const { method, path, status, requestId, span } = request;
  const kept = (span.traceFlags & TraceFlags.SAMPLED) === 0 && request.reason !== undefined
    ? `kept by a tail rule (reason: ${request.reason})`
    : describeDecision(request);
  return `tracegate: debug: ${method} ${path} ${status} request_id=${requestId} ` +
    `trace_id=${span.traceId}: ${kept}`;
}

export function accessLogLine(request: FinishedRequest): string {
  const { span } = request;
  return JSON.stringify({
    timestamp: new Date(request.endedAt).toISOString(),
    severity_text: "INFO",
    severity_number: 9,
    body: `${request.method} ${request.path} ${request.status}`,
    trace_id: span.traceId,
    span_id: span.spanId,
    trace_flags: traceFlagsHex(span.traceFlags),
    "http.request.method": request.method,
    "url.path": request.path,
    "http.response.status_code": request.status,
    "http.server.request.duration": (request.endedAt - request.startedAt) / 1000,
    [ATTR_REQUEST_ID]: request.requestId,
    [ATTR_SAMPLING_REASON]: request.reason ?? null,
  });
}
