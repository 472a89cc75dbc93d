/**
 * An in-process OTLP/HTTP trace receiver for tests, on a free 127.0.0.1 port.
 *
 * It listens through `node:http` (by way of `@hono/node-server`), which Deno, Node and Bun all
 * implement, so one code path serves the three runtimes a test may run on; `Deno.serve` or
 * `Bun.serve` would each need their own. Bodies are decoded by the viewer's decoder (JSON or
 * protobuf, gzip or not) and answered as an OTLP collector answers.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { DEFAULT_MAX_BODY_BYTES, parseOtlpContentType } from "../viewer/otlp/decode.ts";
import {
  exportFailureResponse,
  exportSuccessResponse,
  receiveExport,
  TRACES_PATH,
} from "../viewer/otlp/http.ts";
import type { DecodedSpan } from "../viewer/otlp/spans.ts";
import { SpanCollector, type WaitOptions } from "./span_collector.ts";
import { type ReceivedTrace, receivedTrace } from "./trace.ts";

export interface TraceReceiverOptions {
  /** Largest export body accepted, as received and after gunzip; larger ones get 413. */
  readonly maxBodyBytes?: number;
}

export interface WaitForTraceOptions extends WaitOptions {
  /** Resolve once the trace has at least this many spans; default 1. */
  readonly spans?: number;
}

export interface TraceReceiver extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:43817`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** `${endpoint}/v1/traces`: the value for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. */
  readonly tracesUrl: string;
  /** Every span received since the start or the last `clear()`, in arrival order. */
  readonly spans: readonly DecodedSpan[];
  /** The spans received so far of one trace (none yet: an empty trace). */
  trace(traceId: string): ReceivedTrace;
  /**
   * Resolves with trace `traceId` once it has `spans` spans (default 1). Rejects after
   * `timeoutMs` (default 5000) with a message listing what arrived instead.
   */
  waitForTrace(traceId: string, options?: WaitForTraceOptions): Promise<ReceivedTrace>;
  /**
   * Resolves with the spans received so far as soon as `predicate` holds for them, checked now
   * and after each export. Rejects after `timeoutMs` (default 5000) listing what arrived.
   */
  waitForSpans(
    predicate: (spans: readonly DecodedSpan[]) => boolean,
    options?: WaitOptions,
  ): Promise<readonly DecodedSpan[]>;
  /** Forgets the spans received so far (waits in progress go on waiting). */
  clear(): void;
  /** Stops listening; pending waits fail. */
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 and a free port. */
export async function startTraceReceiver(
  options: TraceReceiverOptions = {},
): Promise<TraceReceiver> {
  const refusals: string[] = [];
  const collector = new SpanCollector(() =>
    refusals.length === 0 ? "" : `\n${refusals.length} export(s) refused:${refusals.join("")}`
  );
  const app = traceReceiverApp(collector, refusals, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  const { server, port } = await listen(app);
  const endpoint = `http://127.0.0.1:${port}`;
  const spansOf = (traceId: string, spans: readonly DecodedSpan[]) =>
    spans.filter((span) => span.traceId === traceId);

  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= new Promise<void>((resolve, reject) => {
      collector.close();
      server.close((error?: Error) => error ? reject(error) : resolve());
      // An exporter's keep-alive connection would otherwise hold close() open.
      server.closeAllConnections();
    });

  return {
    endpoint,
    tracesUrl: `${endpoint}${TRACES_PATH}`,
    get spans() {
      return collector.spans;
    },
    trace(traceId) {
      const id = traceId.toLowerCase();
      return receivedTrace(id, spansOf(id, collector.spans));
    },
    waitForTrace(traceId, { spans: count = 1, ...wait } = {}) {
      const id = traceId.toLowerCase();
      return collector.waitFor(
        `waitForTrace(${id}, { spans: ${count} })`,
        (spans) => {
          const found = spansOf(id, spans);
          return found.length >= count ? receivedTrace(id, found) : undefined;
        },
        wait,
      );
    },
    waitForSpans: (predicate, wait) =>
      collector.waitFor(
        "waitForSpans",
        (spans) => predicate(spans) ? [...spans] : undefined,
        wait,
      ),
    clear: () => {
      collector.clear();
      refusals.length = 0;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function traceReceiverApp(collector: SpanCollector, refusals: string[], maxBodyBytes: number) {
  const app = new Hono();
  app.post(TRACES_PATH, async (c) => {
    const format = parseOtlpContentType(c.req.header("content-type"));
    const outcome = await receiveExport(c.req.raw, maxBodyBytes);
    if ("refusal" in outcome) {
      refusals.push(`\n  - ${outcome.refusal}: ${outcome.message}`);
      return exportFailureResponse(outcome.refusal, format, outcome.message);
    }
    collector.add(outcome.accepted);
    return exportSuccessResponse(format);
  });
  app.all(TRACES_PATH, (c) => c.text("OTLP/HTTP takes POST\n", 405, { allow: "POST" }));
  return app;
}

/** The server with `node:http`'s types, without naming them: the npm build has no @types/node. */
type HttpServer = ReturnType<typeof serve> & { closeAllConnections(): void };

function listen(app: Hono): Promise<{ server: HttpServer; port: number }> {
  return new Promise((resolve, reject) => {
    // serve() makes a node:http server unless told to make another kind. It would replace the
    // global Request and Response with its own, which Deno.serve in the same test then rejects.
    const server = serve(
      { fetch: app.fetch, hostname: "127.0.0.1", port: 0, overrideGlobalObjects: false },
      ({ port }) => resolve({ server, port }),
    ) as HttpServer;
    server.once("error", reject);
  });
}
