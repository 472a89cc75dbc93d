/**
 * The propagation proxy as a Hono app: every request is matched to an upstream, traced per the
 * header-driven sampling policy, forwarded with the trace context injected, and answered with the
 * trace handed back. Runtime specifics (env, waitUntil, the socket peer) come from the entries.
 */
import { context, TraceFlags } from "@opentelemetry/api";
import { type Context, Hono } from "hono";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EnvSource } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import { ATTR_TAIL_KEPT_BY } from "../src/export/queue.ts";
import { samplerFromSettings } from "../src/sampling.ts";
import { ClientSpan } from "../src/tracing/client.ts";
import { ServerSpan } from "../src/tracing/server.ts";
import { createTracing, type Tracing } from "../src/tracing/setup.ts";
import { type ProxySettings, readProxyConfig } from "./config.ts";
import {
  downstreamResponse,
  errorResponse,
  fetchUpstream,
  isForwardableMethod,
  methodNotForwarded,
  upstreamRequest,
} from "./forward.ts";
import {
  carriesForceToken,
  EdgeSampler,
  isIgnoredPath,
  tailReason,
  withRequestFacts,
} from "./sampling.ts";
import { upstreamUrl } from "./routes.ts";

/** What the runtime entry supplies for one request. */
export interface ProxyRequestInfo {
  /** Keeps the isolate alive for work after the response (Workers: `ctx.waitUntil`). */
  readonly waitUntil?: (work: Promise<unknown>) => void;
  /** The socket peer, when the runtime knows it. */
  readonly clientAddress?: string;
  /** Sends this request upstream instead of the proxy's `fetch` (Deno's WebSocket bridge). */
  readonly fetch?: typeof fetch;
}

export interface ProxyOptions {
  readonly log?: (line: string) => void;
  /** Replaces the OTLP exporter (tests, or another transport). */
  readonly exporter?: SpanExporter;
  /** Sends the upstream request; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
}

export interface Proxy {
  /** Handles one request; never rejects. */
  handle(request: Request, info?: ProxyRequestInfo): Promise<Response>;
  /** Exports every span still queued and stops the exporter. */
  shutdown(): Promise<void>;
  readonly tracing: Tracing;
}

/** Reads the configuration once, logs each problem in one line, and builds the proxy. */
export function createProxy(env: EnvSource, options: ProxyOptions = {}): Proxy {
  const log = options.log ?? console.error;
  const config = readProxyConfig(env);
  logConfigErrors(config.warnings, log);
  logConfigErrors(config.fatal, log, "every request answers 500 until this is fixed");
  const proxySettings = config.proxy;
  const tracing = createTracing(config.tracing, {
    exporter: options.exporter,
    log,
    sampler: new EdgeSampler(samplerFromSettings(config.tracing.sampler), {
      maxTracesPerSecond: proxySettings?.maxTracesPerSecond,
      recordForTail: proxySettings !== undefined &&
        (proxySettings.tail.errors || proxySettings.tail.slowerThanMs !== undefined),
    }),
  });
  const misconfigured = config.fatal.map((error) => error.message).join("\n");
  const send = options.fetch ?? fetch;
  return {
    tracing,
    shutdown: () => tracing.shutdown(),
    handle: (request, info = {}) =>
      proxySettings ? forward(tracing, proxySettings, send, request, info) : Promise.resolve(
        errorResponse(500, `tracegate proxy is misconfigured:\n${misconfigured}`),
      ),
  };
}

async function forward(
  tracing: Tracing,
  settings: ProxySettings,
  send: typeof fetch,
  request: Request,
  info: ProxyRequestInfo,
): Promise<Response> {
  const url = new URL(request.url);
  const facts = {
    forced: await carriesForceToken(request.headers.get(settings.forceHeader), settings.forceToken),
    ignored: isIgnoredPath(url.pathname, settings.ignorePaths),
  };
  const server = new ServerSpan(tracing, {
    request,
    active: withRequestFacts(context.active(), facts),
    clientAddress: info.clientAddress,
    inbound: settings.inbound,
  });
  let upstreamFailed = false;
  let client: ClientSpan | undefined;
  let response: Response;
  try {
    const route = settings.routes.match(request.headers.get("host") ?? url.host, url.pathname);
    const target = route && upstreamUrl(route, url);
    if (!route || !target) {
      response = errorResponse(404, "no upstream is configured for this path", server.requestId);
    } else if (!isForwardableMethod(request.method)) {
      response = methodNotForwarded(request.method, server.requestId);
    } else {
      server.setRoute(route.prefix);
      client = new ClientSpan(
        tracing,
        server.context,
        upstreamRequest(request, target, {
          clientAddress: info.clientAddress,
          forwardedHost: url.host,
          forwardedProto: url.protocol === "https:" ? "https" : "http",
          stripHeaders: [settings.forceHeader],
        }),
      );
      const result = await fetchUpstream(client.request, {
        timeoutMs: settings.upstreamTimeoutMs,
        fetch: info.fetch ?? send,
      });
      if (result.kind === "response") {
        client.responded(result.response);
        response = downstreamResponse(result.response);
      } else {
        upstreamFailed = true;
        const timedOut = result.kind === "timeout";
        client.failed(
          timedOut
            ? new Error(`no response within ${settings.upstreamTimeoutMs} ms`)
            : result.error,
          timedOut ? "timeout" : "upstream_unreachable",
        );
        response = timedOut
          ? errorResponse(504, `upstream ${target.origin} did not answer in time`, server.requestId)
          : errorResponse(502, `upstream ${target.origin} is unreachable`, server.requestId);
      }
    }
  } catch (error) {
    server.recordError(error);
    response = errorResponse(
      500,
      "tracegate proxy failed to forward the request",
      server.requestId,
    );
  }

  const headSampled = (server.span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
  // With a slowness rule only the end can tell; otherwise the outcome so far decides.
  const tailMayKeep = settings.tail.slowerThanMs !== undefined ||
    tailReason(settings.tail, {
        status: response.status,
        upstreamFailed,
        threw: server.errored,
        durationMs: 0,
      }) !== undefined;
  if (!server.span.isRecording() || (!headSampled && !tailMayKeep)) {
    // Untraced, or recorded for a tail rule the response already rules out: the client span is
    // not exported either, and nothing waits for the body. (So without a slowness rule, an
    // untraced 2xx whose body the upstream then breaks is not kept.)
    client?.end();
    return server.finish(response, { discard: true });
  }
  return server.finish(response, {
    waitUntil: info.waitUntil,
    beforeEnd(outcome, span) {
      client?.end(outcome);
      if (!headSampled) {
        const reason = tailReason(settings.tail, {
          status: response.status,
          upstreamFailed,
          threw: server.errored || outcome.kind === "error",
          durationMs: Date.now() - server.startedAt,
        });
        if (reason !== undefined) span.setAttribute(ATTR_TAIL_KEPT_BY, reason);
      }
    },
  });
}

/**
 * The proxy as a Hono app. `proxyOf` gives the proxy for a request's context (built on first use,
 * since on Workers the environment arrives with the first request) and `infoOf` what the runtime
 * knows of the request.
 */
// deno-lint-ignore no-explicit-any
export function createProxyApp<E extends { Bindings?: any }>(
  proxyOf: (c: Context<E>) => Proxy,
  infoOf: (c: Context<E>) => ProxyRequestInfo,
): Hono<E> {
  const app = new Hono<E>();
  app.all("*", (c) => proxyOf(c).handle(c.req.raw, infoOf(c)));
  return app;
}
