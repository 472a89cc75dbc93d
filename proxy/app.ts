/**
 * The propagation proxy as a Hono app: every request is matched to an upstream, traced per the
 * header-driven sampling policy, forwarded with the trace context injected, and answered with the
 * trace handed back. Runtime specifics (env, waitUntil, the socket peer) come from the entries.
 */
import { context } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EnvSource } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import {
  type BodyEndSignal,
  type BodyOutcome,
  endedAs,
  type ReadAhead,
} from "../src/http/body_end.ts";
import { samplerFromSettings } from "../src/sampling.ts";
import {
  endingFor,
  mayKeep,
  type ResponseOutcome,
  type SpanEnding,
  tailRulesOn,
} from "../src/sampling/tail.ts";
import { ClientSpan } from "../src/tracing/client.ts";
import { ServerSpan } from "../src/tracing/server.ts";
import { createTracing, type Tracing } from "../src/tracing/setup.ts";
import { resolveRequestId } from "../src/http/request_id.ts";
import { redactUrl } from "../src/http/redact.ts";
import { type ProxyConfig, type ProxySettings, readProxyConfig } from "./config.ts";
import {
  downstreamResponse,
  errorResponse,
  fetchUpstream,
  Fields,
  isForwardableMethod,
  isServerWideOptions,
  methodNotForwarded,
  serverWideOptions,
  type UpstreamRequest,
  upstreamRequest,
} from "./forward.ts";
import { carriesForceToken, EdgeSampler, isIgnoredPath, withRequestFacts } from "./sampling.ts";
import { type UpstreamTarget, upstreamUrl } from "./routes.ts";
import {
  type DeadlineClock,
  DeadlineQueue,
  ProgressDeadline,
  TimerPerDeadline,
} from "./deadline.ts";

/** What the runtime entry supplies for one request. */
export interface ProxyRequestInfo {
  /** Keeps the isolate alive for work after the response (Workers: `ctx.waitUntil`). */
  readonly waitUntil?: (work: Promise<unknown>) => void;
  /** The socket peer, when the runtime knows it. */
  readonly clientAddress?: string;
  /** How the runtime tells that the response body has been sent; default: a JavaScript wrap. */
  readonly bodyEnd?: BodyEndSignal;
  /**
   * Reads a relayed body ahead of the response when the spans end with it (workerd: a small one
   * of known length), or answers undefined to leave it to `bodyEnd`.
   */
  readonly readAhead?: (response: Response) => Promise<ReadAhead> | undefined;
  /** Sends this request upstream instead of the proxy's `fetch` (Deno's WebSocket bridge). */
  readonly fetch?: typeof fetch;
}

export interface ProxyOptions {
  readonly log?: (line: string) => void;
  /** Replaces the OTLP exporter (tests, or another transport). */
  readonly exporter?: SpanExporter;
  /** Sends the upstream request; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /**
   * How the upstream deadlines are timed: on one timer for all (default, for a long-lived
   * process), or a timer per request (workerd, where a timer belongs to the request that set it).
   */
  readonly deadlineTimers?: "shared" | "per request";
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
  return createProxyFrom(config, { ...options, log });
}

/**
 * Builds the proxy from configuration already read (and its problems already told). While
 * misconfigured it answers every request with a generic 500: the details are in the log.
 */
export function createProxyFrom(config: ProxyConfig, options: ProxyOptions = {}): Proxy {
  const log = options.log ?? console.error;
  const settings = config.proxy;
  const tracing = createTracing(config.tracing, {
    exporter: options.exporter,
    log,
    tail: settings?.tail,
    sampler: new EdgeSampler(samplerFromSettings(config.tracing.sampler), {
      maxTracesPerSecond: settings?.maxTracesPerSecond,
      recordForTail: settings !== undefined && tailRulesOn(settings.tail),
    }),
    // Nothing nests under the proxy's spans: a request not head-sampled has its spans recorded
    // only once its outcome shows a tail rule may keep it (see `keptMaybe`).
    deferRecordOnly: true,
  });
  const forwarder = settings && {
    tracing,
    settings,
    log,
    send: options.fetch ?? fetch,
    deadlines: options.deadlineTimers === "per request"
      ? new TimerPerDeadline(settings.upstreamTimeoutMs)
      : new DeadlineQueue(settings.upstreamTimeoutMs),
  };
  return {
    tracing,
    shutdown: () => tracing.shutdown(),
    handle: forwarder
      ? (request, info = {}) => forward(forwarder, request, info)
      : (request) => Promise.resolve(misconfigured(tracing, request)),
  };
}

/** The answer of a proxy that cannot forward: generic, with a request id to quote. */
function misconfigured(tracing: Tracing, request: Request): Response {
  const header = tracing.http.requestIdHeader;
  const requestId = resolveRequestId(request.headers.get(header));
  const response = errorResponse(500, requestId);
  response.headers.set(header, requestId);
  return response;
}

/** What forwarding needs besides the request: fixed for the proxy's life. */
interface Forwarder {
  readonly tracing: Tracing;
  readonly settings: ProxySettings;
  readonly log: (line: string) => void;
  readonly send: typeof fetch;
  readonly deadlines: DeadlineClock;
}

/** The answer to one request, and whether the upstream failed to give one. */
interface Outcome {
  readonly response: Response;
  readonly upstreamFailed: boolean;
  readonly client?: ClientSpan<UpstreamRequest>;
  /** How the spans end, when already worked out (a relayed response). */
  readonly ending?: SpanEnding;
  /** How its body ended, or will, when it was read ahead. */
  readonly ended?: BodyOutcome | Promise<BodyOutcome>;
}

/** Traces one request, answers it (forwarded or not) and ends its spans with the response. */
async function forward(
  proxy: Forwarder,
  request: Request,
  info: ProxyRequestInfo,
): Promise<Response> {
  const url = new URL(request.url);
  const { settings } = proxy;
  // Read once for the span, the routing and the upstream request (see `Fields`).
  const fields = new Fields(request.headers);
  const presented = fields.get(settings.forceHeader);
  const facts = {
    // Awaited only when there is something to compare: most requests carry no force header.
    forced: presented !== null && settings.forceToken !== undefined &&
      await carriesForceToken(presented, settings.forceToken),
    ignored: isIgnoredPath(url.pathname, settings.ignorePaths),
  };
  const server = new ServerSpan(proxy.tracing, {
    request,
    headers: fields,
    active: withRequestFacts(context.active(), facts),
    clientAddress: info.clientAddress,
    inbound: settings.inbound,
    force: presented === null
      ? "absent"
      : settings.forceToken === undefined
      ? "no token configured"
      : facts.forced
      ? "valid"
      : "token mismatch",
    ignoredPath: facts.ignored,
  });
  let outcome: Outcome;
  try {
    outcome = await answer(proxy, server, request, fields, url, info);
  } catch (error) {
    keptMaybe(settings.tail, { status: 500, threw: true }, server);
    server.recordError(error);
    proxy.log(`tracegate: request ${server.requestId}: forwarding failed: ${describe(error)}`);
    outcome = { response: errorResponse(500, server.requestId), upstreamFailed: false };
  }
  return finish(settings, server, outcome, info);
}

/** Routes the request and, when it can be forwarded, forwards it. */
async function answer(
  proxy: Forwarder,
  server: ServerSpan,
  request: Request,
  fields: Fields,
  url: URL,
  info: ProxyRequestInfo,
): Promise<Outcome> {
  const { requestId } = server;
  if (isServerWideOptions(request.method, url.pathname)) {
    return { response: serverWideOptions(), upstreamFailed: false };
  }
  const { routes } = proxy.settings;
  // The Host field is read only where a route depends on it.
  const route = routes.match(
    routes.virtualHosts ? fields.get("host") ?? url.host : undefined,
    url.pathname,
  );
  const target = route && upstreamUrl(route, url);
  if (!route || !target) return { response: errorResponse(404, requestId), upstreamFailed: false };
  if (!isForwardableMethod(request.method)) {
    return { response: methodNotForwarded(requestId), upstreamFailed: false };
  }
  server.setRoute(route.template);
  const deadline = new ProgressDeadline(proxy.deadlines);
  const client: ClientSpan<UpstreamRequest> = new ClientSpan(
    proxy.tracing,
    server.context,
    upstreamRequest(request, target, {
      clientAddress: info.clientAddress,
      forwardedHost: url.host,
      forwardedProto: url.protocol === "https:" ? "https" : "http",
      stripHeaders: [proxy.settings.forceHeader],
      deadline,
      fields,
    }),
  );
  try {
    return await relay(proxy, server, client, deadline, target, info);
  } catch (error) {
    // Thrown once the call was under way: its span ends here, failed, and a kept trace has it.
    keptMaybe(proxy.settings.tail, { status: 500, threw: true }, server, client);
    client.failed(error);
    client.end();
    throw error;
  }
}

/** Sends the upstream call and makes the answer of its outcome. */
async function relay(
  proxy: Forwarder,
  server: ServerSpan,
  client: ClientSpan<UpstreamRequest>,
  deadline: ProgressDeadline,
  target: UpstreamTarget,
  info: ProxyRequestInfo,
): Promise<Outcome> {
  const result = await fetchUpstream(client.request, deadline, info.fetch ?? proxy.send);
  const { tail } = proxy.settings;
  if (result.kind === "response") {
    const upstream = result.response;
    const responded = { status: upstream.status, upstreamFailed: false, threw: false };
    keptMaybe(tail, responded, server, client);
    client.responded(upstream);
    const ending = endingFor(server, tail, responded);
    // Only a body the spans end with is read ahead: a runtime sends any other one natively.
    const ahead = ending.kind === "withBody" ? info.readAhead?.(upstream) : undefined;
    if (ahead === undefined) {
      return { response: downstreamResponse(upstream), upstreamFailed: false, client, ending };
    }
    const { body, ended } = await ahead;
    return {
      response: downstreamResponse(upstream, body),
      upstreamFailed: false,
      client,
      ending,
      ended,
    };
  }
  const status = result.kind === "timeout" ? 504 : 502;
  keptMaybe(tail, { status, upstreamFailed: true, threw: false }, server, client);
  // The details name the upstream: they go to the span and the log, never to the client.
  let failure: Error;
  if (result.kind === "timeout") {
    failure = new Error(
      `no response headers from ${target.origin} within ${deadline.timeoutMs} ms`,
    );
    client.failed(failure, "timeout");
  } else if (result.kind === "unrelayable") {
    const answered = result.response.status;
    failure = new Error(
      `${target.origin} answered with status ${answered}, which cannot be relayed`,
    );
    client.responded(result.response);
    client.failed(failure, String(answered));
  } else {
    const redacted = redactUrl(new URL(target.href), proxy.tracing.http.sensitiveQueryParams);
    failure = new Error(
      `${target.origin} is unreachable: ${describe(result.error)}`.replaceAll(
        target.href,
        redacted,
      ),
    );
    client.failed(failure, "upstream_unreachable");
  }
  proxy.log(`tracegate: request ${server.requestId}: upstream ${failure.message}`);
  return { response: errorResponse(status, server.requestId), upstreamFailed: true, client };
}

/**
 * Records the spans of a request deferred for the tail rules (not head-sampled) once its outcome
 * shows a rule may keep it, before that outcome is recorded: from there on they are record-only
 * spans, judged at the end as before. A request no rule can keep never records a span.
 */
function keptMaybe(
  tail: ProxySettings["tail"],
  outcome: ResponseOutcome,
  server: ServerSpan,
  client?: ClientSpan<UpstreamRequest>,
): void {
  if (!mayKeep(tail, outcome)) return;
  server.recordDeferred();
  client?.recordDeferred();
}

/**
 * Ends the spans with the response: at once when nothing will be exported, else once the body
 * has streamed, the tail rules judging a request that was not head-sampled.
 */
function finish(
  settings: ProxySettings,
  server: ServerSpan,
  { response, upstreamFailed, client, ending: known, ended }: Outcome,
  info: ProxyRequestInfo,
): Response {
  const ending = known ?? endingFor(server, settings.tail, {
    status: response.status,
    upstreamFailed,
    threw: server.errored,
  });
  if (ending.kind === "now") {
    // The client span is not exported either. (So without a slowness rule, an untraced 2xx
    // whose body the upstream then breaks is not kept.)
    client?.discard();
    return server.finish(response, { ending });
  }
  return server.finish(response, {
    ending,
    waitUntil: info.waitUntil,
    bodyEnd: ended === undefined ? info.bodyEnd : endedAs(ended),
    beforeEnd: (outcome) => client?.end(outcome),
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
