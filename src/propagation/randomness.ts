import { type Context, createContextKey } from "@opentelemetry/api";

/**
 * Context key under which the level 2 random flag of the current trace travels. The SDK tracer
 * keeps only the sampled bit on child span contexts, so the flag cannot live in `traceFlags`.
 */
export const TRACE_RANDOMNESS_KEY: symbol = createContextKey("tracegate.trace_randomness");

interface TraceRandomness {
  readonly traceId: string;
  readonly random: boolean;
}

/** Records whether the ids of trace `traceId` are random (the caller's random flag). */
export function withTraceRandomness(ctx: Context, traceId: string, random: boolean): Context {
  const randomness: TraceRandomness = { traceId, random };
  return ctx.setValue(TRACE_RANDOMNESS_KEY, randomness);
}

/**
 * Whether the random flag may be set for trace `traceId`: as recorded in `ctx` for that trace,
 * and true when nothing is recorded for it, since a trace started here gets random ids.
 */
export function isTraceRandom(ctx: Context, traceId: string): boolean {
  const recorded = ctx.getValue(TRACE_RANDOMNESS_KEY);
  return !isTraceRandomness(recorded) || recorded.traceId !== traceId || recorded.random;
}

function isTraceRandomness(value: unknown): value is TraceRandomness {
  return typeof value === "object" && value !== null && "traceId" in value && "random" in value;
}
