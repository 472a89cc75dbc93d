/**
 * Finds the trace a response belongs to from what tracegate hands back: the `traceresponse`
 * header, or the `traceparent` entry of `Server-Timing`.
 */
import { splitEntries } from "../src/http/handback.ts";
import { parseTraceparent, TraceFlagBits } from "../src/propagation/traceparent.ts";

export interface ResponseTrace {
  readonly traceId: string;
  /** The span of the server that answered (the proxy's or the app's SERVER span). */
  readonly spanId: string;
  readonly sampled: boolean;
}

/** What has a `get(name)`: `Headers`, from any `fetch` (the runtime's, Miniflare's, undici's). */
export interface HeaderGetter {
  get(name: string): string | null;
}

/**
 * A response, or its headers: as `fetch` gives them, or as `node:http` does (a record with
 * lower-case names).
 */
export type HeaderSource =
  | HeaderGetter
  | { readonly headers: HeaderGetter }
  | { readonly [name: string]: string | readonly string[] | number | undefined };

/**
 * The trace handed back with a response, or undefined when it carries none (tracing off, the
 * hand-back disabled, or a value that does not parse). `traceresponse` wins over Server-Timing.
 */
export function traceOfResponse(response: HeaderSource): ResponseTrace | undefined {
  const header = headerReader(response);
  const fromHeader = header("traceresponse");
  const fromServerTiming = serverTimingTraceparent(header("server-timing"));
  for (const value of [fromHeader, fromServerTiming]) {
    const parsed = value === undefined ? undefined : parseTraceparent(value);
    if (parsed) {
      return {
        traceId: parsed.traceId,
        spanId: parsed.parentId,
        sampled: (parsed.flags & TraceFlagBits.SAMPLED) !== 0,
      };
    }
  }
  return undefined;
}

const TRACE_METRICS = new Set(["traceparent", "trace"]);
const DESC = /^desc\s*=\s*(?:"([^"]*)"|([^\s;]*))$/i;

/** The `desc` of the first `traceparent` (or `trace`) metric of a Server-Timing value. */
function serverTimingTraceparent(serverTiming: string | undefined): string | undefined {
  if (serverTiming === undefined) return undefined;
  for (const entry of splitEntries(serverTiming)) {
    const [name, ...params] = entry.split(";").map((part) => part.trim());
    if (!TRACE_METRICS.has(name.toLowerCase())) continue;
    for (const param of params) {
      const desc = DESC.exec(param);
      if (desc) return desc[1] ?? desc[2];
    }
  }
  return undefined;
}

function headerReader(source: HeaderSource): (name: string) => string | undefined {
  const headers = isHeaderGetter(source)
    ? source
    : "headers" in source && isHeaderGetter(source.headers)
    ? source.headers
    : undefined;
  if (headers) return (name) => headers.get(name) ?? undefined;
  const record = source as { readonly [name: string]: unknown };
  return (name) => {
    const value = record[name];
    if (Array.isArray(value)) return value.join(", ");
    return value === undefined ? undefined : String(value);
  };
}

// Not `instanceof Headers`: Miniflare and undici responses carry their own Headers class.
function isHeaderGetter(value: unknown): value is HeaderGetter {
  return typeof (value as Partial<HeaderGetter> | null)?.get === "function";
}
