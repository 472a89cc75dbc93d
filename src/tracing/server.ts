/**
 * The server side of a traced request, shared by the Hono middleware and the proxy: extract the
 * caller's context, choose the request id, open the SERVER span, and at the end record the
 * response, hand the trace back and end the span once the body has streamed.
 */
import {
  type Attributes,
  type Context,
  type Link,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { ATTR_HTTP_ROUTE } from "@opentelemetry/semantic-conventions";
import {
  responseAttributes,
  serverRequestAttributes,
  serverStatusFor,
  spanNameFor,
} from "../http/attributes.ts";
import { type BodyEndSignal, type BodyOutcome, onBodyEnd } from "../http/body_end.ts";
import { handBackHeaders } from "../http/handback.ts";
import { type RequestIdPolicy, resolveRequestId } from "../http/request_id.ts";
import { headersGetter, traceparentOf } from "../propagation/mod.ts";
import { ATTR_SAMPLING_REASON, type ForceHeader, reasonOf } from "../sampling/reason.ts";
import type { SpanEnding } from "../sampling/tail.ts";
import { accessLogLine, debugLine, type FinishedRequest } from "./request_log.ts";
import { ATTR_REQUEST_ID, withRequestId } from "./request_id.ts";
import { linked } from "./linked_context.ts";
import { isSampled } from "./sampled.ts";
import { UnreadBodies, withUnreadBodies } from "./unread_bodies.ts";
import { markError, recordFailure } from "./span_errors.ts";
import type { Tracing } from "./setup.ts";
import { webSocketOf } from "../http/websocket.ts";
import { recordAttributes } from "./recording_span.ts";
import { DeferredSpan } from "./deferred_span.ts";

/**
 * What the inbound trace context is to the server span: its parent (`continue`), a link from a
 * new trace (`link`, for public endpoints: inbound tracestate and baggage are dropped too), or
 * nothing (`ignore`).
 */
export type InboundContextMode = "continue" | "link" | "ignore";

export interface ServerSpanStart {
  readonly request: Request;
  /**
   * The request's fields as the caller has already read them (the proxy in workerd, where a field
   * it knows absent then costs no call into the runtime); default `request.headers`.
   */
  readonly headers?: Pick<Headers, "get" | "keys">;
  /** The context active when the request arrived; a runtime's own span in it becomes the parent. */
  readonly active: Context;
  /**
   * The socket peer, when the runtime knows it; as a function, it is asked only for a span that
   * records the request's attributes (asking the runtime has a cost an unsampled request need not pay).
   */
  readonly clientAddress?: string | (() => string | undefined);
  /** An id already chosen for this request (for instance by `hono/request-id`). */
  readonly requestId?: string;
  readonly requestIds?: RequestIdPolicy;
  readonly inbound?: InboundContextMode;
  /** What the force header said (the proxy), for the debug line. */
  readonly force?: ForceHeader;
  /** The path is one the proxy never traces, for the debug line. */
  readonly ignoredPath?: boolean;
}

/**
 * How the span ends, from `endingFor` (the tail rules): at once, or once the body has streamed.
 * What ending with the body needs is given only with an ending that waits for the body; without
 * any of it, either ending is accepted (the JavaScript body wrap, export in the background).
 */
export type ServerSpanEnd =
  | ({ readonly ending: SpanEnding } & { readonly [K in keyof BodyEnd]?: never })
  | ({ readonly ending: Extract<SpanEnding, { kind: "withBody" }> } & BodyEnd);

/** What ending with the body needs. */
export interface BodyEnd {
  /**
   * How the runtime tells that the response body has been sent (Deno's `info.completed`,
   * workerd's native pipe); without it a JavaScript stream wraps the body.
   */
  readonly bodyEnd?: BodyEndSignal;
  /** How the response body ended; called just before the server span ends. */
  readonly beforeEnd?: (outcome: BodyOutcome, span: Span) => void;
  /**
   * Keeps the runtime alive for work after the response (Workers: `ctx.waitUntil`); it is given
   * a promise that never rejects and settles once the span has ended and, if this request is
   * the one that started its export, once that export is done. A request whose body has ended
   * by the time its response is handed on, and that started no export, does not call it.
   * Without it the export simply runs in the background.
   */
  readonly waitUntil?: (work: Promise<void>) => void;
}

export class ServerSpan {
  #span: Span;
  /** The span, the baggage and the request id: the context handlers run in. */
  readonly context: Context;
  readonly requestId: string;
  readonly startedAt: number = Date.now();
  readonly #tracing: Tracing;
  readonly #method: string;
  #route: string | undefined;
  #errored = false;
  /** Only a recording span's calls are held to end with it. */
  readonly #unreadBodies: UnreadBodies | undefined;
  readonly #start: ServerSpanStart;
  /** The caller's span context, when it sent one. */
  readonly #caller: SpanContext | undefined;
  /** The request's attributes are on the span (at once, or deferred for a record-only span). */
  #described = false;

  constructor(tracing: Tracing, start: ServerSpanStart) {
    this.#tracing = tracing;
    const { request } = start;
    const headers = start.headers ?? request.headers;
    const settings = tracing.http;
    this.requestId = start.requestId ??
      resolveRequestId(headers.get(settings.requestIdHeader), start.requestIds);

    this.#start = start;
    const parent = parentFor(tracing, start, headers);
    const caller = trace.getSpanContext(parent);
    this.#caller = caller?.isRemote ? caller : undefined;
    const method = this.#method = request.method;
    this.#span = tracing.startSpan(
      spanNameFor(method),
      SpanKind.SERVER,
      parent,
      start.inbound === "link" ? inboundLinks(tracing, headers, parent) : undefined,
    );
    // A record-only span (kept only if a tail rule says so) gets its attributes once it may be
    // exported: most are discarded at the response, and attributes are the costly part.
    if (isSampled(this.span)) this.#recordRequest();
    const own = withRequestId(trace.setSpan(parent, this.span), this.requestId);
    // Calls made while handling the request end with it at the latest, body read or not.
    if (this.span.isRecording()) {
      this.#unreadBodies = new UnreadBodies();
      this.context = withUnreadBodies(own, this.#unreadBodies);
    } else {
      this.context = own;
    }
  }

  /** The SERVER span; a `DeferredSpan` until `recordDeferred`, when the tracing defers. */
  get span(): Span {
    return this.#span;
  }

  /**
   * Records a span deferred for the tail rules, from its start: call it once the request's
   * outcome shows a rule may keep it, before recording that outcome.
   */
  recordDeferred(): void {
    if (this.#span instanceof DeferredSpan) this.#span = this.#span.record();
  }

  #recordRequest(): void {
    if (this.#described || !this.span.isRecording()) return;
    this.#described = true;
    const start = this.#start;
    const settings = this.#tracing.http;
    const attributes = serverRequestAttributes(start.request, {
      trustForwardedFor: settings.trustForwardedHeaders,
      sensitiveQueryParams: settings.sensitiveQueryParams,
      capturedRequestHeaders: settings.requestCaptures,
      clientAddress: typeof start.clientAddress === "function"
        ? start.clientAddress()
        : start.clientAddress,
    });
    attributes[ATTR_REQUEST_ID] = this.requestId;
    recordAttributes(this.span, attributes);
  }

  /** The matched route template (never the raw path); names the span `{METHOD} {route}`. */
  setRoute(route: string | undefined): void {
    this.#route = route;
  }

  /** Records a thrown error: exception event, status ERROR, `error.type`. */
  recordError(error: unknown): void {
    this.#errored = true;
    recordFailure(this.span, error);
  }

  get errored(): boolean {
    return this.#errored;
  }

  /**
   * Records the response, adds the request id and hand-back headers, and ends the span when the
   * body has finished streaming (or was cancelled, or failed).
   */
  finish(response: Response, end: ServerSpanEnd): Response {
    const { span } = this;
    const settings = this.#tracing.http;
    if (end.ending.kind === "withBody" && span.isRecording()) {
      this.#recordRequest();
      const attributes = responseAttributes(response, settings.responseCaptures);
      if (this.#route !== undefined) {
        span.updateName(spanNameFor(this.#method, this.#route));
        attributes[ATTR_HTTP_ROUTE] = this.#route;
      }
      recordAttributes(span, attributes);
      const status = serverStatusFor(response.status);
      if (status.code === SpanStatusCode.ERROR && !this.#errored) {
        markError(span, status.errorType ?? String(response.status));
      }
    }
    const headed = this.#withHeaders(response);

    if (end.ending.kind === "now" || (!span.isRecording() && end.beforeEnd === undefined)) {
      // Nothing that will be exported, so nothing waits for the body or needs a flush.
      this.#unreadBodies?.endAll();
      span.end();
      this.#logEnd(response.status);
      return headed;
    }
    const { ending, waitUntil } = end;
    let ended = false;
    let settle: ((exported?: Promise<void>) => void) | undefined;
    const sent = onBodyEnd(headed, (outcome) => {
      try {
        if (outcome.kind === "error") recordFailure(span, outcome.error);
        if (outcome.kind === "cancelled") markClientDisconnected(span, outcome.bytes);
        end.beforeEnd?.(outcome, span);
        const reason = ending.kind === "withBody" ? ending.reasonAt?.(outcome) : undefined;
        if (reason !== undefined) span.setAttribute(ATTR_SAMPLING_REASON, reason);
      } finally {
        ended = true;
        this.#unreadBodies?.endAll();
        span.end();
        this.#logEnd(response.status);
        const exported = this.#tracing.exportEnded();
        const first = !keptAlive.has(exported);
        if (first) keptAlive.add(exported);
        // Before the response is handed on, the request is alive to be given more work.
        if (settle !== undefined) settle(first ? exported : undefined);
        else if (first) waitUntil?.(exported);
      }
    }, end.bodyEnd);
    // A body still under way when the response is handed on keeps its request alive until it ends.
    if (!ended && waitUntil) waitUntil(new Promise<void>((resolve) => (settle = resolve)));
    return sent;
  }

  /**
   * The response with the request id and the hand-back headers. A fetched Response has immutable
   * headers: it is then copied (the body moves, it is not read). A WebSocket upgrade fetched in
   * workerd is copied with its `webSocket`, the only way workerd builds a 101; any other 101 is
   * passed on as it is.
   */
  #withHeaders(response: Response): Response {
    try {
      this.#setHeaders(response.headers);
      return response;
    } catch {
      const webSocket = webSocketOf(response);
      if (response.status === 101 && webSocket === undefined) return response;
      const copy = webSocket === undefined
        ? new Response(response.body, response)
        : new Response(null, { status: 101, headers: response.headers, webSocket } as ResponseInit);
      this.#setHeaders(copy.headers);
      return copy;
    }
  }

  #setHeaders(headers: Headers): void {
    const settings = this.#tracing.http;
    headers.set(settings.requestIdHeader, this.requestId);
    handBackHeaders(headers, traceparentOf(this.context), settings);
  }

  /** The debug and access-log lines, when switched on. */
  #logEnd(status: number): void {
    const tracing = this.#tracing;
    const { debug, accessLog } = tracing.http;
    if (!debug && !accessLog) return;
    const finished: FinishedRequest = {
      method: this.#method,
      path: new URL(this.#start.request.url).pathname,
      status,
      requestId: this.requestId,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      span: this.span.spanContext(),
      reason: reasonOf(this.span),
      parent: this.#caller,
      sampler: tracing.sampler,
      force: this.#start.force,
      ignoredPath: this.#start.ignoredPath,
    };
    if (debug) tracing.log(debugLine(finished));
    if (accessLog) tracing.writeAccessLog(accessLogLine(finished));
  }
}

/**
 * Exports already kept alive by the request that was handed them first. An export is shared by
 * every request that ends while it gathers, and in workerd its timer and fetch belong to the
 * request whose flush started it: that request, the first to be handed it, keeps it alive; every
 * other one needs to live only until its own body has ended. (Keeping every request alive until
 * its export was done held hundreds of finished requests open at once: 45 µs of CPU more per
 * sampled request on bare workerd.)
 */
const keptAlive = new WeakSet<Promise<void>>();

/** Set on a server span whose client stopped reading the response body before its end. */
export const ATTR_CLIENT_DISCONNECTED = "tracegate.client.disconnected";

/** The mark a client leaves by going away mid-response: not an error of the server's. */
function markClientDisconnected(span: Span, bytesSent: number | undefined): void {
  span.setAttribute(ATTR_CLIENT_DISCONNECTED, true);
  // The runtimes' own signals (Deno's info.completed) do not count the bytes.
  span.addEvent(
    "client disconnected",
    bytesSent === undefined ? undefined : { "tracegate.response.body_bytes_sent": bytesSent },
  );
}

/** The server span's parent context: the caller's (`continue`), or a new trace's. */
function parentFor(
  tracing: Tracing,
  start: ServerSpanStart,
  headers: Pick<Headers, "get" | "keys">,
): Context {
  const active = linked(start.active);
  if ((start.inbound ?? "continue") !== "continue") {
    return propagation.deleteBaggage(trace.deleteSpan(active));
  }
  const extracted = tracing.propagator.extract(active, headers, headersGetter);
  // A runtime's own server span (Deno with OTEL_DENO=true) already continued the caller's
  // trace: nest under it rather than beside it, keeping the extracted baggage.
  const runtimeSpan = trace.getSpan(active);
  return runtimeSpan && trace.isSpanContextValid(runtimeSpan.spanContext())
    ? trace.setSpan(extracted, runtimeSpan)
    : extracted;
}

/** `link` mode: the caller's span context, extracted over the new trace's `fresh` context. */
function inboundLinks(
  tracing: Tracing,
  headers: Pick<Headers, "get" | "keys">,
  fresh: Context,
): Link[] | undefined {
  const inbound = trace.getSpanContext(tracing.propagator.extract(fresh, headers, headersGetter));
  return inbound && trace.isSpanContextValid(inbound)
    ? [{ context: inbound, attributes: { "tracegate.link": "inbound" } satisfies Attributes }]
    : undefined;
}
