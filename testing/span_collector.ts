/**
 * The spans a test receiver has accepted, and waits on them that resolve the moment an export
 * makes them true (no polling, no sleeps) or fail after a deadline saying what arrived instead.
 */
import { type DecodedSpan, serviceOf } from "../viewer/otlp/spans.ts";

export interface WaitOptions {
  /** How long to wait before failing; default 5000. */
  readonly timeoutMs?: number;
}

export const DEFAULT_WAIT_MS = 5_000;
const MAX_SPANS_LISTED = 40;

interface Waiter {
  check(): void;
  reject(error: Error): void;
}

/**
 * `describe`, when given, adds to every failure message (a receiver lists the requests it got).
 */
export class SpanCollector {
  readonly #spans: DecodedSpan[] = [];
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(private readonly describe: () => string = () => "") {}

  /** Every span accepted so far, in arrival order. */
  get spans(): readonly DecodedSpan[] {
    return this.#spans;
  }

  add(spans: readonly DecodedSpan[]): void {
    if (this.#closed) return;
    this.#spans.push(...spans);
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  /** Forgets the spans accepted so far; pending waits keep waiting for new ones. */
  clear(): void {
    this.#spans.length = 0;
  }

  /**
   * Resolves with what `test` returns as soon as it returns something other than undefined,
   * checked now and after each accepted export. Rejects after `timeoutMs` with a message that
   * starts `what` and lists what arrived; also rejects if `test` throws.
   */
  waitFor<T>(
    what: string,
    test: (spans: readonly DecodedSpan[]) => T | undefined,
    { timeoutMs = DEFAULT_WAIT_MS }: WaitOptions = {},
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${what}: the receiver is closed`));
    return new Promise<T>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        check: () => {
          let result: T | undefined;
          try {
            result = test(this.#spans);
          } catch (error) {
            settle();
            reject(error);
            return;
          }
          if (result !== undefined) {
            settle();
            resolve(result);
          }
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.reject(new Error(`${what}: not there after ${timeoutMs} ms. ${this.report()}`)),
        timeoutMs,
      );
      this.#waiters.add(waiter);
      waiter.check();
    });
  }

  /** Fails every pending wait and ignores spans from now on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of [...this.#waiters]) {
      waiter.reject(new Error(`the receiver closed while waiting. ${this.report()}`));
    }
  }

  /** What arrived so far, for failure messages: spans grouped by trace, then `describe()`. */
  report(): string {
    const byTrace = new Map<string, DecodedSpan[]>();
    for (const span of this.#spans.slice(0, MAX_SPANS_LISTED)) {
      const trace = byTrace.get(span.traceId);
      if (trace) trace.push(span);
      else byTrace.set(span.traceId, [span]);
    }
    const lines = [...byTrace].flatMap(([traceId, spans]) => [
      `\n  trace ${traceId}:`,
      ...spans.map((span) =>
        `\n    - ${span.kind} ${JSON.stringify(span.name)} span=${span.spanId}` +
        (span.parentSpanId ? ` parent=${span.parentSpanId}` : "") +
        ` service=${serviceOf(span)}`
      ),
    ]);
    const more = this.#spans.length > MAX_SPANS_LISTED
      ? `\n  … and ${this.#spans.length - MAX_SPANS_LISTED} more`
      : "";
    const arrived = this.#spans.length === 0
      ? "No spans arrived."
      : `${this.#spans.length} span(s) arrived:${lines.join("")}${more}`;
    return `${arrived}${this.describe()}`;
  }
}
