/**
 * The client side: a CLIENT span per outgoing call, the trace context, baggage and request id
 * injected into the request, the span ended when the response body has been consumed or
 * cancelled. Used by the traced `fetch` and by the proxy's upstream call.
 */
import {
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import {
  clientRequestAttributes,
  clientStatusFor,
  responseAttributes,
  spanNameFor,
} from "../http/attributes.ts";
import { type BodyOutcome, onBodyEnd } from "../http/body_end.ts";
import { ATTR_REQUEST_ID, requestIdFrom } from "./request_id.ts";
import { ATTR_BODY_UNREAD, unreadBodiesIn } from "./unread_bodies.ts";
import { errorTypeOf, markError, recordFailure } from "./span_errors.ts";
import { isSampled } from "./sampled.ts";
import { DeferredSpan } from "./deferred_span.ts";
import { recordAttributes } from "./recording_span.ts";
import type { Tracing } from "./setup.ts";

/**
 * A request still to be built, as its parts: what the span records of it, and header pairs the
 * context is injected into before anything validates them.
 */
export interface UnbuiltRequest {
  readonly method: string;
  readonly url: string;
  /** Pairs, or a `Headers` where it is native (workerd) and changing it costs little. */
  readonly headers: [string, string][] | Headers;
  /**
   * With a `Headers`: every name it may hold, when the caller has read them (a trace field that
   * is not among them is not deleted: in workerd every call into `Headers` costs ~3 k instructions).
   */
  readonly names?: readonly string[];
}

export class ClientSpan<R extends Request | UnbuiltRequest = Request> {
  #span: Span;
  /** The outgoing request, with the context injected. */
  readonly request: R;
  readonly #tracing: Tracing;
  readonly #requestId: string | undefined;
  /** A record-only span's request, until its attributes are on the span (see `discard`). */
  #unrecorded: R | undefined;
  /** A record-only or deferred span's response, likewise. */
  #unrecordedResponse: Response | undefined;

  /**
   * Takes `request` over: a Request the caller built, or the parts of one (its header pairs get
   * the context: in Deno, deleting and setting fields on a built Request re-validates and rescans
   * its header list for each field).
   */
  constructor(tracing: Tracing, parent: Context, request: R) {
    this.#tracing = tracing;
    const span = tracing.startSpan(spanNameFor(request.method), SpanKind.CLIENT, parent);
    this.#span = span;
    const requestId = requestIdFrom(parent);
    this.#requestId = requestId;
    if (span.isRecording()) {
      this.#unrecorded = request;
      if (isSampled(span)) this.#recordRequest();
    }
    // Whatever trace headers the request already had (an inbound one being forwarded, possibly
    // invalid) give way to this call's context: only valid context goes onward.
    const context = trace.setSpan(parent, span);
    const { headers } = request;
    if (Array.isArray(headers)) injectIntoPairs(tracing, context, requestId, headers);
    else {
      const names = "names" in request ? request.names : undefined;
      const injected = injectedPairs(tracing, context, requestId);
      // A field about to be written needs no delete first: `set` replaces it.
      for (const field of fieldsOf(tracing.propagator)) {
        if (names?.includes(field) !== false && !injected.some((pair) => pair[0] === field)) {
          headers.delete(field);
        }
      }
      for (const [name, value] of injected) headers.set(name, value);
    }
    this.request = request;
  }

  /** The CLIENT span; a `DeferredSpan` until `recordDeferred`, when the tracing defers. */
  get span(): Span {
    return this.#span;
  }

  /**
   * Records a span deferred for the tail rules, from its start, as a record-only span (its
   * attributes wait until it may be exported): call it before recording the call's outcome.
   */
  recordDeferred(): void {
    if (!(this.#span instanceof DeferredSpan)) return;
    this.#span = this.#span.record();
    this.#unrecorded = this.request;
  }

  /** A record-only span's request and response attributes, once it may be exported. */
  #recordRequest(): void {
    const request = this.#unrecorded;
    if (request === undefined) return;
    this.#unrecorded = undefined;
    const attributes = clientRequestAttributes(request, this.#tracing.http.sensitiveQueryParams);
    if (this.#requestId !== undefined) attributes[ATTR_REQUEST_ID] = this.#requestId;
    recordAttributes(this.span, attributes);
    const response = this.#unrecordedResponse;
    if (response === undefined) return;
    this.#unrecordedResponse = undefined;
    this.#recordResponse(response);
  }

  /**
   * Records the response status; ERROR on 4xx and 5xx. A record-only span, or a deferred one,
   * records it with its request, once it may be exported (most are discarded at the response).
   */
  responded(response: Response): void {
    if (this.#span instanceof DeferredSpan || this.#unrecorded !== undefined) {
      this.#unrecordedResponse = response;
    } else if (this.#span.isRecording()) {
      this.#recordResponse(response);
    }
  }

  #recordResponse(response: Response): void {
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

/**
 * What injecting into a `Headers` does, on pairs: the propagator's fields and the ones it writes
 * (the request id's among them) replace any the pairs had, a later write of a name replacing an
 * earlier one as `Headers.set` does.
 */
function injectIntoPairs(
  tracing: Tracing,
  context: Context,
  requestId: string | undefined,
  pairs: [string, string][],
): void {
  const injected = injectedPairs(tracing, context, requestId);
  const replaced = fieldsOf(tracing.propagator);
  let kept = 0;
  for (const pair of pairs) {
    const name = pair[0].toLowerCase();
    if (replaced.includes(name) || injected.some((written) => written[0] === name)) continue;
    pairs[kept++] = pair;
  }
  pairs.length = kept;
  for (const pair of injected) pairs.push(pair);
}

/** The fields the propagator writes for `context`, and the request id's. */
function injectedPairs(
  tracing: Tracing,
  context: Context,
  requestId: string | undefined,
): [string, string][] {
  const injected: [string, string][] = [];
  tracing.propagator.inject(context, injected, pairsSetter);
  if (requestId !== undefined) pairsSetter.set(injected, tracing.http.requestIdHeader, requestId);
  return injected;
}

/** Writes a field into header pairs, lower-cased, replacing an earlier value. */
const pairsSetter: TextMapSetter<[string, string][]> = {
  set: (pairs, name, value) => {
    const field = name.toLowerCase();
    const index = pairs.findIndex((pair) => pair[0] === field);
    if (index === -1) pairs.push([field, value]);
    else pairs[index] = [field, value];
  },
};

const FIELDS = new WeakMap<TextMapPropagator, readonly string[]>();

/** A propagator's fields, lower-cased, read once. */
function fieldsOf(propagator: TextMapPropagator): readonly string[] {
  let fields = FIELDS.get(propagator);
  if (fields === undefined) {
    fields = propagator.fields().map((field) => field.toLowerCase());
    FIELDS.set(propagator, fields);
  }
  return fields;
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
