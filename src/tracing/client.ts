/**
 * The client side: a CLIENT span per outgoing call, the trace context, baggage and request id
 * injected into the request, the span ended when the response body has been consumed or
 * cancelled. Used by the traced `fetch` and by the proxy's upstream call.
 */
import { type Context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  clientRequestAttributes,
  clientStatusFor,
  responseAttributes,
  spanNameFor,
} from "../http/attributes.ts";
import { type BodyOutcome, onBodyEnd } from "../http/body_end.ts";
import { headersSetter } from "../propagation/mod.ts";
import { ATTR_REQUEST_ID, requestIdFrom } from "./request_id.ts";
import { ATTR_BODY_UNREAD, unreadBodiesIn } from "./unread_bodies.ts";
import { errorTypeOf, markError, recordFailure } from "./span_errors.ts";
import { isSampled } from "./sampled.ts";
import { recordAttributes } from "./recording_span.ts";
import type { Tracing } from "./setup.ts";

export class ClientSpan {
  readonly span: Span;
  /** The outgoing request, with the context injected. */
  readonly request: Request;
  readonly #tracing: Tracing;
  readonly #requestId: string | undefined;
  /** A record-only span's request, until its attributes are on the span (see `discard`). */
  #unrecorded: Request | undefined;

  /** Takes `request` over: a Request the caller built, whose headers it may change. */
  constructor(tracing: Tracing, parent: Context, request: Request) {
    this.#tracing = tracing;
    const span = tracing.startSpan(spanNameFor(request.method), SpanKind.CLIENT, parent);
    this.span = span;
    const requestId = requestIdFrom(parent);
    this.#requestId = requestId;
    if (span.isRecording()) {
      this.#unrecorded = request;
      if (isSampled(span)) this.#recordRequest();
    }
    const { headers } = request;
    // Whatever trace headers the request already had (an inbound one being forwarded, possibly
    // invalid) give way to this call's context: only valid context goes onward.
    for (const field of tracing.propagator.fields()) headers.delete(field);
    tracing.propagator.inject(trace.setSpan(parent, span), headers, headersSetter);
    if (requestId !== undefined) headers.set(tracing.http.requestIdHeader, requestId);
    this.request = request;
  }

  #recordRequest(): void {
    const request = this.#unrecorded;
    if (request === undefined) return;
    this.#unrecorded = undefined;
    const attributes = clientRequestAttributes(request, this.#tracing.http.sensitiveQueryParams);
    if (this.#requestId !== undefined) attributes[ATTR_REQUEST_ID] = this.#requestId;
    recordAttributes(this.span, attributes);
  }

  /** Records the response status; ERROR on 4xx and 5xx. */
  responded(response: Response): void {
    if (!this.span.isRecording()) return;
    recordAttributes(this.span, responseAttributes(response, this.#tracing.http.responseCaptures));
    const status = clientStatusFor(response.status);
    if (status.code === SpanStatusCode.ERROR) {
      markError(this.span, status.errorType ?? String(response.status));
    }
  }

  /** Records a failure before any response: network error, timeout. */
  failed(error: unknown, errorType: string = errorTypeOf(error)): void {
    recordFailure(this.span, error, errorType);
  }

  /** Ends the span before its response body was read to the end, marked so. */
  endUnread(): void {
    this.#recordRequest();
    this.span.setAttribute(ATTR_BODY_UNREAD, true);
    this.span.end();
  }

  /** Ends the span with how the response body ended. */
  end(outcome?: BodyOutcome): void {
    this.#recordRequest();
    if (outcome?.kind === "error") recordFailure(this.span, outcome.error);
    this.span.end();
  }

  /** Ends a span that will not be exported (record-only, and no tail rule keeps it): no attributes. */
  discard(): void {
    this.span.end();
  }
}

export type FetchLike = (input: Request) => Promise<Response>;

/**
 * A `fetch` that traces each call as a child of the context `parent()` returns at call time.
 */
export function createTracedFetch(
  tracing: Tracing,
  parent: () => Context,
  send: FetchLike,
): typeof fetch {
  return (input, init) => tracedCall(tracing, parent(), send, input, init);
}

/** One traced call: a CLIENT span under `context`, ended when the response body ends. */
export async function tracedCall(
  tracing: Tracing,
  context: Context,
  send: FetchLike,
  input: RequestInfo | URL,
  init?: RequestInit,
): Promise<Response> {
  const call = new ClientSpan(tracing, context, new Request(input, init));
  let response: Response;
  try {
    response = await send(call.request);
  } catch (error) {
    call.failed(error);
    call.end();
    throw error;
  }
  call.responded(response);
  if (!call.span.isRecording()) return onBodyEnd(response, (outcome) => call.end(outcome));
  // The span ends when the body does, or unread with the request (or at flush) if never read.
  let ended = false;
  const endOnce = (end: () => void) => {
    if (ended) return;
    ended = true;
    releaseFromTracing();
    releaseFromRequest?.();
    end();
  };
  const endUnread = () => endOnce(() => call.endUnread());
  const releaseFromTracing = tracing.unreadBodies.hold(endUnread);
  const releaseFromRequest = unreadBodiesIn(context)?.hold(endUnread);
  return onBodyEnd(response, (outcome) => endOnce(() => call.end(outcome)));
}
