/**
 * Which upstream serves a request, and the exact URL it is sent to.
 *
 * Configuration, exactly one of:
 * - `TRACEGATE_UPSTREAM=http://127.0.0.1:9000/base` — every request goes to one upstream.
 * - `TRACEGATE_ROUTES` — entries `[host]/prefix=http(s)://base`, separated by commas or newlines
 *   (`/api=http://127.0.0.1:9001, /=http://127.0.0.1:9000, shop.example.com/=http://127.0.0.1:9002`),
 *   or the same as a JSON object (`{"/api": "http://127.0.0.1:9001"}`). Commas inside a base URL
 *   must be percent-encoded in the list form.
 *
 * Matching rule: entries for the request's host (compared case-insensitively, port ignored) form
 * a virtual host and are tried first; host-less entries apply only when none of the host's entries
 * match. Within each group the longest prefix wins. A prefix matches on segment boundaries (`/api`
 * matches `/api` and `/api/x`, not `/apix`), a trailing slash in a prefix is ignored, and `/`
 * matches every path.
 *
 * Route templates: an entry whose prefix ends in `/*` (`/api/*=http://up`, `/*=http://up`)
 * declares `/api/*` as its route template: its requests' SERVER spans are named `GET /api/*` and
 * carry `http.route`. Other entries declare none: the span is named by the method alone and has no
 * `http.route`, as the HTTP semantic conventions ask when the route is not known (a prefix is not
 * a template). `/api/*` matches as the prefix `/api` does.
 *
 * Forwarding rule: the request path is forwarded whole, not stripped of the prefix, under the base
 * URL's path: with `/api=http://up/v1`, `/api/users?id=1` goes to `http://up/v1/api/users?id=1`.
 */

import type { EnvReader } from "../src/config/env.ts";
import { parseHttpUrl } from "../src/config/env.ts";
import { parseHost } from "../src/http/host.ts";

export interface Route {
  /**
   * Lower-case host name without port (IPv6 without brackets); undefined for an entry that serves
   * every host.
   */
  readonly host: string | undefined;
  /** Starts with `/`; no trailing slash except for `/` itself. */
  readonly prefix: string;
  /** The upstream: origin plus base path (no query, fragment or credentials). */
  readonly base: URL;
  /** The route template the entry declares (`/api/*`), if any. */
  readonly template?: string;
}

/** Built only by {@link parseRoutes}, so every route in it has been validated. */
export interface RouteTable {
  /** Longest prefix first. */
  readonly routes: readonly Route[];
  /** Some route is for one host: `match` then needs the request's host. */
  readonly virtualHosts: boolean;
  match(host: string | undefined, pathname: string): Route | undefined;
}

class SortedRouteTable implements RouteTable {
  readonly routes: readonly Route[];
  readonly virtualHosts: boolean;

  constructor(routes: readonly Route[]) {
    // Longest prefix first, so the first match within a group is the winner.
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.virtualHosts = routes.some((route) => route.host !== undefined);
  }

  match(host: string | undefined, pathname: string): Route | undefined {
    const path = normalizePath(pathname);
    const requestHost = host === undefined || !this.virtualHosts
      ? undefined
      : parseHost(host)?.address.toLowerCase();
    let hostless: Route | undefined;
    for (const route of this.routes) {
      if (!prefixMatches(route.prefix, path)) continue;
      if (route.host === undefined) hostless ??= route;
      else if (route.host === requestHost) return route;
    }
    return hostless;
  }
}

const UPSTREAM = "TRACEGATE_UPSTREAM";
const ROUTES = "TRACEGATE_ROUTES";
const UPSTREAM_FORM = "an absolute http:// or https:// base URL without query, fragment or " +
  "credentials";
const ROUTES_FORM =
  "comma- or newline-separated [host]/prefix[/*]=http(s)://base entries, or a JSON " +
  'object {"[host]/prefix": "http(s)://base"}';

/** The route table from `TRACEGATE_UPSTREAM` or `TRACEGATE_ROUTES`; undefined after a failure. */
export function parseRoutes(reader: EnvReader): RouteTable | undefined {
  const upstream = reader.string(UPSTREAM);
  const routes = reader.string(ROUTES);
  if (upstream !== undefined && routes !== undefined) {
    reader.fail(ROUTES, `unset when ${UPSTREAM} is set (set exactly one)`, routes);
    return undefined;
  }
  if (upstream !== undefined) {
    const base = parseBase(upstream);
    if (!base) {
      reader.fail(UPSTREAM, UPSTREAM_FORM, upstream);
      return undefined;
    }
    return new SortedRouteTable([{ host: undefined, prefix: "/", base }]);
  }
  if (routes !== undefined) return parseRouteTable(reader, routes);
  reader.fail(UPSTREAM, `${UPSTREAM_FORM} (or ${ROUTES} set instead)`, "");
  return undefined;
}

function parseRouteTable(reader: EnvReader, value: string): RouteTable | undefined {
  const entries = value.startsWith("{") ? jsonEntries(value) : listEntries(value);
  if (!entries || entries.length === 0) {
    reader.fail(ROUTES, ROUTES_FORM, value);
    return undefined;
  }
  const routes: Route[] = [];
  for (const entry of entries) {
    const route = parseEntry(entry, routes);
    if (typeof route === "string") {
      reader.fail(ROUTES, `${route} in ${ROUTES_FORM}`, entry.join("="));
      return undefined;
    }
    routes.push(route);
  }
  return new SortedRouteTable(routes);
}

/** An entry as `[key]` when it has no `=`, else `[key, base]`. */
type Entry = [string] | [string, string];

/** The route an entry describes, or what is wrong with it. */
function parseEntry(entry: Entry, earlier: readonly Route[]): Route | string {
  const [key, baseText] = entry;
  if (baseText === undefined) return "[host]/prefix=base with an =";
  const slash = key.indexOf("/");
  if (slash < 0) return "a prefix starting with /";
  const hostText = key.slice(0, slash);
  const host = hostText === "" ? undefined : parseRouteHost(hostText);
  if (host === null) return "a host name without port or path";
  const path = key.slice(slash);
  const templated = path.endsWith("/*");
  const prefix = parsePrefix(templated ? path.slice(0, -1) : path);
  if (prefix === undefined) return "a plain, normalised path prefix";
  const base = parseBase(baseText);
  if (!base) return "a base URL that is http(s):// without query, fragment or credentials";
  if (earlier.some((route) => route.host === host && route.prefix === prefix)) {
    return "each [host]/prefix only once";
  }
  if (!templated) return { host, prefix, base };
  return { host, prefix, base, template: `${prefix === "/" ? "" : prefix}/*` };
}

function listEntries(value: string): Entry[] {
  return value.split(/[,\r\n]/).map((item) => item.trim()).filter((item) => item !== "").map(
    (item) => {
      const eq = item.indexOf("=");
      return eq < 0 ? [item] : [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
    },
  );
}

function jsonEntries(value: string): Entry[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const entries: Entry[] = [];
  for (const [key, base] of Object.entries(parsed)) {
    if (typeof base !== "string") return undefined;
    entries.push([key.trim(), base.trim()]);
  }
  return entries;
}

/** A lower-case host name; null when it is not one (ports are not part of a route's host). */
function parseRouteHost(text: string): string | null {
  const host = text.toLowerCase();
  const isName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host);
  if (isName) return host;
  return /^\[[0-9a-f:.]+\]$/.test(host) ? host.slice(1, -1) : null;
}

/** The prefix without trailing slash, or undefined unless the URL parser leaves it unchanged. */
function parsePrefix(text: string): string | undefined {
  if (!text.startsWith("/") || text.includes("//") || normalizePath(text) !== text) {
    return undefined;
  }
  return text === "/" ? text : text.replace(/\/$/, "");
}

function parseBase(text: string): URL | undefined {
  const url = parseHttpUrl(text);
  if (!url || url.username !== "" || url.password !== "" || /[?#]/.test(text)) return undefined;
  return url;
}

/** The base path without trailing slash, `""` for the root. */
function basePath(base: URL): string {
  return base.pathname.replace(/\/+$/, "");
}

/**
 * Characters the URL path parser leaves as they are (RFC 3986 unreserved, sub-delims, `:`, `@`,
 * `/` and `%`): a path of only these, without dot segments, is its own normal form.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/** `.` or `..` as a segment, plain or percent-encoded (`%2e`), as the URL parser finds them. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * The path as the URL parser normalises it. A request path is nearly always in normal form
 * already (it came out of the parser): that is told by two regular expressions, about a tenth of
 * what a parse costs (`tests/unit/routes_test.ts` holds them to the parser).
 */
export function normalizePath(pathname: string): string {
  if (PLAIN_PATH.test(pathname) && !DOT_SEGMENT.test(pathname)) return pathname;
  // Assigning to `pathname` (not `new URL(path, base)`) keeps `//host/x` a path, never an authority.
  const url = new URL("http://route.invalid/");
  url.pathname = pathname;
  return url.pathname;
}

function prefixMatches(prefix: string, path: string): boolean {
  return prefix === "/" || path === prefix || path.startsWith(`${prefix}/`);
}

/** Where a request is sent: its absolute URL, and the upstream's origin and host (for `Host`). */
export interface UpstreamTarget {
  readonly href: string;
  readonly origin: string;
  readonly host: string;
}

/**
 * The URL to send a request to: the route's origin, the base path joined with the request's
 * normalised path, and the request's query. The origin comes only from configuration; nothing from
 * the request reaches the authority.
 *
 * Undefined when the request cannot be forwarded safely under this route: its normalised path is
 * outside the route's prefix, or it would leave the prefix (or the base path) once an upstream
 * decodes `%2F`/`%5C` as slashes (`/api/..%2Fadmin`). Encoded slashes that stay inside are
 * forwarded as they are.
 */
export function upstreamUrl(route: Route, requestUrl: URL): UpstreamTarget | undefined {
  const { pathname } = requestUrl;
  // Joined as text, not parsed again (Request parses it once): the origin is the configured one,
  // and a path starting with `/` ends the authority, so nothing from the request can reach it.
  if (!pathname.startsWith("/") || !prefixMatches(route.prefix, pathname)) return undefined;
  const { origin, host, path: base } = baseOf(route);
  const path = base + pathname;
  const allowed = route.prefix === "/" ? base || "/" : base + route.prefix;
  const withinPrefix = (path: string) => prefixMatches(allowed, path);
  if (!withinPrefix(path)) return undefined;
  if (ENCODED_SLASH.test(path) && !withinPrefix(normalizePath(decodeSlashes(path)))) {
    return undefined;
  }
  return { href: `${origin}${path}${requestUrl.search}`, origin, host };
}

/** A route's base as text, read once: in workerd every getter of a `URL` calls into the runtime. */
const BASES = new WeakMap<Route, { origin: string; host: string; path: string }>();

function baseOf(route: Route): { origin: string; host: string; path: string } {
  let base = BASES.get(route);
  if (base === undefined) {
    const { origin, host } = route.base;
    base = { origin, host, path: basePath(route.base) };
    BASES.set(route, base);
  }
  return base;
}

const ENCODED_SLASH = /%2f|%5c/i;

/** The path as an upstream that decodes `%2F` and `%5C` into separators would see it. */
function decodeSlashes(path: string): string {
  return path.replace(/%2f|%5c/gi, "/");
}
