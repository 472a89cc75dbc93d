/**
 * A minimal OTLP/HTTP trace sink for the benchmarks: accepts `POST /v1/traces`, counts the spans
 * in each body with the product decoder (each span's ids checked, nothing else built: the sink
 * shares the machine's two cores with what is measured, and a collector would not), and answers
 * `GET /stats` with the counts.
 */
import { countTraceSpans } from "../../viewer/otlp/decode.ts";

export interface SinkCounts {
  /** Export requests accepted. */
  readonly requests: number;
  readonly spans: number;
  /** Body bytes as received (compressed, if they were). */
  readonly bytes: number;
  /** Requests that did not decode (answered 400). */
  readonly rejected: number;
}

export interface SinkOptions {
  /** 0 (default): a free port. */
  readonly port?: number;
}

export interface Sink extends AsyncDisposable {
  /** The value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly port: number;
  counts(): SinkCounts;
  /** Lets the process exit while the sink still listens. */
  unref(): void;
  close(): Promise<void>;
}

export const STATS_PATH = "/stats";

/** Listens on 127.0.0.1. */
export function startSink({ port = 0 }: SinkOptions = {}): Sink {
  const counts = { requests: 0, spans: 0, bytes: 0, rejected: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "GET" && path === STATS_PATH) return Response.json(counts);
    if (request.method !== "POST" || path !== "/v1/traces") {
      return new Response("not found", { status: 404 });
    }
    const body = new Uint8Array(await request.arrayBuffer());
    try {
      const spans = await countTraceSpans(
        body,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
      );
      counts.requests++;
      counts.spans += spans;
      counts.bytes += body.byteLength;
      return Response.json({});
    } catch (error) {
      counts.rejected++;
      return new Response(String(error), { status: 400 });
    }
  });
  const close = () => server.shutdown();
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    counts: () => ({ ...counts }),
    unref: () => server.unref(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
