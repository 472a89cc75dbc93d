/**
 * The span processor between the tracer and the exporter.
 *
 * Written here rather than using the SDK's BatchSpanProcessor because the edge needs three things
 * it does not do: concurrent flushes share one in-flight export instead of each exporting
 * (Workers flush after every response), record-only spans wait for a tail decision (kept on error
 * or slowness, else discarded) and drops are counted by cause and reported in one line per
 * interval instead of a debug log per span.
 */
import { type Context, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type {
  ReadableSpan,
  Span,
  SpanExporter,
  SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { QueueSettings } from "../config/settings.ts";
// A local root not head-sampled carries a reason only when a tail rule kept it; its record-only
// descendants are exported with it.
import { ATTR_SAMPLING_REASON } from "../sampling/reason.ts";

export interface DropCounts {
  /** The queue was full when the span ended. */
  queueFull: number;
  /** The exporter gave up on the batch (after its own retries). */
  exportFailed: number;
}

export interface QueueStats {
  readonly exportedSpans: number;
  readonly exportRequests: number;
  readonly queued: number;
  readonly awaitingTailDecision: number;
  readonly dropped: Readonly<DropCounts>;
}

export interface ExportQueueOptions extends QueueSettings {
  /** One line per report interval when spans were dropped. */
  readonly log: (line: string) => void;
  readonly dropReportIntervalMs?: number;
}

export class ExportQueue implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #options: ExportQueueOptions;
  #queue: ReadableSpan[] = [];
  /** Record-only spans by trace id, waiting for their local root to decide. */
  readonly #awaitingDecision = new Map<string, ReadableSpan[]>();
  #awaitingCount = 0;
  /** The export in progress: it sends the spans that were queued when it started. */
  #running: Promise<void> | undefined;
  /** The one export scheduled after it, shared by every flush meanwhile. */
  #next: Promise<void> | undefined;
  /** Cuts the gathering window of `#next` short (a full batch is waiting). */
  #wakeNext: (() => void) | undefined;
  #exportedSpans = 0;
  #exportRequests = 0;
  readonly #dropped: DropCounts = { queueFull: 0, exportFailed: 0 };
  readonly #unreported: DropCounts = { queueFull: 0, exportFailed: 0 };
  #lastReport = -Infinity;
  #closed = false;

  constructor(exporter: SpanExporter, options: ExportQueueOptions) {
    this.#exporter = exporter;
    this.#options = options;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed) return;
    const spanContext = span.spanContext();
    if ((spanContext.traceFlags & TraceFlags.SAMPLED) !== 0) {
      this.#enqueue(span);
      return;
    }
    const traceId = spanContext.traceId;
    const held = this.#awaitingDecision.get(traceId);
    if (span.attributes[ATTR_SAMPLING_REASON] !== undefined) {
      this.#release(traceId, held);
      for (const kept of held ?? []) this.#enqueue(kept);
      this.#enqueue(span);
    } else if (isLocalRoot(span)) {
      this.#release(traceId, held);
    } else if (this.#awaitingCount + this.#queue.length >= this.#options.maxQueueSize) {
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
    this.#reportDrops(false);
    if (this.#queue.length === 0) return this.#running ?? Promise.resolve();
    this.#next ??= this.#scheduleNext();
    return this.#next;
  }

  /** Exports everything queued now, without a gathering window. */
  async forceFlush(): Promise<void> {
    await this.#running;
    if (this.#queue.length > 0) await this.#run();
  }

  async shutdown(): Promise<void> {
    this.#wakeNext?.();
    await this.forceFlush();
    this.#closed = true;
    this.#reportDrops(true);
    await this.#exporter.shutdown();
  }

  stats(): QueueStats {
    return {
      exportedSpans: this.#exportedSpans,
      exportRequests: this.#exportRequests,
      queued: this.#queue.length,
      awaitingTailDecision: this.#awaitingCount,
      dropped: { ...this.#dropped },
    };
  }

  #release(traceId: string, held: ReadableSpan[] | undefined): void {
    if (!held) return;
    this.#awaitingDecision.delete(traceId);
    this.#awaitingCount -= held.length;
  }

  #enqueue(span: ReadableSpan): void {
    if (this.#queue.length + this.#awaitingCount >= this.#options.maxQueueSize) {
      this.#drop("queueFull", 1);
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#options.maxExportBatchSize) {
      this.#next ??= this.#scheduleNext();
      this.#wakeNext?.();
    }
  }

  /**
   * The next export: after the gathering window (cut short by a full batch) and after the export
   * in progress, it sends everything queued by then. Under load exports thus start about once a
   * window, each carrying what gathered meanwhile, rather than one per request.
   */
  #scheduleNext(): Promise<void> {
    const window = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#options.scheduleDelayMs);
      this.#wakeNext = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return Promise.all([window, this.#running]).then(() => {
      this.#next = undefined;
      this.#wakeNext = undefined;
      return this.#run();
    });
  }

  #run(): Promise<void> {
    const run: Promise<void> = this.#exportAll(this.#queue.splice(0)).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** One batch at a time, in order. */
  async #exportAll(spans: ReadableSpan[]): Promise<void> {
    const size = this.#options.maxExportBatchSize;
    for (let start = 0; start < spans.length; start += size) {
      const batch = spans.slice(start, start + size);
      const ok = await this.#export(batch);
      if (ok) this.#exportedSpans += batch.length;
      else this.#drop("exportFailed", batch.length);
    }
  }

  #export(batch: ReadableSpan[]): Promise<boolean> {
    this.#exportRequests++;
    return new Promise<boolean>((resolve) => {
      try {
        this.#exporter.export(batch, (result) => resolve(result.code === ExportResultCode.SUCCESS));
      } catch {
        resolve(false);
      }
    });
  }

  #drop(cause: keyof DropCounts, count: number): void {
    this.#dropped[cause] += count;
    this.#unreported[cause] += count;
    this.#reportDrops(false);
  }

  #reportDrops(force: boolean): void {
    const { queueFull, exportFailed } = this.#unreported;
    if (queueFull + exportFailed === 0) return;
    const now = Date.now();
    const interval = this.#options.dropReportIntervalMs ?? 60_000;
    if (!force && now - this.#lastReport < interval) return;
    this.#lastReport = now;
    this.#options.log(
      `tracegate: dropped ${queueFull + exportFailed} spans (queue full: ${queueFull}, ` +
        `export failed: ${exportFailed}); total dropped since start: ` +
        `${this.#dropped.queueFull + this.#dropped.exportFailed}`,
    );
    this.#unreported.queueFull = 0;
    this.#unreported.exportFailed = 0;
  }
}

/** The first span of the trace in this process: its parent, if any, came from another process. */
function isLocalRoot(span: ReadableSpan): boolean {
  return span.parentSpanContext === undefined || span.parentSpanContext.isRemote === true;
}
