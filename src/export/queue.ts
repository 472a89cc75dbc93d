/**
 * The span processor between the tracer and the exporter.
 *
 * Written here rather than using the SDK's BatchSpanProcessor because the edge needs three things
 * it does not do: concurrent flushes share one in-flight export instead of each exporting
 * (Workers flush after every response), record-only spans wait for a tail decision (kept on error
 * or slowness, else discarded) and drops are counted by cause and reported in one line per
 * interval instead of a debug log per span. Shutdown ends within its deadline whatever the
 * collector does, and counts what it could not send. An export of several batches sends as many
 * at once as the exporter takes (tracegate's own: `MAX_CONCURRENT_SENDS`; any other: one). An
 * export that has not ended within `exportTimeoutMs` is given up (its spans counted as failed) so
 * that it cannot hold up the ones after it: a custom exporter may never call back, and in workerd
 * a timer or fetch belongs to the request that started it and never settles if that request is
 * cancelled. A later flush notices such an export, or a gathering window that never closed, and
 * starts afresh in its own request.
 */
import { type Context, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type { ExportOutcome, OutcomeExporter } from "./otlp_http_exporter.ts";
import type {
  ReadableSpan,
  Span,
  SpanExporter,
  SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { DEFAULT_EXPORT_TIMEOUT_MS, type QueueSettings } from "../config/settings.ts";
import { tailVerdict } from "../sampling/tail.ts";

export interface DropCounts {
  /** The queue was full when the span ended. */
  queueFull: number;
  /** The exporter gave up on the batch (after its own retries), or no answer ever came. */
  exportFailed: number;
  /** The collector answered with a partial success refusing them. */
  rejected: number;
  /** Still queued, in flight or awaiting a tail decision when the shutdown deadline passed. */
  unsentAtShutdown: number;
}

export interface QueueStats {
  readonly exportedSpans: number;
  readonly exportRequests: number;
  readonly queued: number;
  readonly awaitingTailDecision: number;
  /** Taken by the export in progress and not settled yet; within `maxQueueSize` too. */
  readonly exporting: number;
  /** In batches whose export timed out, the collector's answer still possible. */
  readonly awaitingOutcome: number;
  readonly dropped: Readonly<DropCounts>;
}

/** One export in progress: the spans it took from the queue and has not settled yet. */
interface Run {
  readonly startedAt: number;
  unsettled: number;
  givenUp: boolean;
}

export interface ExportQueueOptions extends Omit<QueueSettings, "exportTimeoutMs"> {
  /** One line per report interval when spans were dropped. */
  readonly log: (line: string) => void;
  readonly dropReportIntervalMs?: number;
  /** Default 30 s, as `OTEL_BSP_EXPORT_TIMEOUT`'s. */
  readonly exportTimeoutMs?: number;
}

export class ExportQueue implements SpanProcessor {
  readonly #exporter: OutcomeExporter;
  readonly #options: ExportQueueOptions;
  readonly #exportTimeoutMs: number;
  #queue: ReadableSpan[] = [];
  /** Record-only spans by trace id, waiting for their local root to decide. */
  readonly #awaitingDecision = new Map<string, ReadableSpan[]>();
  #awaitingCount = 0;
  /** The export in progress: it sends the spans that were queued when it started. */
  #running: Promise<void> | undefined;
  #runningRun: Run | undefined;
  /** Spans taken by exports in progress and not settled yet: held too, so within the bound. */
  #exporting = 0;
  /** The one export scheduled after it, shared by every flush meanwhile, and when. */
  #next: Promise<void> | undefined;
  #nextScheduledAt = 0;
  /** Settles when the run of `#next` does (`#next` may also wait for the export after it). */
  #nextRun: Promise<void> | undefined;
  /**
   * Cuts the gathering window of `#next` short: for a full batch, which is then sent without the
   * part batch behind it, or for shutdown, which sends everything.
   */
  #wakeNext: ((reason: "full batch" | "shutdown") => void) | undefined;
  #exportedSpans = 0;
  #exportRequests = 0;
  /** Spans of timed-out batches whose answer may still come, and those answers. */
  #awaitingOutcome = 0;
  readonly #lateOutcomes = new Set<Promise<void>>();
  readonly #dropped: DropCounts = noDrops();
  readonly #unreported: DropCounts = noDrops();
  /** The latest failure or collector warning not yet reported. */
  #lastProblem: string | undefined;
  #lastReport = -Infinity;
  /** Reports drops when the interval has passed, even if no span ends or flush comes. */
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #shutdown: Promise<void> | undefined;
  /** Shutdown has counted what is left: nothing is queued, counted or reported any more. */
  #closed = false;

  constructor(exporter: SpanExporter | OutcomeExporter, options: ExportQueueOptions) {
    this.#exporter = outcomeExporter(exporter);
    this.#options = options;
    this.#exportTimeoutMs = options.exportTimeoutMs ?? DEFAULT_EXPORT_TIMEOUT_MS;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed) {
      this.#dropped.unsentAtShutdown++;
      return;
    }
    const spanContext = span.spanContext();
    if ((spanContext.traceFlags & TraceFlags.SAMPLED) !== 0) {
      this.#enqueue(span);
      return;
    }
    const traceId = spanContext.traceId;
    const held = this.#awaitingDecision.get(traceId);
    const verdict = tailVerdict(span);
    if (verdict === "kept") {
      this.#release(traceId, held);
      for (const kept of held ?? []) this.#enqueue(kept);
      this.#enqueue(span);
    } else if (verdict === "dropped") {
      this.#release(traceId, held);
    } else if (this.#held() >= this.#options.maxQueueSize) {
      this.#drop("queueFull", 1);
    } else {
      if (held) held.push(span);
      else this.#awaitingDecision.set(traceId, [span]);
      this.#awaitingCount++;
    }
  }

  /**
   * Exports what is queued once the gathering window has passed; every caller until that export
   * starts shares it. Settles when the spans queued before the call have left. Never rejects.
   */
  flush(): Promise<void> {
    this.#giveUpStalled();
    this.#reportDrops(false);
    if (this.#queue.length === 0) return this.#running ?? Promise.resolve();
    this.#next ??= this.#scheduleNext();
    return this.#next;
  }

  /** Exports everything queued now, without a gathering window. */
  async forceFlush(): Promise<void> {
    this.#giveUpStalled();
    await this.#running;
    if (this.#queue.length > 0) await this.#run();
  }

  /**
   * Sends what is left within `shutdownTimeoutMs`: queued spans, the export in flight and answers
   * still awaited. At the deadline the exporter is stopped (its requests aborted) and what was
   * not sent is counted; the drop line, if any, is the last thing logged.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    this.#wakeNext?.("shutdown");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#options.shutdownTimeoutMs);
    });
    const drained = await Promise.race([this.#drain().then(() => true), deadline]);
    clearTimeout(timer);
    // Closed first: the count below is reported once, in the last line, with its cause.
    this.#closed = true;
    if (!drained) {
      const pending = this.#exporter.pendingProblem?.();
      this.#lastProblem = `${pending ? `${pending}; ` : ""}not sent within the ` +
        `${this.#options.shutdownTimeoutMs} ms shutdown deadline`;
      this.#drop(
        "unsentAtShutdown",
        this.#held() + this.#awaitingOutcome,
      );
    }
    this.#queue = [];
    this.#awaitingDecision.clear();
    this.#awaitingCount = 0;
    this.#exporting = 0;
    clearTimeout(this.#reportTimer);
    this.#report();
    await this.#exporter.shutdown();
  }

  /** Until everything queued has been exported and every late answer has come. */
  async #drain(): Promise<void> {
    await this.forceFlush();
    while (this.#lateOutcomes.size > 0) await Promise.all(this.#lateOutcomes);
  }

  stats(): QueueStats {
    return {
      exportedSpans: this.#exportedSpans,
      exportRequests: this.#exportRequests,
      queued: this.#queue.length,
      awaitingTailDecision: this.#awaitingCount,
      exporting: this.#exporting,
      awaitingOutcome: this.#awaitingOutcome,
      dropped: { ...this.#dropped },
    };
  }

  #release(traceId: string, held: ReadableSpan[] | undefined): void {
    if (!held) return;
    this.#awaitingDecision.delete(traceId);
    this.#awaitingCount -= held.length;
  }

  #enqueue(span: ReadableSpan): void {
    if (this.#held() >= this.#options.maxQueueSize) {
      this.#drop("queueFull", 1);
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#options.maxExportBatchSize) {
      this.#next ??= this.#scheduleNext();
      this.#wakeNext?.("full batch");
    }
  }

  /**
   * The next export: after the gathering window (cut short by a full batch) and after the export
   * in progress, it sends everything queued by then. Under load exports thus start about once a
   * window, each carrying what gathered meanwhile, rather than one per request. Woken by a full
   * batch, it sends only full batches, as the SDK's BatchSpanProcessor does: under load the queue
   * has grown a little past the batch size by the time the export in progress ends, and sending
   * that part batch too would double the export requests, each with a handful of spans (measured
   * on the Deno proxy: runs of 512 to 560 spans, sent as two requests). The part batch leaves with
   * the next export, and the flushes that shared this one wait for that export's run too.
   */
  #scheduleNext(): Promise<void> {
    this.#nextScheduledAt = Date.now();
    let fullBatchesOnly = false;
    const window = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#options.scheduleDelayMs);
      this.#wakeNext = (reason) => {
        fullBatchesOnly = reason === "full batch";
        clearTimeout(timer);
        resolve();
      };
    });
    let leftBehind = false;
    const run = Promise.all([window, this.#running]).then(() => {
      if (this.#next === next) {
        this.#next = undefined;
        this.#nextRun = undefined;
        this.#wakeNext = undefined;
      }
      const queued = this.#queue.length;
      const count = fullBatchesOnly ? queued - queued % this.#options.maxExportBatchSize : queued;
      leftBehind = count < queued;
      return this.#run(count);
    });
    const next: Promise<void> = run.then(() => {
      if (!leftBehind || this.#closed) return;
      this.#next ??= this.#scheduleNext();
      return this.#nextRun;
    });
    this.#nextRun = run;
    return next;
  }

  /**
   * Exports the first `count` spans queued (all by default); settles when done or given up, at
   * `exportTimeoutMs` at the latest.
   */
  #run(count = this.#queue.length): Promise<void> {
    const spans = this.#queue.splice(0, count);
    const state: Run = { startedAt: Date.now(), unsettled: spans.length, givenUp: false };
    this.#exporting += spans.length;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#giveUp(state);
        resolve();
      }, this.#exportTimeoutMs);
    });
    const run: Promise<void> = Promise.race([this.#exportAll(state, spans), deadline]).finally(
      () => {
        clearTimeout(timer);
        if (this.#running === run) {
          this.#running = undefined;
          this.#runningRun = undefined;
        }
      },
    );
    this.#running = run;
    this.#runningRun = state;
    return run;
  }

  /**
   * The run's batches in order, as many at once as the exporter takes (each sender takes the next
   * batch when its own is answered), until the run is given up.
   */
  async #exportAll(run: Run, spans: ReadableSpan[]): Promise<void> {
    const size = this.#options.maxExportBatchSize;
    let start = 0;
    const sendInTurn = async () => {
      while (start < spans.length && !this.#closed && !run.givenUp) {
        const batch = spans.slice(start, start += size);
        this.#exportRequests++;
        const outcome = await this.#exporter.send(batch).catch((error): ExportOutcome => ({
          kind: "failed",
          reason: error instanceof Error ? error.message : String(error),
        }));
        if (run.givenUp || this.#closed) return; // its spans were counted then
        run.unsettled -= batch.length;
        this.#exporting -= batch.length;
        this.#settle(batch.length, outcome);
      }
    };
    const senders = Math.min(
      this.#exporter.maxConcurrentSends ?? 1,
      Math.ceil(spans.length / size),
    );
    await Promise.all(Array.from({ length: senders }, sendInTurn));
  }

  /** Counts what the run has not settled as failed; whatever it still does is ignored. */
  #giveUp(run: Run): void {
    if (run.givenUp || this.#closed) return;
    run.givenUp = true;
    this.#lastProblem =
      `an export did not end within ${this.#exportTimeoutMs} ms (OTEL_BSP_EXPORT_TIMEOUT)`;
    this.#exporting -= run.unsettled;
    this.#drop("exportFailed", run.unsettled);
    run.unsettled = 0;
  }

  /**
   * Gives up, from the caller's request, an export or a gathering window whose own timer should
   * have ended it by now (in workerd it died with a cancelled request): later exports are
   * scheduled afresh. Flushes still waiting for the old ones are left to their runtime.
   */
  #giveUpStalled(): void {
    const now = Date.now();
    const limit = this.#exportTimeoutMs;
    const running = this.#runningRun;
    if (running && (running.givenUp || now - running.startedAt > limit)) {
      this.#giveUp(running);
      this.#running = undefined;
      this.#runningRun = undefined;
      this.#next = undefined; // it waits for the given-up export
      this.#nextRun = undefined;
      this.#wakeNext = undefined;
    }
    if (this.#next && now - this.#nextScheduledAt > this.#options.scheduleDelayMs + limit) {
      this.#next = undefined;
      this.#nextRun = undefined;
      this.#wakeNext = undefined;
    }
  }

  /** Spans in memory that count against `maxQueueSize`. */
  #held(): number {
    return this.#queue.length + this.#awaitingCount + this.#exporting;
  }

  #settle(count: number, outcome: ExportOutcome): void {
    if (this.#closed) return; // counted as unsent at shutdown
    switch (outcome.kind) {
      case "sent": {
        const rejected = Math.min(count, outcome.rejectedSpans ?? 0);
        this.#exportedSpans += count - rejected;
        if (outcome.warning) this.#lastProblem = outcome.warning;
        if (rejected > 0) this.#drop("rejected", rejected);
        else if (outcome.warning) this.#reportDrops(false);
        return;
      }
      case "failed":
        this.#lastProblem = outcome.reason;
        this.#drop("exportFailed", count);
        return;
      case "timeout": {
        // Not lost yet: the collector may still take it. Counted when its answer comes.
        this.#lastProblem = outcome.reason;
        this.#awaitingOutcome += count;
        const late = outcome.late.then((answer) => {
          this.#lateOutcomes.delete(late);
          this.#awaitingOutcome -= count;
          this.#settle(count, answer);
        });
        this.#lateOutcomes.add(late);
        return;
      }
    }
  }

  #drop(cause: keyof DropCounts, count: number): void {
    if (count === 0) return;
    this.#dropped[cause] += count;
    this.#unreported[cause] += count;
    this.#reportDrops(false);
  }

  /** Reports now if the interval has passed, else once it has (one timer at most). */
  #reportDrops(force: boolean): void {
    if (this.#closed || (total(this.#unreported) === 0 && this.#lastProblem === undefined)) return;
    const interval = this.#options.dropReportIntervalMs ?? 60_000;
    const wait = this.#lastReport + interval - Date.now();
    if (force || wait <= 0) {
      clearTimeout(this.#reportTimer);
      this.#reportTimer = undefined;
      this.#report();
    } else {
      this.#reportTimer ??= setTimeout(() => {
        this.#reportTimer = undefined;
        this.#reportDrops(false);
      }, wait);
    }
  }

  /** One line: everything dropped since the last line, by cause, and the latest problem. */
  #report(): void {
    const unreported = this.#unreported;
    const count = total(unreported);
    const problem = this.#lastProblem;
    if (count === 0 && problem === undefined) return;
    this.#lastReport = Date.now();
    this.#lastProblem = undefined;
    if (count === 0) {
      this.#options.log(`tracegate: export warning: ${problem}`);
      return;
    }
    const extra = (label: string, value: number) => value > 0 ? `, ${label}: ${value}` : "";
    this.#options.log(
      `tracegate: dropped ${count} spans (queue full: ${unreported.queueFull}, ` +
        `export failed: ${unreported.exportFailed}` +
        extra("rejected by the collector", unreported.rejected) +
        extra("unsent at shutdown", unreported.unsentAtShutdown) +
        `); total dropped since start: ${total(this.#dropped)}` +
        (problem === undefined ? "" : `; last problem: ${problem}`),
    );
    Object.assign(unreported, noDrops());
  }
}

function noDrops(): DropCounts {
  return { queueFull: 0, exportFailed: 0, rejected: 0, unsentAtShutdown: 0 };
}

function total(counts: DropCounts): number {
  return counts.queueFull + counts.exportFailed + counts.rejected + counts.unsentAtShutdown;
}

/**
 * Any SpanExporter, seen through the outcomes tracegate's own exporter reports. It is sent one
 * batch at a time (no `maxConcurrentSends`): the SDK specification says Export is never called
 * concurrently for one exporter instance, and users' exporters may rely on it.
 */
function outcomeExporter(exporter: SpanExporter | OutcomeExporter): OutcomeExporter {
  if ("send" in exporter) return exporter;
  return {
    send: (spans) =>
      new Promise<ExportOutcome>((resolve) => {
        try {
          exporter.export([...spans], (result) =>
            resolve(
              result.code === ExportResultCode.SUCCESS
                ? { kind: "sent" }
                : { kind: "failed", reason: result.error?.message ?? "export failed" },
            ));
        } catch (error) {
          resolve({
            kind: "failed",
            reason: error instanceof Error ? error.message : String(error),
          });
        }
      }),
    shutdown: () => exporter.shutdown(),
  };
}
