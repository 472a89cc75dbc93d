/**
 * Reading settings from an environment: `Deno.env`, a Workers `env` binding object, or an
 * options-like record. Every bad value becomes a {@link ConfigError} naming the variable and the
 * form it expects, and the reader falls back to the safe default so requests keep flowing.
 */

import { percentDecode } from "../propagation/baggage.ts";

/** Where settings come from. Workers bindings may hold non-string values, hence `unknown`. */
export type EnvSource = Readonly<Record<string, unknown>>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(
      `${variable}: expected ${expected}, got ${JSON.stringify(clip(withoutUserinfo(received)))}`,
    );
    this.name = "ConfigError";
  }
}

/** `scheme://user:password@` in any URL of `text` becomes `scheme://REDACTED@`: never logged. */
function withoutUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, "$1REDACTED@");
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

/** Collects {@link ConfigError}s instead of throwing, so one bad variable does not hide the next. */
export class EnvReader {
  readonly errors: ConfigError[] = [];

  constructor(private readonly env: EnvSource) {}

  /** The trimmed value, or undefined when unset or blank. */
  string(name: string): string | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw === null) return undefined;
    const value = String(raw).trim();
    return value === "" ? undefined : value;
  }

  fail(name: string, expected: string, received: string): void {
    this.errors.push(new ConfigError(name, expected, received));
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    const { min = -Infinity, max = Infinity } = range;
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      this.fail(name, describeRange("a number", min, max), value);
      return fallback;
    }
    return parsed;
  }

  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const { min = -Infinity, max = Infinity } = range;
    const parsed = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      this.fail(name, describeRange("a whole number", min, max), value);
      return fallback;
    }
    return parsed;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === "true" || value === "1" || value === "on" || value === "yes") return true;
    if (value === "false" || value === "0" || value === "off" || value === "no") return false;
    this.fail(name, "true or false", value);
    return fallback;
  }

  /** A comma-separated list; blank items are dropped. */
  list(name: string): string[] {
    return splitList(this.string(name));
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.fail(name, `one of ${allowed.join(", ")}`, value);
    return fallback;
  }

  /** An absolute http(s) URL. */
  url(name: string): URL | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const url = parseHttpUrl(value);
    if (!url) this.fail(name, "an absolute http:// or https:// URL", value);
    return url;
  }

  /**
   * `key=value` pairs separated by commas, values percent-decoded: the W3C Baggage octet form the
   * specification gives `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`. A `secret`
   * value is never quoted in an error.
   */
  keyValues(name: string, { secret = false }: { secret?: boolean } = {}): Record<string, string> {
    const value = this.string(name);
    const pairs: Record<string, string> = {};
    if (value === undefined) return pairs;
    for (const item of splitList(value)) {
      const eq = item.indexOf("=");
      const key = eq > 0 ? item.slice(0, eq).trim() : "";
      const decoded = eq > 0 ? percentDecode(item.slice(eq + 1).trim()) : undefined;
      if (key === "" || decoded === undefined) {
        // Header values are credentials (`authorization=Bearer …`): a bad one is not quoted.
        const received = secret ? "(value hidden: it may hold credentials)" : value;
        this.fail(name, "comma-separated key=value pairs (values percent-encoded)", received);
        return {};
      }
      pairs[key] = decoded;
    }
    return pairs;
  }
}

export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

export function parseHttpUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

function describeRange(kind: string, min: number, max: number): string {
  if (min > -Infinity && max < Infinity) return `${kind} from ${min} to ${max}`;
  if (min > -Infinity) return `${kind} of at least ${min}`;
  if (max < Infinity) return `${kind} of at most ${max}`;
  return kind;
}
