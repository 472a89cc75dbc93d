import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { isTracingSuppressed } from "@opentelemetry/core";
import { isTraceRandom, withTraceRandomness } from "./randomness.ts";
import { parseTraceparent, TraceFlagBits, writeTraceparent } from "./traceparent.ts";
import { W3CTraceState } from "./tracestate.ts";
import { isValidSpanContext, knownValid } from "./valid_span_context.ts";

export const TRACEPARENT_HEADER = "traceparent";
export const TRACESTATE_HEADER = "tracestate";

/**
 * W3C Trace Context propagator. Written instead of the stock one because that one trims an
 * invalid tracestate rather than discarding it, and drops the level 2 random flag.
 */
export class TraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const traceparent = traceparentOf(context);
    if (traceparent === undefined) return;
    setter.set(carrier, TRACEPARENT_HEADER, traceparent);
    const state = trace.getSpanContext(context)?.traceState;
    // Ours is valid by construction; a foreign TraceState implementation's list is re-parsed, so
    // that it cannot put an invalid list on the wire.
    const tracestate = state instanceof W3CTraceState
      ? state.serialize()
      : W3CTraceState.parse(state?.serialize())?.serialize();
    if (tracestate) setter.set(carrier, TRACESTATE_HEADER, tracestate);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const parent = parseTraceparent(getter.get(carrier, TRACEPARENT_HEADER));
    if (parent === undefined) return context;
    const withParent = trace.setSpanContext(
      context,
      knownValid({
        traceId: parent.traceId,
        spanId: parent.parentId,
        traceFlags: parent.flags & TraceFlagBits.SAMPLED,
        isRemote: true,
        traceState: W3CTraceState.parse(getter.get(carrier, TRACESTATE_HEADER)),
      }),
    );
    const random = (parent.flags & TraceFlagBits.RANDOM) !== 0;
    return withTraceRandomness(withParent, parent.traceId, random);
  }

  fields(): string[] {
    return [TRACEPARENT_HEADER, TRACESTATE_HEADER];
  }
}

/**
 * The traceparent `TraceContextPropagator.inject` writes for `context`, or undefined when it writes
 * none (no valid span context, or tracing suppressed).
 */
export function traceparentOf(context: Context): string | undefined {
  const spanContext = trace.getSpanContext(context);
  if (spanContext === undefined || !isValidSpanContext(spanContext)) return undefined;
  if (isTracingSuppressed(context)) return undefined;
  const random = isTraceRandom(context, spanContext.traceId) ? TraceFlagBits.RANDOM : 0;
  // Valid span context: hex ids of the right length, not all zeros; only their case is left.
  return writeTraceparent({
    traceId: lowerCase(spanContext.traceId),
    parentId: lowerCase(spanContext.spanId),
    flags: (spanContext.traceFlags & TraceFlagBits.SAMPLED) | random,
  });
}

const UPPER_CASE_HEX = /[A-F]/;

/**
 * The API accepts upper-case hex ids; the header allows only lower case. Tested first because
 * `toLowerCase` copies even an id already in lower case, as nearly all are (15 against 40 ns).
 */
function lowerCase(id: string): string {
  return UPPER_CASE_HEX.test(id) ? id.toLowerCase() : id;
}
