/** The parent/child shape of a trace's spans, shared by the terminal and the web UI's API. */
import type { DecodedSpan } from "./otlp/spans.ts";

export interface SpanNode {
  readonly span: DecodedSpan;
  readonly children: readonly SpanNode[];
}

/** A span in depth-first order with how deep it sits (0 for a root). */
export interface SpanRow {
  readonly span: DecodedSpan;
  readonly depth: number;
}

/** For sort(): ascending nanosecond times. */
export const compareNanos = (a: bigint, b: bigint): number => a < b ? -1 : a > b ? 1 : 0;

/** For sort(): spans by start time. */
export const byStart = (a: DecodedSpan, b: DecodedSpan): number =>
  compareNanos(a.startTimeUnixNano, b.startTimeUnixNano);

/**
 * The spans as trees, siblings ordered by start time. Spans whose parent is not among them (a
 * remote parent, or one not received yet) are roots, and so is anything caught in a parent cycle,
 * so every span appears exactly once.
 */
export function spanForest(spans: readonly DecodedSpan[]): SpanNode[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const childrenOf = new Map<string, DecodedSpan[]>();
  for (const span of spans) {
    const siblings = childrenOf.get(span.parentSpanId);
    if (siblings) siblings.push(span);
    else childrenOf.set(span.parentSpanId, [span]);
  }
  const placed = new Set<string>();
  const build = (span: DecodedSpan): SpanNode => {
    placed.add(span.spanId);
    const children = (childrenOf.get(span.spanId) ?? [])
      .filter((child) => !placed.has(child.spanId))
      .sort(byStart);
    return { span, children: children.map(build) };
  };
  const roots = spans.filter((span) => !ids.has(span.parentSpanId)).sort(byStart).map(build);
  for (const span of [...spans].sort(byStart)) {
    if (!placed.has(span.spanId)) roots.push(build(span));
  }
  return roots;
}

/** The forest flattened depth-first: the order of a waterfall's rows. */
export function spanRows(spans: readonly DecodedSpan[]): SpanRow[] {
  const rows: SpanRow[] = [];
  const visit = (node: SpanNode, depth: number) => {
    rows.push({ span: node.span, depth });
    for (const child of node.children) visit(child, depth + 1);
  };
  for (const root of spanForest(spans)) visit(root, 0);
  return rows;
}
