/**
 * Forwarding one request to its upstream and its response back, with the Fetch API only so the
 * same code runs in workerd and Deno. Bodies are streamed in both directions, never buffered.
 */

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
  /** How long to wait for the response headers; the body may take as long as it takes. */
  readonly timeoutMs: number;
  /**
   * Defaults to the global `fetch`. It is called as a plain function, so pass a Workers service
   * binding as `(request) => env.SERVICE.fetch(request)`.
   */
  readonly fetch?: typeof fetch;
}

/**
 * Sends the request and classifies the outcome. Past `timeoutMs` without response headers the
 * request is aborted and the result is `timeout`; any failure before the headers is `unreachable`.
 */
export async function fetchUpstream(
  request: Request,
  options: FetchUpstreamOptions,
): Promise<UpstreamResult> {
  const send = options.fetch ?? fetch;
  const headersDeadline = new AbortController();
  const timer = setTimeout(() => headersDeadline.abort(), options.timeoutMs);
  try {
    const signal = AbortSignal.any([request.signal, headersDeadline.signal]);
    return { kind: "response", response: await send(request, { signal }) };
  } catch (error) {
    return headersDeadline.signal.aborted ? { kind: "timeout" } : { kind: "unreachable", error };
  } finally {
    // Once the headers are in, the deadline is over: the body streams for as long as it needs.
    clearTimeout(timer);
  }
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * The response to send downstream: status (redirects and their `Location` untouched), headers
 * minus hop-by-hop ones, body streamed. A WebSocket upgrade (status 101; in Workers a response with
 * a `webSocket`) is returned as is, since it cannot be rebuilt.
 */
export function downstreamResponse(upstream: Response): Response {
  const webSocket = (upstream as Response & { webSocket?: unknown }).webSocket;
  if (upstream.status === 101 || (webSocket !== undefined && webSocket !== null)) return upstream;
  const headers = new Headers(upstream.headers);
  stripHopByHop(headers, false);
  return new Response(NULL_BODY_STATUSES.has(upstream.status) ? null : upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers,
  });
}

export type ErrorStatus = 404 | 405 | 500 | 502 | 504;

/** A short plain-text answer for a request the proxy could not forward. */
export function errorResponse(status: ErrorStatus, message: string, requestId?: string): Response {
  const body = requestId === undefined ? `${message}\n` : `${message}\nrequest id: ${requestId}\n`;
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** Methods the Fetch API will not send (`new Request` throws), matched case-insensitively. */
const UNFORWARDABLE_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);

export function isForwardableMethod(method: string): boolean {
  return !UNFORWARDABLE_METHODS.has(method.toUpperCase());
}

/**
 * The 405 for a method the proxy cannot forward. RFC 9110 wants an `Allow` in a 405; it lists the
 * common methods, as any other method is forwarded too.
 */
export function methodNotForwarded(method: string, requestId: string): Response {
  const response = errorResponse(
    405,
    `tracegate proxy does not forward ${method} requests`,
    requestId,
  );
  response.headers.set("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  return response;
}

/** Headers that describe one connection, not the message (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function stripHopByHop(headers: Headers, keepWebSocketUpgrade: boolean): void {
  const named = tokens(headers.get("connection")).filter((name) => TOKEN.test(name));
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
