import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { CompositePropagator } from "@opentelemetry/core";
import { B3InjectEncoding, B3Propagator } from "@opentelemetry/propagator-b3";
import { BaggagePropagator } from "./baggage_propagator.ts";
import { withTraceRandomness } from "./randomness.ts";
import { TraceContextPropagator } from "./trace_context.ts";

export {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  parseBaggage,
  serializeBaggage,
} from "./baggage.ts";
export { BAGGAGE_HEADER, BaggagePropagator } from "./baggage_propagator.ts";
export { headersGetter, headersSetter } from "./headers.ts";
export { isTraceRandom, TRACE_RANDOMNESS_KEY, withTraceRandomness } from "./randomness.ts";
export {
  TraceContextPropagator,
  TRACEPARENT_HEADER,
  traceparentOf,
  TRACESTATE_HEADER,
} from "./trace_context.ts";
export {
  formatTraceparent,
  type ParsedTraceparent,
  parseTraceparent,
  TraceFlagBits,
} from "./traceparent.ts";
export { W3CTraceState } from "./tracestate.ts";

export const PROPAGATOR_NAMES = ["tracecontext", "baggage", "b3", "b3multi", "none"] as const;
export type PropagatorName = typeof PROPAGATOR_NAMES[number];

/**
 * One propagator running the named ones in the given order (on extract, a later one's span
 * context wins). "none" contributes nothing, so ["none"] gives a propagator that does nothing.
 */
export function createPropagator(names: readonly PropagatorName[]): TextMapPropagator {
  const propagators = Array.from(new Set(names)).flatMap(propagatorNamed);
  return new CompositePropagator({ propagators });
}

function propagatorNamed(name: PropagatorName): TextMapPropagator[] {
  switch (name) {
    case "tracecontext":
      return [new TraceContextPropagator()];
    case "baggage":
      return [new BaggagePropagator()];
    case "b3":
      return [new StrictB3(new B3Propagator())];
    case "b3multi":
      return [new StrictB3(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }))];
    case "none":
      return [];
  }
}

/**
 * The B3 headers as the B3 specification writes them: ids of fixed length in hex (trace id 16 or
 * 32 digits, span id 16), read case-insensitively and lower-cased, so what goes onward is always
 * lower-case. The stock propagator pads an id of any length (`X-B3-TraceId` of 15 digits), finds
 * an id inside a longer one in `b3`, and keeps upper-case digits.
 */
const B3_HEADER_RULES: Readonly<Record<string, RegExp>> = {
  b3: /^(?:(?:[0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(?:-[01d](?:-[0-9a-f]{16})?)?|[01d])$/,
  "x-b3-traceid": /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/,
  "x-b3-spanid": /^[0-9a-f]{16}$/,
  "x-b3-parentspanid": /^[0-9a-f]{16}$/,
};

/** A getter that hands the B3 propagator only well-formed, lower-cased B3 ids. */
function strictB3Getter(getter: TextMapGetter): TextMapGetter {
  return {
    keys: (carrier) => getter.keys(carrier),
    get(carrier, key) {
      const value = getter.get(carrier, key);
      const rule = B3_HEADER_RULES[key.toLowerCase()];
      if (rule === undefined || value === undefined) return value;
      const first = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase();
      return first !== undefined && rule.test(first) ? first : undefined;
    },
  };
}

/**
 * B3 read strictly (see {@link B3_HEADER_RULES}). B3 carries no random flag either, so a trace it
 * brings in is recorded as not random; otherwise the traceparent written next would claim
 * randomness for ids this process did not make. A trace id that equals the one already extracted
 * (from traceparent) keeps what was recorded for it.
 */
class StrictB3 implements TextMapPropagator {
  constructor(private readonly b3: B3Propagator) {}

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.b3.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const extracted = this.b3.extract(context, carrier, strictB3Getter(getter));
    const traceId = trace.getSpanContext(extracted)?.traceId;
    if (traceId === undefined || traceId === trace.getSpanContext(context)?.traceId) {
      return extracted;
    }
    return withTraceRandomness(extracted, traceId, false);
  }

  fields(): string[] {
    return this.b3.fields();
  }
}
