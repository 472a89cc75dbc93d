/**
 * When to send an export again, as the OTLP/HTTP specification asks: only for 429, 502, 503 and
 * 504 (and when the collector could not be reached), after the server's Retry-After when it
 * gives one, else after an exponential backoff with jitter. The constants are those of the
 * OpenTelemetry JS exporter, so a collector sees the same pace from tracegate as from the SDK.
 */

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** ± this share of the delay, at random, so many exporters do not retry in step. */
  readonly jitter: number;
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
}

export const DEFAULT_BACKOFF: Backoff = {
  initialMs: 1_000,
  maxMs: 5_000,
  multiplier: 1.5,
  jitter: 0.2,
  maxAttempts: 5,
};

/** The wait before attempt `attempt + 1`, `attempt` counting from 1. */
export function backoffDelayMs(backoff: Backoff, attempt: number, random: () => number): number {
  const base = Math.min(backoff.initialMs * backoff.multiplier ** (attempt - 1), backoff.maxMs);
  return Math.max(0, base * (1 + backoff.jitter * (2 * random() - 1)));
}

/**
 * A Retry-After value in milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110
 * §10.2.3); undefined when absent or malformed (the backoff applies then). A date in the past
 * means at once.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse also takes bare numbers ("-5" is a year): an HTTP-date names its day and month.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
