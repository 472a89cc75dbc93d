/**
 * The local trace viewer's server: an OTLP/HTTP trace receiver (`POST /v1/traces`), a small JSON
 * API over the stored traces and the web UI, on one port (4318, the OTLP/HTTP default, so exporters
 * find it without configuration). It answers only loopback host names (see loopback.ts) and sends
 * a Content-Security-Policy that allows the UI's own files only.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { DEFAULT_MAX_BODY_BYTES, parseOtlpContentType } from "./otlp/decode.ts";
import {
  exportFailureResponse,
  exportSuccessResponse,
  receiveExport,
  TRACES_PATH,
} from "./otlp/http.ts";
import { type TraceSettledListener, TraceStore, type TraceStoreOptions } from "./store.ts";
import { toJson, traceDetail } from "./json.ts";
import { loopbackHostOnly } from "./loopback.ts";
import { loadUi, type UiAsset } from "./ui.ts";

export const DEFAULT_PORT = 4318;
/** Summaries per `GET /api/traces` unless `limit` says otherwise. */
const DEFAULT_LIST_LIMIT = 200;

export interface ViewerAppOptions {
  /** Bodies past this are refused with 413; default 20 MiB, as the OTLP spec suggests. */
  readonly maxBodyBytes?: number;
  /** Told about every export refused (400, 413, 415), so a user sees why traces are missing. */
  readonly log?: (line: string) => void;
  /** Host names answered besides the loopback ones (the address it listens on). */
  readonly allowedHosts?: readonly string[];
}

export interface ViewerOptions extends TraceStoreOptions, ViewerAppOptions {
  readonly hostname?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly onTraceSettled?: TraceSettledListener;
}

export interface Viewer extends AsyncDisposable {
  /** The web UI, and the base URL exporters take (OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly url: string;
  /** `${url}/v1/traces` (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
  readonly tracesUrl: string;
  readonly store: TraceStore;
  close(): Promise<void>;
}

export function createViewerApp(
  store: TraceStore,
  ui: readonly UiAsset[],
  options: ViewerAppOptions = {},
): Hono {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono();
  app.use(loopbackHostOnly(options.allowedHosts));
  app.use(secureHeaders({
    // The UI is its own files only: no inline script or style, no framing, no other origin.
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
  }));

  app.post(TRACES_PATH, async (c) => {
    const format = parseOtlpContentType(c.req.header("content-type"));
    const outcome = await receiveExport(c.req.raw, maxBodyBytes);
    if ("refusal" in outcome) {
      options.log?.(`viewer: refused a trace export (${outcome.refusal}): ${outcome.message}`);
      return exportFailureResponse(outcome.refusal, format, outcome.message);
    }
    store.add(outcome.accepted);
    return exportSuccessResponse(format);
  });
  app.all(TRACES_PATH, (c) => c.text("OTLP/HTTP takes POST\n", 405, { allow: "POST" }));

  app.get("/api/traces", (c) => {
    const limit = Number(c.req.query("limit") ?? DEFAULT_LIST_LIMIT);
    if (!Number.isInteger(limit) || limit < 1) {
      return c.json({ error: "limit must be a positive integer" }, 400);
    }
    const matches = store.search(c.req.query("q") ?? "");
    return jsonResponse({
      traces: matches.slice(0, limit),
      matched: matches.length,
      stored: store.size,
      evicted: store.evictedTraceCount,
    });
  });
  app.get("/api/traces/:traceId", (c) => {
    const trace = store.get(c.req.param("traceId"));
    if (!trace) return c.json({ error: "no such trace (not received, or evicted)" }, 404);
    return jsonResponse(traceDetail(trace));
  });

  for (const asset of ui) {
    app.get(asset.path, (c) => c.body(asset.body, 200, { "content-type": asset.contentType }));
  }
  return app;
}

function jsonResponse(value: unknown): Response {
  return new Response(toJson(value), { headers: { "content-type": "application/json" } });
}

/** Starts the viewer on `hostname:port` (default 127.0.0.1:4318). */
export async function startViewer(options: ViewerOptions = {}): Promise<Viewer> {
  const store = new TraceStore(options);
  if (options.onTraceSettled) store.onTraceSettled(options.onTraceSettled);
  const hostname = options.hostname ?? "127.0.0.1";
  // Listening on a specific non-loopback address, requests name that address; a wildcard
  // address names no host, so only loopback names are answered then.
  const isWildcard = hostname === "0.0.0.0" || hostname === "::";
  const app = createViewerApp(store, await loadUi(), {
    ...options,
    allowedHosts: isWildcard ? [] : [hostname],
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: options.port ?? DEFAULT_PORT,
      onListen() {},
    }, app.fetch);
  } catch (error) {
    store.close();
    throw error;
  }
  const { port } = server.addr;
  const bound = server.addr.hostname;
  const url = `http://${bound.includes(":") ? `[${bound}]` : bound}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await server.shutdown();
      store.close();
    })();
  return { url, tracesUrl: `${url}${TRACES_PATH}`, store, close, [Symbol.asyncDispose]: close };
}
