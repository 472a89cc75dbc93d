/**
 * The upstream a proxy forwards to in tests: a real Hono app on 127.0.0.1 traced by the tracegate
 * middleware (exporting to a test receiver), recording every request as it arrived.
 *
 * Routes:
 * - `GET /chain`: calls `GET /second` on itself through `c.var.tracedFetch`, answers with the
 *   request headers it received and what the second call answered;
 * - `GET /second`: answers `second`;
 * - `GET /status/:code`: answers with that status;
 * - `GET /slow/:ms`: answers after `ms` milliseconds (the slowness under test, not a wait);
 * - `GET /hang`: sends nothing until the app is closed;
 * - `POST /sha256`: answers `{ bytes, sha256 }` of the body, hashed as it streams;
 * - `GET /bytes/:count`: streams `patternStream(count, seed)` (`?seed=`, default 1);
 * - `GET /ws`: a WebSocket echo;
 * - anything else: echoes the request as JSON (method, path, query, headers).
 */
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { digestStream, patternStream } from "./bytes.ts";
import { testTracing } from "./tracing.ts";

export interface UpstreamAppOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for the app's own spans. */
  readonly otlpEndpoint: string;
  /** OTEL_SERVICE_NAME; default `upstream`. */
  readonly serviceName?: string;
  /** OTEL_EXPORTER_OTLP_HEADERS, e.g. to tell this app's exports from others at the receiver. */
  readonly otlpHeaders?: string;
}

/** One request as it reached the app, before its middleware. */
export interface UpstreamRequest {
  readonly method: string;
  /** The request target as sent: path and query, not normalised. */
  readonly target: string;
  readonly headers: Headers;
}

/** What `/chain` and the catch-all echo answer. */
export interface UpstreamEcho {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Record<string, string>;
}

export interface UpstreamApp extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly received: readonly UpstreamRequest[];
  /** What the app's tracing logged (export failures), kept out of the test output. */
  readonly logs: readonly string[];
  /** Requests received whose target starts with `prefix`. */
  receivedAt(prefix: string): UpstreamRequest[];
  /** Stops serving, then exports the spans still queued. */
  close(): Promise<void>;
}

export function startUpstreamApp(options: UpstreamAppOptions): UpstreamApp {
  const received: UpstreamRequest[] = [];
  const tracing = testTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpEndpoint,
    OTEL_SERVICE_NAME: options.serviceName ?? "upstream",
    // Gives up soon on a collector a test has stopped, so close() never waits long.
    OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
    ...(options.otlpHeaders === undefined
      ? {}
      : { OTEL_EXPORTER_OTLP_HEADERS: options.otlpHeaders }),
  });
  const closing = Promise.withResolvers<void>();
  let self = "";

  const app = new Hono<TracegateEnv>();
  app.use(async (c, next) => {
    const url = c.req.raw.url;
    received.push({
      method: c.req.method,
      target: url.slice(url.indexOf("/", "http://".length)),
      headers: new Headers(c.req.raw.headers),
    });
    await next();
  });
  app.use(tracegate({ tracing, registerGlobals: false }));
  app.get("/chain", async (c) => {
    const second = await c.var.tracedFetch(`${self}/second`);
    return c.json({ ...echo(c.req.raw), second: await second.text() });
  });
  app.get("/second", (c) => c.text("second"));
  app.get("/status/:code", (c) => {
    const status = Number(c.req.param("code"));
    return new Response(`status ${status}\n`, { status });
  });
  app.get("/slow/:ms", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, Number(c.req.param("ms"))));
    return c.text("slow");
  });
  app.get("/hang", async (c) => {
    await closing.promise;
    return c.text("too late");
  });
  app.post("/sha256", async (c) => c.json(await digestStream(c.req.raw.body ?? emptyStream())));
  app.get("/bytes/:count", (c) => {
    const body = patternStream(Number(c.req.param("count")), Number(c.req.query("seed") ?? 1));
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  });
  app.get("/ws", (c) => {
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
  app.all("*", (c) => c.json(echo(c.req.raw)));

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => app.fetch(request, info),
  );
  const port = server.addr.port;
  self = `http://127.0.0.1:${port}`;
  const close = async () => {
    closing.resolve();
    await server.shutdown();
    await tracing.shutdown();
  };
  return {
    url: self,
    port,
    received,
    logs: tracing.logs,
    receivedAt: (prefix) => received.filter((request) => request.target.startsWith(prefix)),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function echo(request: Request): UpstreamEcho {
  const url = new URL(request.url);
  return {
    method: request.method,
    path: url.pathname,
    query: url.search,
    headers: Object.fromEntries(request.headers),
  };
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
