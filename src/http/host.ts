/** `host[:port]` as it appears in `Host`, Forwarded `host=` and `X-Forwarded-Host`. */

export interface HostAndPort {
  /** The host name or IP address; IPv6 without the URI brackets. */
  readonly address: string;
  readonly port?: number;
}

/**
 * A decimal port from 0 to 65535, else undefined. Read digit by digit: every sampled server span
 * asks, and a regular expression then `Number` cost twice as much.
 */
export function portNumber(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    port = port * 10 + digit;
  }
  return port <= 65535 ? port : undefined;
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; undefined when no address is left. */
export function parseHost(value: string): HostAndPort | undefined {
  const host = value.trim();
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 2) return undefined;
    const rest = host.slice(close + 1);
    return {
      address: host.slice(1, close),
      port: rest.startsWith(":") ? portNumber(rest.slice(1)) : undefined,
    };
  }
  const colon = host.indexOf(":");
  const address = colon === -1 ? host : host.slice(0, colon);
  if (address === "") return undefined;
  return { address, port: colon === -1 ? undefined : portNumber(host.slice(colon + 1)) };
}
