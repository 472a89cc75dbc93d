/**
 * The viewer's memory: the most recent traces, grouped by trace id as their spans arrive (the spans
 * of one trace may come in several exports, from several services), within fixed bounds.
 */
import { ATTR_URL_FULL, ATTR_URL_PATH } from "@opentelemetry/semantic-conventions";
import { ATTR_REQUEST_ID, ATTR_REQUEST_ID_BEFORE_0_2 } from "../src/tracing/request_id.ts";
import { hexOfBytes } from "./otlp/fields.ts";
import { type Attributes, type AttrValue, type DecodedSpan, serviceOf } from "./otlp/spans.ts";
import { byStart, compareNanos } from "./tree.ts";

export const DEFAULT_MAX_TRACES = 1000;
export const DEFAULT_MAX_SPANS_PER_TRACE = 1000;
/** How long a trace must go without new spans to count as finished. */
export const DEFAULT_SETTLE_MS = 300;

export interface TraceStoreOptions {
  /** Traces kept; beyond, the one least recently added to is forgotten. */
  readonly maxTraces?: number;
  /** Spans kept per trace; beyond, new spans of that trace are counted and dropped. */
  readonly maxSpansPerTrace?: number;
  readonly settleMs?: number;
}

export interface TraceSummary {
  readonly traceId: string;
  /** The span without a parent in the trace, else the earliest. */
  readonly rootSpanId: string;
  readonly rootName: string;
  /** The root's `url.path` (or the path of its `url.full`), "" when it has neither. */
  readonly rootPath: string;
  readonly rootService: string;
  /** Every service.name with spans in the trace, in order of first appearance. */
  readonly services: readonly string[];
  readonly startTimeUnixNano: bigint;
  /** From the earliest start to the latest end. */
  readonly durationNano: bigint;
  readonly spanCount: number;
  /** Spans dropped past the per-trace bound. */
  readonly droppedSpanCount: number;
  readonly errorCount: number;
  /** The request ids of the trace's spans (tracegate.request.id, or http.request.id before 0.2). */
  readonly requestIds: readonly string[];
}

export interface StoredTrace {
  readonly summary: TraceSummary;
  /** In arrival order. */
  readonly spans: readonly DecodedSpan[];
}

export interface SettledTrace extends StoredTrace {
  /** False the first time the trace settles, true when late spans made it settle again. */
  readonly update: boolean;
}

export type TraceSettledListener = (trace: SettledTrace) => void;

class TraceEntry {
  readonly spans = new Map<string, DecodedSpan>();
  droppedSpanCount = 0;
  settleTimer: ReturnType<typeof setTimeout> | undefined;
  settledBefore = false;
  #summary: TraceSummary | undefined;
  #searchText: string | undefined;

  constructor(readonly traceId: string) {}

  /** False when the span was dropped for the per-trace bound. */
  add(span: DecodedSpan, maxSpans: number): boolean {
    // A span sent again (an exporter retrying) replaces the copy already held.
    if (!this.spans.has(span.spanId) && this.spans.size >= maxSpans) {
      this.droppedSpanCount++;
      return false;
    }
    this.spans.set(span.spanId, span);
    this.#summary = undefined;
    this.#searchText = undefined;
    return true;
  }

  get summary(): TraceSummary {
    return this.#summary ??= summarize(this.traceId, [...this.spans.values()], this);
  }

  get stored(): StoredTrace {
    return { summary: this.summary, spans: [...this.spans.values()] };
  }

  /** Lower-cased span names and attribute values, one per line, for substring search. */
  get searchText(): string {
    if (this.#searchText === undefined) {
      const parts: string[] = [];
      for (const span of this.spans.values()) {
        parts.push(span.name);
        for (const value of Object.values(span.attributes)) parts.push(attrText(value));
        for (const value of Object.values(span.resourceAttributes)) parts.push(attrText(value));
      }
      this.#searchText = parts.join("\n").toLowerCase();
    }
    return this.#searchText;
  }

  matches(query: string): boolean {
    return this.traceId.startsWith(query) || this.searchText.includes(query);
  }
}

function summarize(
  traceId: string,
  spans: readonly DecodedSpan[],
  entry: { readonly droppedSpanCount: number },
): TraceSummary {
  const ids = new Set(spans.map((span) => span.spanId));
  const parentless = spans.filter((span) => !ids.has(span.parentSpanId));
  const root = earliest(parentless.length > 0 ? parentless : spans);
  let start = spans[0].startTimeUnixNano;
  let end = spans[0].endTimeUnixNano;
  // The root's service first, then the others as they joined the request.
  const services = new Set([serviceOf(root), ...[...spans].sort(byStart).map(serviceOf)]);
  const requestIds = new Set<string>();
  let errorCount = 0;
  for (const span of spans) {
    if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
    if (span.status.code === "ERROR") errorCount++;
    const requestId = span.attributes[ATTR_REQUEST_ID] ??
      span.attributes[ATTR_REQUEST_ID_BEFORE_0_2];
    if (typeof requestId === "string") requestIds.add(requestId);
  }
  return {
    traceId,
    rootSpanId: root.spanId,
    rootName: root.name,
    rootPath: pathOf(root),
    rootService: serviceOf(root),
    services: [...services],
    startTimeUnixNano: start,
    durationNano: end > start ? end - start : 0n,
    spanCount: spans.length,
    droppedSpanCount: entry.droppedSpanCount,
    errorCount,
    requestIds: [...requestIds],
  };
}

function pathOf(span: DecodedSpan): string {
  const path = span.attributes[ATTR_URL_PATH];
  if (typeof path === "string") return path;
  const full = span.attributes[ATTR_URL_FULL];
  if (typeof full !== "string") return "";
  try {
    return new URL(full).pathname;
  } catch {
    return "";
  }
}

function earliest(spans: readonly DecodedSpan[]): DecodedSpan {
  return spans.reduce((first, span) =>
    span.startTimeUnixNano < first.startTimeUnixNano ? span : first
  );
}

/** An attribute value as the text a search matches against. */
export function attrText(value: AttrValue): string {
  if (value === null) return "";
  if (value instanceof Uint8Array) return hexOfBytes(value);
  if (Array.isArray(value)) return value.map(attrText).join(", ");
  if (typeof value === "object") {
    return Object.entries(value as Attributes)
      .map(([key, nested]) => `${key}=${attrText(nested)}`)
      .join(", ");
  }
  return String(value);
}

export class TraceStore {
  readonly maxTraces: number;
  readonly maxSpansPerTrace: number;
  readonly settleMs: number;
  /** Least recently added to first: the order traces are forgotten in. */
  readonly #traces = new Map<string, TraceEntry>();
  readonly #listeners = new Set<TraceSettledListener>();
  #evictedTraceCount = 0;
  #closed = false;

  constructor(options: TraceStoreOptions = {}) {
    this.maxTraces = positive(options.maxTraces ?? DEFAULT_MAX_TRACES, "maxTraces");
    this.maxSpansPerTrace = positive(
      options.maxSpansPerTrace ?? DEFAULT_MAX_SPANS_PER_TRACE,
      "maxSpansPerTrace",
    );
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  get size(): number {
    return this.#traces.size;
  }

  /** Traces forgotten to stay within maxTraces. */
  get evictedTraceCount(): number {
    return this.#evictedTraceCount;
  }

  /** Files spans under their traces; the traces they touch become the most recent. */
  add(spans: readonly DecodedSpan[]): void {
    if (this.#closed) return;
    const touched = new Set<TraceEntry>();
    for (const span of spans) {
      let entry = this.#traces.get(span.traceId);
      if (entry) this.#traces.delete(span.traceId);
      else entry = new TraceEntry(span.traceId);
      this.#traces.set(span.traceId, entry);
      if (entry.add(span, this.maxSpansPerTrace)) touched.add(entry);
      this.#evictOverflow();
    }
    for (const entry of touched) {
      // A large export may have pushed out traces it touched itself.
      if (this.#traces.get(entry.traceId) === entry) this.#scheduleSettle(entry);
    }
  }

  get(traceId: string): StoredTrace | undefined {
    return this.#traces.get(traceId.toLowerCase())?.stored;
  }

  /**
   * Summaries of the traces matching `query`, newest (by start time) first: a trace id or its
   * prefix, or a substring of a span name or of any span or resource attribute value (which covers
   * the request id). Case-insensitive; an empty query matches every trace.
   */
  search(query = ""): TraceSummary[] {
    const needle = query.trim().toLowerCase();
    const matches: TraceSummary[] = [];
    for (const entry of this.#traces.values()) {
      if (needle === "" || entry.matches(needle)) matches.push(entry.summary);
    }
    // Start times have millisecond precision (the SDK's too), so fast requests tie: the trace
    // added to later counts as newer (reversed arrival order, then a stable sort).
    return matches.reverse().sort((a, b) => compareNanos(b.startTimeUnixNano, a.startTimeUnixNano));
  }

  /**
   * Calls `listener` each time a trace has gone `settleMs` without new spans: once when it
   * finishes, and again (as an update) if late spans arrive. Returns the unsubscribe function.
   */
  onTraceSettled(listener: TraceSettledListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops every pending settle timer; the store then ignores new spans. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#traces.values()) clearTimeout(entry.settleTimer);
    this.#listeners.clear();
  }

  #scheduleSettle(entry: TraceEntry): void {
    clearTimeout(entry.settleTimer);
    entry.settleTimer = setTimeout(() => {
      entry.settleTimer = undefined;
      const settled = { ...entry.stored, update: entry.settledBefore };
      entry.settledBefore = true;
      for (const listener of this.#listeners) listener(settled);
    }, this.settleMs);
  }

  #evictOverflow(): void {
    for (const [traceId, entry] of this.#traces) {
      if (this.#traces.size <= this.maxTraces) return;
      clearTimeout(entry.settleTimer);
      this.#traces.delete(traceId);
      this.#evictedTraceCount++;
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
