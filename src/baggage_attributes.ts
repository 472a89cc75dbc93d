import { type Context, propagation } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";

/**
 * Copies the configured baggage entries onto every span as it starts, from the baggage of the
 * context it starts in, so spans nested anywhere under a request carry them without user code.
 */
export class BaggageAttributesProcessor implements SpanProcessor {
  constructor(private readonly keys: readonly string[]) {}

  onStart(span: Span, parentContext: Context): void {
    const baggage = propagation.getBaggage(parentContext);
    if (baggage === undefined) return;
    for (const key of this.keys) {
      const entry = baggage.getEntry(key);
      if (entry !== undefined) span.setAttribute(key, entry.value);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
