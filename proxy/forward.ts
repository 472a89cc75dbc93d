/**
 * Forwarding one request to its upstream and its response back, with the Fetch API only so the
 * same code runs in workerd and Deno. Bodies are streamed in both directions, never buffered.
 */
import { contentLength } from "../src/http/body_end.ts";
import { isToken } from "../src/http/token.ts";
import type { ProgressDeadline } from "./deadline.ts";
import type { UpstreamTarget } from "./routes.ts";
import { webSocketOf } from "../src/http/websocket.ts";
import type { UnbuiltRequest } from "../src/tracing/client.ts";

export interface ForwardingOptions {
  /** The connecting client's address, appended to `X-Forwarded-For`. */
  readonly clientAddress?: string;
  /** The host the client asked for; sent as `X-Forwarded-Host` unless one is already present. */
  readonly forwardedHost: string;
  /** The scheme the client used; sent as `X-Forwarded-Proto` unless one is already present. */
  readonly forwardedProto: "http" | "https";
  /** Request headers that must not reach the upstream (e.g. a force-tracing header). */
  readonly stripHeaders?: readonly string[];
  /** Aborts the request once the upstream stops making progress (see {@link fetchUpstream}). */
  readonly deadline: ProgressDeadline;
  /** The inbound request's fields, when already read. */
  readonly fields?: Fields;
}

/**
 * The request to send upstream, in parts: {@link fetchUpstream} builds and sends it, so that the
 * trace context can be written into its headers before (see `ClientSpan`).
 */
export interface UpstreamRequest extends UnbuiltRequest {
  /** The inbound body, streamed through the deadline's watch; absent when there is none. */
  readonly body?: ReadableStream<Uint8Array>;
  /** It asks to upgrade to a WebSocket: only then is a 101 relayed. */
  readonly upgrade: boolean;
}

/**
 * The request to send upstream: the inbound method, headers and body (streamed), minus hop-by-hop
 * headers, with `Host` set to the target's; sent with redirects passed back rather than followed,
 * and the deadline's signal (watching the upload's progress when there is a body).
 *
 * `X-Forwarded-For` gets the client address appended to any existing value. `X-Forwarded-Proto`
 * and `X-Forwarded-Host` are only set when absent: a proxy in front of this one (a CDN) saw the
 * client's original scheme and host, which this proxy cannot know better. Like any X-Forwarded-*
 * header, they are as trustworthy as the hop that set them.
 *
 * The headers are read once, into pairs the client span adds the trace context to, and the Request
 * is built once, by `fetch`: in Deno, copying a `Headers` (`new Headers(h)`, or a `Headers` in an
 * init) walks it through WebIDL conversion, a `for…of` over it costs eight times a `forEach`
 * (measured with `deno bench` on Deno 2.9.6: 140 µs for copy, strip and rebuild, 31 µs with one
 * `forEach`), and every field deleted or set on a built Request is validated and its header list
 * scanned again.
 */
export function upstreamRequest(
  inbound: Request,
  target: UpstreamTarget,
  options: ForwardingOptions,
): UpstreamRequest {
  const received = options.fields ?? new Fields(inbound.headers);
  const earlier = received.get("x-forwarded-for");
  const { clientAddress } = options;
  const forwardedFor = clientAddress === undefined
    ? earlier
    : earlier
    ? `${earlier}, ${clientAddress}`
    : clientAddress;
  // workerd sends every subrequest with the Host of its URL, whatever the headers say.
  const added: [string, string][] = NATIVE_HEADERS ? [] : [["host", target.host]];
  if (forwardedFor !== null) added.push(["x-forwarded-for", forwardedFor]);
  if (!received.has("x-forwarded-proto")) added.push(["x-forwarded-proto", options.forwardedProto]);
  if (!received.has("x-forwarded-host")) added.push(["x-forwarded-host", options.forwardedHost]);
  const upgrade = isWebSocketUpgrade(received);
  if (upgrade) added.push(["connection", "Upgrade"], ["upgrade", "websocket"]);
  const dropped = ["host", "x-forwarded-for"];
  for (const name of options.stripHeaders ?? []) dropped.push(name.toLowerCase());
  const headers = endToEnd(received, dropped, added);
  const method = fetchMethod(inbound.method);
  // Every name the copy may hold: the received ones (those dropped among them) and the added ones.
  const names = received.names.concat(added.map(([name]) => name));
  const { body } = inbound;
  // Only a request with a body pays for the watched stream.
  if (!body) return { method, url: target.href, headers, names, upgrade };
  return {
    method,
    url: target.href,
    headers,
    names,
    upgrade,
    body: withLength(options.deadline.watch(body), received.get("content-length")),
  };
}

/** The methods the Fetch standard upper-cases when a Request is built ("normalize a method"). */
const NORMALIZED_METHODS: ReadonlySet<string> = new Set([
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "POST",
  "PUT",
]);

/**
 * The method as the Request built from it will carry it, for the span to record before it is
 * built (it is what the Fetch standard's constructor makes of it; tested against `new Request`).
 */
export function fetchMethod(method: string): string {
  if (NORMALIZED_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

export type UpstreamResult =
  | { readonly kind: "response"; readonly response: Response }
  /**
   * A response with a status HTTP cannot pass on (600–999, say, or a 101 to a request that did not
   * ask to upgrade); its body is cancelled.
   */
  | { readonly kind: "unrelayable"; readonly response: Response }
  | { readonly kind: "unreachable"; readonly error: unknown }
  | { readonly kind: "timeout" };

/**
 * Sends a request made by {@link upstreamRequest} with `deadline`, and classifies the outcome.
 * The deadline is how long the upstream may leave the exchange without progress: while the
 * request body is being sent, the most time between two chunks; once it is sent, the wait for
 * the response headers. Past it the request is aborted and the result is `timeout`; any other
 * failure before the headers is `unreachable`. A response with a status no Response can be built
 * with (`fetch` passes a 600 on), or a 101 the request did not ask for, is `unrelayable`. An upload
 * that keeps moving is never cut short, however long it takes, and the response body may take as
 * long as it takes.
 *
 * `send` defaults to the global `fetch`. It is called as a plain function with a URL and an init,
 * so pass a Workers service binding as `(url, init) => env.SERVICE.fetch(url, init)`.
 */
export async function fetchUpstream(
  request: UpstreamRequest,
  deadline: ProgressDeadline,
  send: typeof fetch = fetch,
): Promise<UpstreamResult> {
  // Built here and only here, inside `send`: `fetch` builds a Request even from a Request, and a
  // second Request also chains a second abort signal to the deadline's (Deno 2.9.6: a WeakRef each).
  const init = upstreamInit(request, deadline.signal);
  deadline.start();
  try {
    const response = await send(request.url, init);
    if (isRelayable(response.status, request)) return { kind: "response", response };
    response.body?.cancel().catch(() => {});
    return { kind: "unrelayable", response };
  } catch (error) {
    return deadline.expired ? { kind: "timeout" } : { kind: "unreachable", error };
  } finally {
    // Once the headers are in, the deadline is over: the body streams for as long as it needs.
    deadline.stop();
  }
}

/** The final statuses a Response can be built with, and 101 when the request asked to upgrade. */
function isRelayable(status: number, request: UpstreamRequest): boolean {
  if (status === 101) return request.upgrade;
  return status >= 200 && status <= 599;
}

/** The init an upstream request is built with: redirects are passed back, not followed. */
export function upstreamInit(request: UpstreamRequest, signal: AbortSignal): RequestInit {
  // `duplex` is required by the Fetch standard for a stream body but missing from RequestInit.
  const init: RequestInit & { duplex?: "half" } = {
    method: request.method,
    headers: request.headers,
    redirect: "manual",
    signal,
  };
  if (request.body) {
    init.body = request.body;
    init.duplex = "half";
  }
  return init;
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
  declared: string | null,
): ReadableStream<Uint8Array> {
  const length = contentLength(declared);
  if (FixedLengthStream === undefined || length === undefined) return body;
  return body.pipeThrough(new FixedLengthStream(length));
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * The response to send downstream: status (redirects and their `Location` untouched), headers
 * minus hop-by-hop ones, body streamed (the same stream: Deno still sends a fetched body from its
 * native resource), or `relayed`, the body as the runtime read it ahead. A WebSocket upgrade
 * (status 101; in Workers a response with a `webSocket`) is returned as is, since it cannot be
 * rebuilt.
 */
export function downstreamResponse(upstream: Response, relayed?: BodyInit): Response {
  const { status } = upstream;
  if (status === 101 || webSocketOf(upstream) !== undefined) return upstream;
  const body = NULL_BODY_STATUSES.has(status) ? null : relayed ?? upstream.body;
  if (NATIVE_HEADERS) {
    // Built from the Response itself, workerd copies status, status text and headers natively: one
    // copy of the headers and no init to convert (a copied `Headers` in an init is copied again).
    const copy = new Response(body, upstream);
    const fields = new Fields(upstream.headers);
    const gone = fields.names.filter(droppedBy(fields.get("connection"), []));
    if (gone.length > 0) {
      const { headers } = copy;
      for (const name of gone) headers.delete(name);
    }
    return copy;
  }
  // Appended to the built Response, not given in its init: Deno converts an init's pairs with
  // WebIDL's generic sequence conversion, dearer than `append` (Deno 2.9.6, the bench upstream's
  // response with the hand-back headers set after: 2.4 µs given in the init, 2.0 µs appended).
  const response = new Response(body, { status, statusText: upstream.statusText });
  const { headers } = response;
  const dropped = droppedBy(upstream.headers.get("connection"), []);
  upstream.headers.forEach((value, name) => {
    if (!dropped(name)) headers.append(name, value);
  });
  return response;
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
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * workerd's `Headers` is native: there a copy with the hop-by-hop fields deleted costs less than
 * reading the fields into pairs and the Request or Response constructor converting them back
 * (the `Response` constructor was the proxy Worker's largest own cost in its profile on bare
 * workerd). Deno's is JavaScript: a copy goes through WebIDL conversion, so pairs read with
 * `forEach` are cheaper there. Told apart by workerd's `FixedLengthStream`.
 */
const NATIVE_HEADERS = FixedLengthStream !== undefined;

/**
 * A message's header fields, read once. In workerd the names, with one pass of `keys()`, and a
 * value asked for only when its name is present: every call into workerd's native `Headers` costs
 * about as much as the work it does (callgrind on bare workerd: 3.1 k instructions a `get`, 2.7 k
 * a `has`, 2.1 k a field of `keys()`, 4.9 k a field of `forEach`, which calls back into
 * JavaScript for each). In Deno the name and value pairs, with one `forEach`.
 */
export class Fields {
  readonly names: string[] = [];
  readonly #pairs: [string, string][] | undefined;

  constructor(readonly headers: Headers) {
    if (NATIVE_HEADERS) {
      for (const name of headers.keys()) this.names.push(name);
      return;
    }
    const pairs: [string, string][] = [];
    headers.forEach((value, name) => {
      this.names.push(name);
      pairs.push([name, value]);
    });
    this.#pairs = pairs;
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }

  keys(): ArrayIterator<string> {
    return this.names.values();
  }

  /** As `Headers.get` answers it: the name is case-insensitive. */
  get(name: string): string | null {
    const key = name.toLowerCase();
    if (this.#pairs === undefined) return this.has(key) ? this.headers.get(key) : null;
    return this.#pairs.find((pair) => pair[0] === key)?.[1] ?? null;
  }

  /** The pairs (Deno), to build the upstream Request from. */
  get pairs(): [string, string][] | undefined {
    return this.#pairs;
  }
}

/**
 * The end-to-end fields (hop-by-hop ones, the ones `Connection` names and `proxy-*` ones left out)
 * minus the lower-case names in `drop`, plus `add`: for the upstream Request.
 */
function endToEnd(
  fields: Fields,
  drop: readonly string[],
  add: readonly [string, string][],
): [string, string][] | Headers {
  const dropped = droppedBy(fields.get("connection"), drop);
  const { pairs } = fields;
  if (pairs === undefined) {
    const copy = new Headers(fields.headers);
    for (const name of fields.names) if (dropped(name)) copy.delete(name);
    for (const [name, value] of add) copy.append(name, value);
    return copy;
  }
  const kept = pairs.filter(([name]) => !dropped(name));
  kept.push(...add);
  return kept;
}

/** Whether a field is not end-to-end (given the `Connection` value), or is in `drop`. */
export function droppedBy(
  connection: string | null,
  drop: readonly string[],
): (name: string) => boolean {
  const named = connection === null ? undefined : tokens(connection).filter(isToken);
  return (name) =>
    HOP_BY_HOP.has(name) || name.startsWith("proxy-") || named?.includes(name) === true ||
    drop.includes(name);
}

export function isWebSocketUpgrade(headers: Pick<Headers, "get">): boolean {
  return tokens(headers.get("upgrade")).includes("websocket") &&
    tokens(headers.get("connection")).includes("upgrade");
}

/** The lower-cased items of a comma-separated header value. */
function tokens(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((item) => item.trim().toLowerCase()).filter((item) => item !== "");
}
