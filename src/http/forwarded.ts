/**
 * What the proxies in front say about the original request: the first (client-most) element of
 * `Forwarded` (RFC 7239), else the first entries of `X-Forwarded-For`/`-Host`/`-Proto`. Only
 * trustworthy behind a proxy that overwrites these headers (`TRACEGATE_TRUST_FORWARDED`).
 */
import { type HostAndPort, parseHost } from "./host.ts";

/**
 * The address in a Forwarded `for=` node or an X-Forwarded-For entry, without brackets or port;
 * undefined for `unknown` and obfuscated (`_name`) nodes, which name no address.
 */
function nodeAddress(value: string): string | undefined {
  const node = value.trim();
  if (node === "" || node.startsWith("_") || node.toLowerCase() === "unknown") return undefined;
  if (node.startsWith("[")) {
    const close = node.indexOf("]");
    return close > 1 ? node.slice(1, close) : undefined;
  }
  const colon = node.indexOf(":");
  // One colon: IPv4 address or name with a port. More than one: a bare IPv6 address.
  if (colon === -1 || colon !== node.lastIndexOf(":")) return node;
  return colon > 0 ? node.slice(0, colon) : undefined;
}

function firstListEntry(value: string | null): string | undefined {
  if (value === null) return undefined;
  const comma = value.indexOf(",");
  return (comma === -1 ? value : value.slice(0, comma)).trim();
}

interface ForwardedPairs {
  for?: string;
  host?: string;
  proto?: string;
}

/**
 * The `for`, `host` and `proto` values of the first (client-most) element of a `Forwarded`
 * header (RFC 7239), unquoted. Hand-written: no parser for it ships with the Fetch API.
 */
function firstForwardedElement(header: string): ForwardedPairs {
  const pairs: ForwardedPairs = {};
  const length = header.length;
  let i = 0;
  while (i < length) {
    const char = header[i];
    if (char === ",") break;
    if (char === ";" || char === " " || char === "\t") {
      i++;
      continue;
    }
    let nameEnd = i;
    while (nameEnd < length && !"=;,".includes(header[nameEnd])) nameEnd++;
    const name = header.slice(i, nameEnd).trim().toLowerCase();
    i = nameEnd;
    if (header[i] !== "=") continue;
    i++;
    let value = "";
    if (header[i] === '"') {
      i++;
      while (i < length && header[i] !== '"') {
        if (header[i] === "\\" && i + 1 < length) i++;
        value += header[i];
        i++;
      }
      i++;
    } else {
      const start = i;
      while (i < length && !";, \t".includes(header[i])) i++;
      value = header.slice(start, i);
    }
    if (name === "for" || name === "host" || name === "proto") pairs[name] ??= value;
  }
  return pairs;
}

export interface ForwardedOrigin {
  readonly clientAddress?: string;
  readonly server?: HostAndPort;
  readonly scheme?: string;
}

/** What the proxies say about the original request: `Forwarded` first, then `X-Forwarded-*`. */
export function forwardedOrigin(headers: Headers): ForwardedOrigin {
  const forwarded = headers.get("forwarded");
  const pairs = forwarded === null ? {} : firstForwardedElement(forwarded);

  const forNode = pairs.for ?? firstListEntry(headers.get("x-forwarded-for"));
  const hostValue = pairs.host ?? firstListEntry(headers.get("x-forwarded-host"));
  const protoValue = pairs.proto ?? firstListEntry(headers.get("x-forwarded-proto"));
  return {
    clientAddress: forNode === undefined ? undefined : nodeAddress(forNode),
    server: hostValue === undefined ? undefined : parseHost(hostValue),
    scheme: protoValue ? protoValue.toLowerCase() : undefined,
  };
}
