/**
 * A finished trace as an indented tree for the terminal: one line per span with its service, name,
 * duration, status and the attributes that matter when following a request.
 */
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
} from "@opentelemetry/semantic-conventions";
import { ATTR_SAMPLING_REASON } from "../src/sampling/reason.ts";
import { ATTR_REQUEST_ID, ATTR_REQUEST_ID_BEFORE_0_2 } from "../src/tracing/request_id.ts";
import { type AttrValue, type DecodedSpan, serviceOf } from "./otlp/spans.ts";
import { attrText, type StoredTrace } from "./store.ts";
import { spanForest, type SpanNode } from "./tree.ts";
import { formatDuration, paletteSlot, pathBesideName } from "./ui/format.js";

/** Shown after the status, in this order, when a span has them. */
const KEY_ATTRIBUTES: readonly (string | readonly string[])[] = [
  ATTR_HTTP_REQUEST_METHOD,
  // The route template when known, else the path; a client span only has the full URL.
  [ATTR_HTTP_ROUTE, ATTR_URL_PATH, ATTR_URL_FULL],
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  [ATTR_REQUEST_ID, ATTR_REQUEST_ID_BEFORE_0_2],
  ATTR_ERROR_TYPE,
  ATTR_SAMPLING_REASON,
];

export interface RenderOptions {
  /** ANSI colours: services in stable colours, errors in red. */
  readonly color?: boolean;
  /** The trace settled before and late spans arrived since. */
  readonly update?: boolean;
  /** Attributes shown too, after the key ones: the baggage keys set as attributes. */
  readonly alsoShow?: readonly string[];
}

interface Style {
  service(name: string): string;
  error(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const SERVICE_COLORS = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94];
const sgr = (code: number | string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const PLAIN: Style = {
  service: (name) => name,
  error: (text) => text,
  dim: (text) => text,
  bold: (text) => text,
};
const ANSI: Style = {
  service: (name) => sgr(SERVICE_COLORS[paletteSlot(name, SERVICE_COLORS.length)])(name),
  error: sgr("1;31"),
  dim: sgr(2),
  bold: sgr(1),
};

/** The trace as lines of text, ending with a newline. */
export function renderTrace(trace: StoredTrace, options: RenderOptions = {}): string {
  const style = options.color ? ANSI : PLAIN;
  const { summary } = trace;
  const facts = [
    `${summary.spanCount} span${summary.spanCount === 1 ? "" : "s"}`,
    formatDuration(summary.durationNano),
  ];
  if (summary.errorCount > 0) {
    facts.push(style.error(`${summary.errorCount} error${summary.errorCount === 1 ? "" : "s"}`));
  }
  if (summary.droppedSpanCount > 0) facts.push(`${summary.droppedSpanCount} dropped`);
  if (options.update) facts.push("updated with late spans");
  const lines = [
    [
      style.bold(`trace ${summary.traceId}`),
      summary.rootName,
      pathBesideName(summary.rootName, summary.rootPath),
      style.dim(facts.join(" · ")),
    ]
      .filter((part) => part !== "").join("  "),
  ];
  const visit = (node: SpanNode, lead: string, branch: string) => {
    const tree = lead + branch;
    lines.push((tree && style.dim(tree)) + spanLine(node.span, style, options.alsoShow ?? []));
    const childLead = lead + (branch === "├─ " ? "│  " : branch === "" ? "" : "   ");
    node.children.forEach((child, index) => {
      visit(child, childLead, index === node.children.length - 1 ? "└─ " : "├─ ");
    });
  };
  for (const root of spanForest(trace.spans)) visit(root, "", "");
  return lines.join("\n") + "\n";
}

function spanLine(span: DecodedSpan, style: Style, alsoShow: readonly string[]): string {
  const parts = [
    style.service(serviceOf(span)),
    span.name,
    style.dim(formatDuration(span.endTimeUnixNano - span.startTimeUnixNano)),
    statusText(span, style),
  ];
  const attributes = keyAttributes(span, alsoShow);
  if (attributes.length > 0) parts.push(style.dim(attributes.join(" ")));
  return parts.join("  ");
}

function statusText({ status }: DecodedSpan, style: Style): string {
  if (status.code === "UNSET") return style.dim(status.code);
  if (status.code === "OK") return status.code;
  return style.error(status.message ? `ERROR: ${status.message}` : "ERROR");
}

function keyAttributes(span: DecodedSpan, alsoShow: readonly string[]): string[] {
  const shown: string[] = [];
  for (const choice of [...KEY_ATTRIBUTES, ...alsoShow]) {
    const key = (typeof choice === "string" ? [choice] : choice)
      .find((name) => present(span.attributes[name]));
    if (key !== undefined) shown.push(`${key}=${attrText(span.attributes[key])}`);
  }
  return shown;
}

function present(value: AttrValue | undefined): boolean {
  return value !== undefined && value !== null && value !== "";
}
