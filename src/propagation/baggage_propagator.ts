import {
  type Context,
  propagation,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from "@opentelemetry/api";
import { isTracingSuppressed } from "@opentelemetry/core";
import { parseBaggage, serializeBaggage } from "./baggage.ts";

export const BAGGAGE_HEADER = "baggage";

/** W3C Baggage propagator over the strict codec in `baggage.ts`. */
export class BaggagePropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (isTracingSuppressed(context)) return;
    const baggage = propagation.getBaggage(context);
    const header = baggage === undefined ? undefined : serializeBaggage(baggage);
    if (header !== undefined) setter.set(carrier, BAGGAGE_HEADER, header);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const baggage = parseBaggage(getter.get(carrier, BAGGAGE_HEADER));
    return baggage === undefined ? context : propagation.setBaggage(context, baggage);
  }

  fields(): string[] {
    return [BAGGAGE_HEADER];
  }
}
