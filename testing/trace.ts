/** One trace as a test sees it: its spans, their tree, and an outline to compare as text. */
import { type DecodedSpan, serviceOf } from "../viewer/otlp/spans.ts";
import { spanForest, type SpanNode, spanRows } from "../viewer/tree.ts";

export interface ReceivedTrace {
  readonly traceId: string;
  /** In arrival order. */
  readonly spans: readonly DecodedSpan[];
  /**
   * The spans as trees, children by start time. A span whose parent is not among them (the
   * caller's span, or one not exported yet) is a root, so a continued trace has one root here.
   */
  readonly roots: readonly SpanNode[];
  /**
   * One line per span, depth-first, indented two spaces per level: `KIND service name`, e.g.
   * `"SERVER proxy GET\n  CLIENT proxy GET\n    SERVER shop GET /items/:id"`. Compare it with
   * any assertion library's string equality.
   */
  outline(): string;
}

export function receivedTrace(traceId: string, spans: readonly DecodedSpan[]): ReceivedTrace {
  return {
    traceId,
    spans,
    roots: spanForest(spans),
    outline: () =>
      spanRows(spans)
        .map(({ span, depth }) =>
          `${"  ".repeat(depth)}${span.kind} ${serviceOf(span)} ${span.name}`
        )
        .join("\n"),
  };
}
