/**
 * A real OTLP/HTTP trace receiver for tracegate's own tests: `POST /v1/traces` on 127.0.0.1,
 * decoding with the product decoder and answering as the OTLP spec says a collector does. Beyond
 * the public `tracegate/testing` receiver (whose span collector and waits it shares), it can go
 * down and come back on the same port, answer with a forced status, and records every request,
 * for the exporter's retry and bound tests.
 */
import { parseOtlpContentType } from "../../viewer/otlp/decode.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { SpanCollector, type WaitOptions } from "../../testing/span_collector.ts";
import {
  decodeExportOutcome,
  exportFailureResponse,
  exportSuccessResponse,
  TRACES_PATH,
} from "../../viewer/otlp/http.ts";

export { TRACES_PATH };

export interface OtlpReceiverOptions {
  /** Largest body accepted, as received and after gunzip; larger ones get 413. */
  readonly maxBodyBytes?: number;
}

/** One HTTP request the receiver answered, whatever its path or outcome. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | null;
  readonly contentEncoding: string | null;
  /** Body size as received (compressed, if it was). */
  readonly bytes: number;
  /** Spans the body held, even when the receiver was told to reject it; 0 if undecodable. */
  readonly spanCount: number;
  readonly status: number;
  readonly headers: Headers;
  /** Why the body was refused (400, 413, 415), for failure messages. */
  readonly error?: string;
}

export interface RespondWithOptions {
  /** How many requests get this answer before the receiver answers normally again. */
  readonly times?: number;
}

export interface OtlpReceiver extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:4318`: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  /** `${endpoint}/v1/traces`: the value for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  readonly tracesUrl: string;
  /** Every span accepted so far, in arrival order; kept across stop() and restart(). */
  readonly spans: readonly DecodedSpan[];
  readonly requests: readonly ReceivedRequest[];
  /**
   * Resolves with the spans accepted so far as soon as `predicate` holds for them (checked now and
   * on each accepted export); rejects after `timeoutMs` (default 5000) listing what did arrive.
   */
  waitForSpans(
    predicate: (spans: readonly DecodedSpan[]) => boolean,
    options?: WaitOptions,
  ): Promise<readonly DecodedSpan[]>;
  /** Answers trace exports with `status` (and `headers`, e.g. Retry-After) instead of accepting them. */
  respondWith(status: number, headers?: HeadersInit, options?: RespondWithOptions): void;
  /** Undoes respondWith(). */
  respondNormally(): void;
  /** Stops listening, as a collector that went down; spans and requests are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const receiver = new OtlpTestReceiver(options);
  await receiver.restart();
  return receiver;
}

interface ForcedResponse {
  readonly status: number;
  readonly headers: Headers;
  remaining: number;
}

class OtlpTestReceiver implements OtlpReceiver {
  readonly #maxBodyBytes: number | undefined;
  readonly #requests: ReceivedRequest[] = [];
  readonly #collector = new SpanCollector(() => this.#describeRequests());
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  /** 0 until first listening, then the port restart() must reuse. */
  #port = 0;
  #forced: ForcedResponse | undefined;
  #closed = false;

  constructor(options: OtlpReceiverOptions) {
    this.#maxBodyBytes = options.maxBodyBytes;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get tracesUrl(): string {
    return `${this.endpoint}${TRACES_PATH}`;
  }

  get spans(): readonly DecodedSpan[] {
    return this.#collector.spans;
  }

  get requests(): readonly ReceivedRequest[] {
    return this.#requests;
  }

  waitForSpans(
    predicate: (spans: readonly DecodedSpan[]) => boolean,
    options?: WaitOptions,
  ): Promise<readonly DecodedSpan[]> {
    return this.#collector.waitFor(
      "waitForSpans",
      (spans) => predicate(spans) ? [...spans] : undefined,
      options,
    );
  }

  respondWith(status: number, headers?: HeadersInit, { times }: RespondWithOptions = {}): void {
    this.#forced = { status, headers: new Headers(headers), remaining: times ?? Infinity };
  }

  respondNormally(): void {
    this.#forced = undefined;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.shutdown();
  }

  async restart(): Promise<void> {
    if (this.#closed) throw new Error("restart: the receiver is closed");
    await this.stop();
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: this.#port, onListen: () => {} },
      (request) => this.#handle(request),
    );
    this.#port = this.#server.addr.port;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#collector.close();
    await this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(request: Request): Promise<Response> {
    const body = new Uint8Array(await request.arrayBuffer());
    const { pathname } = new URL(request.url);
    const contentType = request.headers.get("content-type");
    const contentEncoding = request.headers.get("content-encoding");
    const record = (status: number, spanCount: number, error?: string) => {
      this.#requests.push({
        method: request.method,
        path: pathname,
        contentType,
        contentEncoding,
        bytes: body.byteLength,
        spanCount,
        status,
        headers: new Headers(request.headers),
        ...(error === undefined ? {} : { error }),
      });
    };

    if (pathname !== TRACES_PATH) {
      record(404, 0);
      return new Response(`no OTLP endpoint at ${pathname}; traces go to ${TRACES_PATH}\n`, {
        status: 404,
      });
    }
    if (request.method !== "POST") {
      record(405, 0);
      return new Response("OTLP/HTTP takes POST\n", { status: 405, headers: { allow: "POST" } });
    }

    const format = parseOtlpContentType(contentType);
    const outcome = await decodeExportOutcome(body, contentType, contentEncoding, {
      maxBodyBytes: this.#maxBodyBytes,
    });
    const forced = this.#takeForced();
    if (forced) {
      record(forced.status, "accepted" in outcome ? outcome.accepted.length : 0);
      const message = `the test receiver was told to answer ${forced.status}`;
      return exportFailureResponse(forced.status, format, message, forced.headers);
    }
    if ("refusal" in outcome) {
      record(outcome.refusal, 0, outcome.message);
      return exportFailureResponse(outcome.refusal, format, outcome.message);
    }
    record(200, outcome.accepted.length);
    this.#collector.add(outcome.accepted);
    return exportSuccessResponse(format);
  }

  #takeForced(): ForcedResponse | undefined {
    const forced = this.#forced;
    if (forced && --forced.remaining <= 0) this.#forced = undefined;
    return forced;
  }

  /** The requests so far, for failure messages. */
  #describeRequests(): string {
    const requests = this.#requests.map((request) =>
      `\n  - ${request.method} ${request.path} ${request.contentType ?? "(no content-type)"}` +
      `${request.contentEncoding ? ` ${request.contentEncoding}` : ""} ${request.bytes} B → ` +
      `${request.status}, ${request.spanCount} span(s)${request.error ? `: ${request.error}` : ""}`
    );
    return `\n${this.#requests.length} request(s):${requests.join("")}`;
  }
}
