/**
 * The OTLP/HTTP trace exporter: encodes a batch once (protobuf or JSON, gzip if configured) and
 * POSTs it with `fetch`, retrying as the OTLP specification asks (src/export/retry.ts) within the
 * exporter timeout.
 *
 * Written here instead of using @opentelemetry/exporter-trace-otlp-http/-proto for three reasons:
 * size (those pull their transport stack and the transformer into the Worker bundle), speed
 * (their serializers build or size the OTLP tree first) and what the edge needs to know about an
 * export: a timed-out request is not a lost one (its outcome may still come, and is reported
 * then), shutdown aborts whatever is still in flight, and a failure says where and why without
 * leaking credentials. tests/unit/otlp_http_exporter_test.ts runs it, and the SDK's exporter,
 * against real receivers.
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import meta from "../../deno.json" with { type: "json" };
import type { OtlpExportSettings } from "../config/settings.ts";
import { type PartialSuccess, readErrorMessage, readPartialSuccess } from "./collector_response.ts";
import { encodeJsonTraces } from "./otlp_json.ts";
import { ProtobufTraceEncoder } from "./otlp_protobuf.ts";
import {
  type Backoff,
  backoffDelayMs,
  DEFAULT_BACKOFF,
  RETRYABLE_STATUSES,
  retryAfterMs,
} from "./retry.ts";

/** How one export ended. `reason` names the endpoint (without credentials) and the cause. */
export type ExportOutcome =
  | {
    readonly kind: "sent";
    /** Spans the collector refused in a partial success. */
    readonly rejectedSpans?: number;
    /** The collector's message with a partial success, naming the endpoint. */
    readonly warning?: string;
  }
  | { readonly kind: "failed"; readonly reason: string }
  | {
    /** No answer within the exporter timeout; the request may still be answered. */
    readonly kind: "timeout";
    readonly reason: string;
    /** Settles when the request does (it is aborted one more timeout later, or at shutdown). */
    readonly late: Promise<ExportOutcome>;
  };

/** What tracegate's export queue calls; other SpanExporters are adapted to it. */
export interface OutcomeExporter {
  /** How many sends may be in progress at once (1 when not given). */
  readonly maxConcurrentSends?: number;
  send(spans: readonly ReadableSpan[]): Promise<ExportOutcome>;
  /** What holds up the latest export still going, for the line shutdown logs. */
  pendingProblem?(): string | undefined;
  shutdown(): Promise<void>;
}

export interface OtlpHttpExporterOptions {
  readonly fetch?: typeof fetch;
  readonly backoff?: Backoff;
  readonly random?: () => number;
}

type Attempt =
  | { readonly kind: "sent"; readonly partialSuccess?: PartialSuccess }
  | {
    readonly kind: "failed";
    readonly cause: string;
    readonly retry: boolean;
    readonly afterMs?: number;
  };

const USER_AGENT = `tracegate/${meta.version}`;

/**
 * Export requests in flight at once. One at a time, a collector that takes 20 ms to answer caps
 * delivery near 25k spans/s (512 spans a request), less than one saturated Deno instance ends
 * (40k/s and more), and the queue overflows; four lift that cap fourfold.
 */
export const MAX_CONCURRENT_SENDS = 4;

export class OtlpHttpExporter implements SpanExporter, OutcomeExporter {
  /** The URL as log lines show it: no user info, query or fragment. */
  readonly endpoint: string;
  readonly maxConcurrentSends = MAX_CONCURRENT_SENDS;
  readonly #settings: OtlpExportSettings;
  readonly #fetch: typeof fetch;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #headers: Record<string, string>;
  readonly #protobuf: boolean;
  /**
   * Encoders not in use. An encoder's output lives in its buffer, so each send keeps its own
   * until its last attempt: this holds one encoder per send that was in flight at once.
   */
  readonly #encoders: ProtobufTraceEncoder[] = [];
  /**
   * Aborts each request in flight and ends each retry wait. Not one shared AbortSignal: workerd
   * ties such an object to the request that created it, and later requests may not touch it.
   */
  readonly #onShutdown = new Set<() => void>();
  #shutDown = false;
  /** Attempts in flight, and the cause of the latest that failed (none once one succeeds). */
  #unanswered = 0;
  #lastFailure: string | undefined;

  constructor(settings: OtlpExportSettings, options: OtlpHttpExporterOptions = {}) {
    this.#settings = settings;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#random = options.random ?? Math.random;
    this.#protobuf = settings.protocol === "http/protobuf";
    this.#headers = {
      ...settings.headers,
      "content-type": this.#protobuf ? "application/x-protobuf" : "application/json",
      "user-agent": USER_AGENT,
      ...(settings.compression === "gzip" ? { "content-encoding": "gzip" } : {}),
    };
    const url = new URL(settings.tracesUrl);
    this.endpoint = `${url.origin}${url.pathname}`;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.send(spans).then((outcome) =>
      done(
        outcome.kind === "sent"
          ? { code: ExportResultCode.SUCCESS }
          : { code: ExportResultCode.FAILED, error: new Error(outcome.reason) },
      )
    );
  }

  async send(spans: readonly ReadableSpan[]): Promise<ExportOutcome> {
    if (this.#shutDown) return this.#failed("the exporter is shut down");
    const encoder = this.#protobuf ? this.#encoders.pop() ?? new ProtobufTraceEncoder() : undefined;
    try {
      return await this.#send(spans, encoder);
    } finally {
      if (encoder) this.#encoders.push(encoder);
    }
  }

  async #send(
    spans: readonly ReadableSpan[],
    encoder: ProtobufTraceEncoder | undefined,
  ): Promise<ExportOutcome> {
    const deadline = Date.now() + this.#settings.timeoutMs;
    const body = await this.#body(spans, encoder);
    for (let attempt = 1;; attempt++) {
      const pending = this.#attempt(body, deadline);
      const result = await beforeDeadline(pending, deadline);
      if (result === undefined) {
        const reason = this.#reason(`no answer within ${this.#settings.timeoutMs} ms`);
        return {
          kind: "timeout",
          reason,
          late: pending.then((late) => this.#outcome(late, attempt)),
        };
      }
      if (result.kind === "sent" || !result.retry || attempt >= this.#backoff.maxAttempts) {
        return this.#outcome(result, attempt);
      }
      const wait = result.afterMs ?? backoffDelayMs(this.#backoff, attempt, this.#random);
      if (Date.now() + wait >= deadline) {
        return this.#failed(
          `${result.cause}; no retry left within the ${this.#settings.timeoutMs} ms timeout`,
        );
      }
      if (!await this.#sleep(wait)) {
        return this.#failed(`${result.cause}; shut down before retrying`);
      }
    }
  }

  pendingProblem(): string | undefined {
    const problem = this.#unanswered > 0 ? "no answer yet" : this.#lastFailure;
    return problem === undefined ? undefined : this.#reason(problem);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Aborts every request in flight and every retry wait; later exports fail at once. */
  shutdown(): Promise<void> {
    this.#shutDown = true;
    for (const abort of this.#onShutdown) abort();
    this.#onShutdown.clear();
    return Promise.resolve();
  }

  async #body(
    spans: readonly ReadableSpan[],
    encoder: ProtobufTraceEncoder | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const encoded = encoder ? encoder.encode(spans) : encodeJsonTraces(spans);
    if (this.#settings.compression !== "gzip") return encoded;
    const gzipped = new Blob([encoded]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(gzipped).arrayBuffer());
  }

  async #attempt(body: Uint8Array<ArrayBuffer>, deadline: number): Promise<Attempt> {
    this.#unanswered++;
    const attempt = await this.#try(body, deadline).finally(() => this.#unanswered--);
    this.#lastFailure = attempt.kind === "sent" ? undefined : attempt.cause;
    return attempt;
  }

  async #try(body: Uint8Array<ArrayBuffer>, deadline: number): Promise<Attempt> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    this.#onShutdown.add(abort);
    // A request still unanswered one timeout after the deadline is given up for good.
    const giveUp = setTimeout(abort, deadline - Date.now() + this.#settings.timeoutMs);
    try {
      const response = await this.#fetch(this.#settings.tracesUrl, {
        method: "POST",
        headers: this.#headers,
        body,
        signal: controller.signal,
      });
      if (response.ok) return { kind: "sent", partialSuccess: await readPartialSuccess(response) };
      const message = await readErrorMessage(response);
      return {
        kind: "failed",
        cause: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${
          message ? `: ${message}` : ""
        }`,
        retry: RETRYABLE_STATUSES.has(response.status),
        afterMs: retryAfterMs(response.headers.get("retry-after"), Date.now()),
      };
    } catch (error) {
      if (this.#shutDown) {
        return { kind: "failed", cause: "aborted at shutdown", retry: false };
      }
      if (controller.signal.aborted) {
        return { kind: "failed", cause: "no answer, request given up", retry: false };
      }
      return { kind: "failed", cause: this.#networkCause(error), retry: true };
    } finally {
      clearTimeout(giveUp);
      this.#onShutdown.delete(abort);
    }
  }

  #outcome(attempt: Attempt, attempts: number): ExportOutcome {
    if (attempt.kind === "sent") {
      const partial = attempt.partialSuccess;
      if (!partial) return { kind: "sent" };
      const message = partial.errorMessage || "no message";
      return {
        kind: "sent",
        rejectedSpans: partial.rejectedSpans,
        warning: this.#reason(`partial success, ${partial.rejectedSpans} rejected: ${message}`),
      };
    }
    return this.#failed(
      attempts > 1 ? `${attempt.cause} (after ${attempts} attempts)` : attempt.cause,
    );
  }

  #failed(cause: string): ExportOutcome {
    return { kind: "failed", reason: this.#reason(cause) };
  }

  #reason(cause: string): string {
    return `${this.endpoint}: ${cause}`;
  }

  /**
   * Runtimes word network errors differently, put the detail in `cause` (Deno: "fetch failed")
   * and some quote the URL, credentials included.
   */
  #networkCause(error: unknown): string {
    let message = "";
    for (let cause = error; cause !== undefined && message.length < 500;) {
      message += `${message ? ": " : ""}${cause instanceof Error ? cause.message : String(cause)}`;
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    if (/refused/i.test(message)) return "connection refused";
    const safe = message.replaceAll(this.#settings.tracesUrl, this.endpoint)
      .replace(/\/\/[^/@\s]*@/g, "//");
    return `unreachable (${safe.length > 160 ? `${safe.slice(0, 159)}…` : safe})`;
  }

  /** Resolves true after `ms`, or false at once when the exporter shuts down meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#shutDown) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (slept: boolean) => {
        clearTimeout(timer);
        this.#onShutdown.delete(stop);
        resolve(slept);
      };
      const stop = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.#onShutdown.add(stop);
    });
  }
}

/** The promise's value, or undefined if the deadline passes first. */
function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
