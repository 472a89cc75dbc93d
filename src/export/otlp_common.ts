import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";

/** Spans of one instrumentation scope (one tracer), as one OTLP `ScopeSpans`. */
export interface ScopeGroup {
  readonly scope: InstrumentationScope;
  readonly spans: ReadableSpan[];
}

/** Spans of one resource (one provider), as one OTLP `ResourceSpans`. */
export interface ResourceGroup {
  readonly resource: Resource;
  readonly scopes: Map<string, ScopeGroup>;
}

/**
 * Groups a batch as OTLP nests it: by resource, then by scope, in order of first appearance.
 * Scopes are told apart by name, version and schema URL, as the OTLP transformer does.
 */
export function groupSpans(spans: readonly ReadableSpan[]): ResourceGroup[] {
  const groups: ResourceGroup[] = [];
  let last: ResourceGroup | undefined;
  // A tracer gives all its spans one scope object: only a new one needs its key built.
  let lastScope: InstrumentationScope | undefined;
  let lastGroup: ScopeGroup | undefined;
  for (const span of spans) {
    const scope = span.instrumentationScope;
    if (last?.resource !== span.resource) {
      last = groups.find((group) => group.resource === span.resource);
      if (!last) {
        last = { resource: span.resource, scopes: new Map() };
        groups.push(last);
      }
      lastScope = undefined;
    }
    if (scope === lastScope) {
      lastGroup!.spans.push(span);
      continue;
    }
    const key = `${scope.name}@${scope.version ?? ""}:${scope.schemaUrl ?? ""}`;
    lastGroup = last.scopes.get(key);
    if (lastGroup) lastGroup.spans.push(span);
    else last.scopes.set(key, lastGroup = { scope, spans: [span] });
    lastScope = scope;
  }
  return groups;
}

/** Span flags: the W3C trace flags in the low byte, then OTLP's "has is_remote" and "is_remote". */
export function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

/** Integers in the int64 range go as OTLP `int_value`; every other number as `double_value`. */
export function isInt64(value: number): boolean {
  return Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63;
}
