/**
 * HTTP span names, attributes and statuses per the stable OpenTelemetry HTTP semantic conventions.
 * These run on every request: one `URL` parse per call, and headers are read with targeted `get`
 * calls (iterating a `Headers` sorts and combines the whole list: ~40x slower in Deno).
 */

import { type Attributes, SpanStatusCode } from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_HEADER,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_HEADER,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  HTTP_REQUEST_METHOD_VALUE_CONNECT,
  HTTP_REQUEST_METHOD_VALUE_DELETE,
  HTTP_REQUEST_METHOD_VALUE_GET,
  HTTP_REQUEST_METHOD_VALUE_HEAD,
  HTTP_REQUEST_METHOD_VALUE_OPTIONS,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
  HTTP_REQUEST_METHOD_VALUE_PATCH,
  HTTP_REQUEST_METHOD_VALUE_POST,
  HTTP_REQUEST_METHOD_VALUE_PUT,
  HTTP_REQUEST_METHOD_VALUE_TRACE,
} from "@opentelemetry/semantic-conventions";
import { forwardedOrigin } from "./forwarded.ts";
import { type HostAndPort, portNumber } from "./host.ts";
import { redactHref, redactQuery, redactUrl, type SensitiveQueryParams } from "./redact.ts";

const KNOWN_METHODS: ReadonlySet<string> = new Set([
  HTTP_REQUEST_METHOD_VALUE_GET,
  HTTP_REQUEST_METHOD_VALUE_HEAD,
  HTTP_REQUEST_METHOD_VALUE_POST,
  HTTP_REQUEST_METHOD_VALUE_PUT,
  HTTP_REQUEST_METHOD_VALUE_DELETE,
  HTTP_REQUEST_METHOD_VALUE_CONNECT,
  HTTP_REQUEST_METHOD_VALUE_OPTIONS,
  HTTP_REQUEST_METHOD_VALUE_TRACE,
  HTTP_REQUEST_METHOD_VALUE_PATCH,
  // Semconv 1.45 counts QUERY (draft-ietf-httpbis-safe-method-w-body) as known; its value
  // constant is exported only from the /incubating entry point.
  "QUERY",
]);

/** Span-name method part for methods that are not known (semconv: "`{method}` MUST be `HTTP`"). */
const UNKNOWN_METHOD_SPAN_NAME = "HTTP";

/**
 * Headers never recorded as attributes, whatever `TRACEGATE_CAPTURE_*_HEADERS` lists: each carries
 * a credential or a session. The standard ones (RFC 9110 `Authorization`, `Proxy-Authorization`;
 * RFC 6265 `Cookie`, `Set-Cookie`), the API-key headers of widely used platforms (`X-API-Key`,
 * Azure's `api-key`, Google's `X-Goog-API-Key`), token headers (`X-Auth-Token` of OpenStack,
 * `X-Access-Token`, `X-Amz-Security-Token` of AWS STS, `X-Vault-Token`, the access token
 * oauth2-proxy forwards in `X-Forwarded-Access-Token`), anti-CSRF tokens (`X-CSRF-Token`,
 * `X-XSRF-Token`) and tracegate's own force header under its default name. The proxy adds its
 * configured force header name (see proxy/config.ts).
 */
export const NEVER_CAPTURED_HEADERS: readonly string[] = Object.freeze([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "x-auth-token",
  "x-access-token",
  "x-amz-security-token",
  "x-vault-token",
  "x-forwarded-access-token",
  "x-csrf-token",
  "x-xsrf-token",
  "x-tracegate-force",
]);

const NEVER_CAPTURED: ReadonlySet<string> = new Set(NEVER_CAPTURED_HEADERS);

export interface NormalizedMethod {
  /** The `http.request.method` value: a known method as sent, else `_OTHER`. */
  readonly method: string;
  /** The `http.request.method_original` value, present only when `method` is `_OTHER`. */
  readonly original?: string;
}

/** Methods are matched case-sensitively, as the conventions require: `get` is not known. */
export function normalizeMethod(method: string): NormalizedMethod {
  return KNOWN_METHODS.has(method)
    ? { method }
    : { method: HTTP_REQUEST_METHOD_VALUE_OTHER, original: method };
}

/**
 * `{method} {route}`, or `{method}` without a route; `method` may be raw or normalized: any method
 * that is not known (including `_OTHER`) is named `HTTP`.
 */
export function spanNameFor(method: string, route?: string): string {
  const methodPart = KNOWN_METHODS.has(method) ? method : UNKNOWN_METHOD_SPAN_NAME;
  return route ? `${methodPart} ${route}` : methodPart;
}

export interface ServerRequestAttributeOptions {
  /**
   * Trust `Forwarded` (for, host, proto) and `X-Forwarded-For`/`-Host`/`-Proto` for
   * `client.address`, `server.address`/`server.port` and `url.scheme`. Only safe behind a proxy
   * that overwrites these headers: clients can send anything.
   */
  readonly trustForwardedFor: boolean;
  readonly sensitiveQueryParams: SensitiveQueryParams;
  /** Headers recorded as `http.request.header.<name>` (`requestHeaderCaptures`). */
  readonly capturedRequestHeaders: readonly HeaderCapture[];
  /** The socket peer address as the runtime reports it. */
  readonly clientAddress?: string;
}

/** The attributes of an HTTP server span known when the request arrives. */
export function serverRequestAttributes(
  request: Request,
  options: ServerRequestAttributeOptions,
): Attributes {
  const url = requestUrlParts(request.url);
  const headers = request.headers;
  const attributes = methodAttributes(request.method);
  attributes[ATTR_URL_PATH] = recentPaths.of(url.pathname);
  if (url.search !== "") {
    attributes[ATTR_URL_QUERY] = redactQuery(url.search, options.sensitiveQueryParams);
  }

  let scheme = url.scheme;
  let server: HostAndPort = { address: unbracket(url.hostname), port: portNumber(url.port) };
  let clientAddress = options.clientAddress;
  if (options.trustForwardedFor) {
    const origin = forwardedOrigin(headers);
    scheme = origin.scheme ?? scheme;
    server = origin.server ?? server;
    clientAddress = origin.clientAddress ?? clientAddress;
  }
  attributes[ATTR_URL_SCHEME] = recentSchemes.of(scheme);
  if (server.address !== "") {
    attributes[ATTR_SERVER_ADDRESS] = recentServers.of(server.address);
    const port = server.port ?? defaultPortFor(scheme);
    if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
  }
  if (clientAddress) attributes[ATTR_CLIENT_ADDRESS] = recentClients.of(clientAddress);

  const userAgent = headers.get("user-agent");
  if (userAgent !== null) attributes[ATTR_USER_AGENT_ORIGINAL] = recentUserAgents.of(userAgent);
  captureHeaders(attributes, headers, options.capturedRequestHeaders);
  return attributes;
}

/**
 * The string last given, when `value` equals it: attribute values repeat from one request to the
 * next (the scheme, the host, the client's address and user agent, the upstream URL), and a span
 * that holds that one string rather than its request's own copy keeps less alive until its export,
 * where the encoder then finds the value it cached by identity, without reading a copy it has not
 * touched since the request.
 */
class Recent {
  #last = "";

  of(value: string): string {
    if (value === this.#last) return this.#last;
    this.#last = value;
    return value;
  }
}

const recentPaths = new Recent();
const recentSchemes = new Recent();
const recentServers = new Recent();
const recentClients = new Recent();
const recentUserAgents = new Recent();
const recentUrls = new Recent();
const recentUpstreams = new Recent();

/** What the server attributes read of a request's URL, with `URL`'s names and values. */
export interface RequestUrlParts {
  /** Without the colon. */
  readonly scheme: string;
  /** IPv6 in brackets, as `URL.hostname`. */
  readonly hostname: string;
  /** "" for the scheme's default port, as `URL.port`. */
  readonly port: string;
  readonly pathname: string;
  /** "?" and the query, "" for none or an empty one, as `URL.search`. */
  readonly search: string;
}

/**
 * The parts of an http(s) `Request.url`, cut from the string: it is already the URL parser's
 * serialization (`scheme://host[:port]/path[?query][#fragment]`, default port left out), so
 * parsing it again with `URL` (a quarter of the attributes' cost) finds nothing new. Anything
 * else (another scheme, user info) goes through `URL`. Checked against `URL` in
 * tests/unit/http_attributes_test.ts.
 */
export function requestUrlParts(href: string): RequestUrlParts {
  const schemeEnd = href.indexOf("://");
  const scheme = href.slice(0, schemeEnd);
  const pathStart = href.indexOf("/", schemeEnd + 3);
  const authority = href.slice(schemeEnd + 3, pathStart);
  if ((scheme !== "http" && scheme !== "https") || pathStart === -1 || authority.includes("@")) {
    const url = new URL(href);
    return {
      scheme: url.protocol.slice(0, -1),
      hostname: url.hostname,
      port: url.port,
      pathname: url.pathname,
      search: url.search,
    };
  }
  const portColon = authority.lastIndexOf(":");
  const hasPort = portColon !== -1 && portColon > authority.lastIndexOf("]");
  let fragment = href.indexOf("#", pathStart);
  if (fragment === -1) fragment = href.length;
  let query = href.indexOf("?", pathStart);
  if (query === -1 || query > fragment) query = fragment;
  return {
    scheme,
    hostname: hasPort ? authority.slice(0, portColon) : authority,
    port: hasPort ? authority.slice(portColon + 1) : "",
    pathname: href.slice(pathStart, query),
    search: fragment - query > 1 ? href.slice(query, fragment) : "",
  };
}

/** The attributes of an HTTP client span known before the request is sent. */
export function clientRequestAttributes(
  request: Pick<Request, "method" | "url">,
  sensitiveQueryParams: SensitiveQueryParams,
): Attributes {
  // Cut from the string as the server's are (in workerd a `URL` and each of its getters is a
  // native object and call); user info, which `url.full` redacts, is read by the parser.
  const href = request.url;
  const url = requestUrlParts(href);
  const attributes = methodAttributes(request.method);
  attributes[ATTR_URL_FULL] = recentUrls.of(
    href.includes("@")
      ? redactUrl(href, sensitiveQueryParams)
      : redactHref(href, sensitiveQueryParams),
  );
  attributes[ATTR_SERVER_ADDRESS] = recentUpstreams.of(unbracket(url.hostname));
  const port = portNumber(url.port) ?? defaultPortFor(url.scheme);
  if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
  return attributes;
}

/** `http.response.status_code` and the captured `http.response.header.<name>` attributes. */
export function responseAttributes(
  response: Response,
  capturedResponseHeaders: readonly HeaderCapture[],
): Attributes {
  const attributes: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: response.status };
  captureHeaders(attributes, response.headers, capturedResponseHeaders);
  return attributes;
}

export interface HttpSpanStatus {
  readonly code: SpanStatusCode;
  /** The `error.type` value (the status code as a string), present only on errors. */
  readonly errorType?: string;
}

const UNSET_STATUS: HttpSpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/** Server spans: ERROR on 5xx (and codes outside 100–599); 4xx is left unset. */
export function serverStatusFor(statusCode: number): HttpSpanStatus {
  return statusCode >= 500 || !isValidStatusCode(statusCode)
    ? errorStatus(statusCode)
    : UNSET_STATUS;
}

/** Client spans: ERROR on 4xx and 5xx (and codes outside 100–599). */
export function clientStatusFor(statusCode: number): HttpSpanStatus {
  return statusCode >= 400 || !isValidStatusCode(statusCode)
    ? errorStatus(statusCode)
    : UNSET_STATUS;
}

function isValidStatusCode(statusCode: number): boolean {
  return Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599;
}

function errorStatus(statusCode: number): HttpSpanStatus {
  return { code: SpanStatusCode.ERROR, errorType: String(statusCode) };
}

function methodAttributes(rawMethod: string): Attributes {
  const { method, original } = normalizeMethod(rawMethod);
  const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method };
  if (original !== undefined) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = original;
  return attributes;
}

function defaultPortFor(scheme: string): number | undefined {
  if (scheme === "https") return 443;
  if (scheme === "http") return 80;
  return undefined;
}

/** IP addresses are recorded without the URI brackets of IPv6 literals. */
function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

export interface HeaderCapture {
  /** Lower-case header name. */
  readonly header: string;
  readonly attribute: string;
}

/** Header names (any case) as `http.request.header.<name>` captures; credentials left out. */
export function requestHeaderCaptures(names: readonly string[]): readonly HeaderCapture[] {
  return headerCaptures(names, ATTR_HTTP_REQUEST_HEADER);
}

/** Header names (any case) as `http.response.header.<name>` captures; credentials left out. */
export function responseHeaderCaptures(names: readonly string[]): readonly HeaderCapture[] {
  return headerCaptures(names, ATTR_HTTP_RESPONSE_HEADER);
}

function headerCaptures(
  names: readonly string[],
  attributeFor: (header: string) => string,
): readonly HeaderCapture[] {
  const headers = new Set(
    names.map((name) => name.trim().toLowerCase()).filter((name) =>
      name !== "" && !NEVER_CAPTURED.has(name)
    ),
  );
  return [...headers].map((header) => ({ header, attribute: attributeFor(header) }));
}

/**
 * Fetch `Headers` joins repeated fields with ", ", so each value is a one-item array: one of the
 * two forms the conventions allow.
 */
function captureHeaders(
  attributes: Attributes,
  headers: Headers,
  captures: readonly HeaderCapture[],
): void {
  for (const { header, attribute } of captures) {
    const value = headers.get(header);
    if (value !== null) attributes[attribute] = [value];
  }
}
