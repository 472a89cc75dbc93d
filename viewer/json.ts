/**
 * What the viewer's API sends: bigints (nanosecond times, large integers) as decimal strings, since
 * JSON numbers lose precision past 2^53, and byte values as hex.
 */
import { type DecodedSpan, serviceOf } from "./otlp/spans.ts";
import { hexOfBytes } from "./otlp/fields.ts";
import type { StoredTrace, TraceSummary } from "./store.ts";
import { spanRows } from "./tree.ts";

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return hexOfBytes(value);
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

/** A span as a waterfall row: its fields plus its service and depth in the tree. */
export interface SpanRowJson extends DecodedSpan {
  readonly service: string;
  readonly depth: number;
}

/** The trace with its spans in waterfall order (depth-first, siblings by start time). */
export function traceDetail(trace: StoredTrace): { summary: TraceSummary; spans: SpanRowJson[] } {
  return {
    summary: trace.summary,
    spans: spanRows(trace.spans).map(({ span, depth }) => ({
      ...span,
      service: serviceOf(span),
      depth,
    })),
  };
}
