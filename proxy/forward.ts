/**
 * Forwarding one request to its upstream and its response back, with the Fetch API only so the
 * same code runs in workerd and Deno. Bodies are streamed in both directions, never buffered.
 */
import { isToken } from "../src/http/token.ts";
import { webSocketOf } from "../src/http/websocket.ts";

export interface ForwardingOptions {
  /** The connecting client's address, appended to `X-Forwarded-For`. */
  readonly clientAddress?: string;
  /** The host the client asked for; sent as `X-Forwarded-Host` unless one is already present. */
  readonly forwardedHost: string;
  /** The scheme the client used; sent as `X-Forwarded-Proto` unless one is already present. */
  readonly forwardedProto: "http" | "https";
  /** Request headers that must not reach the upstream (e.g. a force-tracing header). */
  readonly stripHeaders?: readonly string[];
}

/**
 * The request to send upstream: the inbound method, headers and body (streamed), minus hop-by-hop
 * headers, with `Host` set to the target's and redirects passed back rather than followed.
 *
 * `X-Forwarded-For` gets the client address appended to any existing value. `X-Forwarded-Proto`
 * and `X-Forwarded-Host` are only set when absent: a proxy in front of this one (a CDN) saw the
 * client's original scheme and host, which this proxy cannot know better. Like any X-Forwarded-*
 * header, they are as trustworthy as the hop that set them.
 */
export function upstreamRequest(
  inbound: Request,
  target: URL,
  options: ForwardingOptions,
): Request {
  const headers = new Headers(inbound.headers);
  stripHopByHop(headers, isWebSocketUpgrade(inbound.headers));
  for (const name of options.stripHeaders ?? []) headers.delete(name);
  headers.set("host", target.host);
  if (options.clientAddress !== undefined) {
    const earlier = headers.get("x-forwarded-for");
    const forwardedFor = earlier ? `${earlier}, ${options.clientAddress}` : options.clientAddress;
    headers.set("x-forwarded-for", forwardedFor);
  }
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", options.forwardedProto);
  if (!headers.has("x-forwarded-host")) headers.set("x-forwarded-host", options.forwardedHost);

  // `duplex` is required by the Fetch standard for a stream body but missing from RequestInit.
  const init: RequestInit & { duplex?: "half" } = {
    method: inbound.method,
    headers,
    body: inbound.body,
    redirect: "manual",
  };
  if (inbound.body) init.duplex = "half";
  return new Request(target, init);
}

export type UpstreamResult =
  | { readonly kind: "response"; readonly response: Response }
  | { readonly kind: "unreachable"; readonly error: unknown }
  | { readonly kind: "timeout" };

export interface FetchUpstreamOptions {
  /**
   * How long the upstream may leave the exchange without progress: while the request body is
   * being sent, the most time between two chunks; once it is sent, the wait for the response
   * headers. The response body may take as long as it takes.
   */
  readonly timeoutMs: number;
  /**
   * Defaults to the global `fetch`. It is called as a plain function, so pass a Workers service
   * binding as `(request) => env.SERVICE.fetch(request)`.
   */
  readonly fetch?: typeof fetch;
}

/**
 * Sends the request and classifies the outcome. Past `timeoutMs` without progress (see
 * {@link FetchUpstreamOptions.timeoutMs}) the request is aborted and the result is `timeout`; any
 * other failure before the headers is `unreachable`. An upload that keeps moving is never cut
 * short, however long it takes.
 */
export async function fetchUpstream(
  request: Request,
  options: FetchUpstreamOptions,
): Promise<UpstreamResult> {
  const send = options.fetch ?? fetch;
  const deadline = new ProgressDeadline(options.timeoutMs);
  try {
    const signal = AbortSignal.any([request.signal, deadline.signal]);
    // Only a request with a body pays for the watched stream; `duplex` is required with it.
    const init: RequestInit & { duplex?: "half" } = request.body
      ? { signal, body: withLength(deadline.watch(request.body), request.headers), duplex: "half" }
      : { signal };
    return { kind: "response", response: await send(request, init) };
  } catch (error) {
    return deadline.signal.aborted ? { kind: "timeout" } : { kind: "unreachable", error };
  } finally {
    // Once the headers are in, the deadline is over: the body streams for as long as it needs.
    deadline.stop();
  }
}

/** workerd's TransformStream that gives the stream passing through it a known length. */
type FixedLengthStreamClass = new (length: number) => TransformStream<Uint8Array, Uint8Array>;
const FixedLengthStream = (globalThis as { FixedLengthStream?: FixedLengthStreamClass })
  .FixedLengthStream;

/**
 * The watched body with the length `Content-Length` declares, where the runtime can carry one on
 * a stream (workerd's FixedLengthStream), so the upstream still gets a `Content-Length` and not a
 * chunked body. Deno's fetch cannot: a watched body goes out chunked there, which RFC 9112 obliges
 * every HTTP/1.1 server to accept.
 */
function withLength(
  body: ReadableStream<Uint8Array>,
  headers: Headers,
): ReadableStream<Uint8Array> {
  const declared = headers.get("content-length");
  if (FixedLengthStream === undefined || declared === null || !/^\d+$/.test(declared)) return body;
  return body.pipeThrough(new FixedLengthStream(Number(declared)));
}

/** An abort signal that fires once `timeoutMs` pass without a restart. */
class ProgressDeadline {
  readonly #controller = new AbortController();
  readonly #timeoutMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#restart();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** `body` passed through; each chunk taken, and its end, restart the deadline. */
  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          this.#restart();
          controller.enqueue(chunk);
        },
        flush: () => this.#restart(),
      }),
    );
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #restart(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#controller.abort(), this.#timeoutMs);
  }
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * The response to send downstream: status (redirects and their `Location` untouched), headers
 * minus hop-by-hop ones, body streamed. A WebSocket upgrade (status 101; in Workers a response with
 * a `webSocket`) is returned as is, since it cannot be rebuilt.
 */
export function downstreamResponse(upstream: Response): Response {
  if (upstream.status === 101 || webSocketOf(upstream) !== undefined) return upstream;
  const headers = new Headers(upstream.headers);
  stripHopByHop(headers, false);
  return new Response(NULL_BODY_STATUSES.has(upstream.status) ? null : upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers,
  });
}

const ERROR_STATUS_TEXT = {
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  502: "Bad Gateway",
  504: "Gateway Timeout",
} as const;

export type ErrorStatus = keyof typeof ERROR_STATUS_TEXT;

/**
 * A short plain-text answer for a request the proxy could not forward: the status and the request
 * id to quote, nothing else. What went wrong (upstream addresses, configuration) is for the log and
 * the span, never for the client.
 */
export function errorResponse(status: ErrorStatus, requestId: string): Response {
  return new Response(`${status} ${ERROR_STATUS_TEXT[status]}\nrequest id: ${requestId}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** What a 405 and `OPTIONS *` list: the common methods (any other method is forwarded too). */
const ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/** Methods the Fetch API will not send (`new Request` throws), matched case-insensitively. */
const UNFORWARDABLE_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);

export function isForwardableMethod(method: string): boolean {
  return !UNFORWARDABLE_METHODS.has(method.toUpperCase());
}

/**
 * The 405 for a method the proxy cannot forward (RFC 9110 wants an `Allow` in a 405).
 */
export function methodNotForwarded(requestId: string): Response {
  const response = errorResponse(405, requestId);
  response.headers.set("allow", ALLOWED_METHODS);
  return response;
}

/**
 * `OPTIONS *` asks about the server, not a resource (RFC 9110 section 9.3.7): the proxy answers
 * it, as there is no resource to forward it to. The Fetch API turns the `*` target into the path
 * `/*`, so a literal `OPTIONS /*` is answered here too.
 */
export function isServerWideOptions(method: string, pathname: string): boolean {
  return method === "OPTIONS" && pathname === "/*";
}

export function serverWideOptions(): Response {
  return new Response(null, { status: 204, headers: { allow: ALLOWED_METHODS } });
}

/** Headers that describe one connection, not the message (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

function stripHopByHop(headers: Headers, keepWebSocketUpgrade: boolean): void {
  const named = tokens(headers.get("connection")).filter(isToken);
  for (const name of [...HOP_BY_HOP, ...named]) headers.delete(name);
  for (const name of [...headers.keys()]) {
    if (name.startsWith("proxy-")) headers.delete(name);
  }
  if (keepWebSocketUpgrade) {
    headers.set("connection", "Upgrade");
    headers.set("upgrade", "websocket");
  }
}

export function isWebSocketUpgrade(headers: Headers): boolean {
  return tokens(headers.get("upgrade")).includes("websocket") &&
    tokens(headers.get("connection")).includes("upgrade");
}

/** The lower-cased items of a comma-separated header value. */
function tokens(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((item) => item.trim().toLowerCase()).filter((item) => item !== "");
}
