import type { TraceState } from "@opentelemetry/api";
import { trimOws } from "./headers.ts";

const MAX_MEMBERS = 32;
/** Trace Context level 2 key grammar; it includes the level 1 `tenant@system` form. */
const KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
/** Up to 256 printable ASCII chars except `,` and `=`, not ending in a space. */
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
/** The spec asks to drop members longer than this first when a list must be truncated. */
const LONG_MEMBER_LENGTH = 128;

type Member = readonly [key: string, value: string];

/**
 * An immutable W3C tracestate. Unlike the stock OpenTelemetry `TraceState`, parsing discards the
 * whole header when any member of it is invalid, as the W3C test suite requires; a repeated key
 * is not invalid: the later duplicates are dropped.
 */
export class W3CTraceState implements TraceState {
  static readonly EMPTY: W3CTraceState = new W3CTraceState([]);

  private constructor(private readonly members: readonly Member[]) {}

  /**
   * Parses tracestate header lines (several lines are one list, joined with ","). Returns
   * undefined when the header is absent or holds no member, and when it is invalid: more than 32
   * distinct members, or an illegal key or value. Of a repeated key the first member is kept.
   */
  static parse(header: string | string[] | undefined): W3CTraceState | undefined {
    if (header === undefined) return undefined;
    const list = typeof header === "string" ? header : header.join(",");
    const members: Member[] = [];
    const keys = new Set<string>();
    for (const rawMember of list.split(",")) {
      const member = trimOws(rawMember);
      if (member === "") continue;
      const equals = member.indexOf("=");
      const key = member.slice(0, equals);
      const value = member.slice(equals + 1);
      if (equals < 0 || !isValidMember(key, value)) return undefined;
      // The W3C test suite accepts a repeated key kept as is or with one of them dropped: the
      // first (left-most, most recent) wins, as `get` would find it first anyway.
      if (keys.has(key)) continue;
      if (members.length === MAX_MEMBERS) return undefined;
      keys.add(key);
      members.push([key, value]);
    }
    return members.length === 0 ? undefined : new W3CTraceState(members);
  }

  get(key: string): string | undefined {
    return this.members.find(([memberKey]) => memberKey === key)?.[1];
  }

  /**
   * Returns a copy with `key` set and moved to the front. An illegal key or value leaves the
   * state unchanged, so a serialized tracestate is always valid; a 33rd member pushes out one
   * existing member, chosen as the spec's truncation rule says.
   */
  set(key: string, value: string): W3CTraceState {
    if (!isValidMember(key, value)) return this;
    const members = [[key, value] as const, ...this.withoutKey(key)];
    if (members.length > MAX_MEMBERS) {
      const lastLong = members.findLastIndex(([k, v], index) =>
        index > 0 && k.length + 1 + v.length > LONG_MEMBER_LENGTH
      );
      members.splice(lastLong > 0 ? lastLong : members.length - 1, 1);
    }
    return new W3CTraceState(members);
  }

  unset(key: string): W3CTraceState {
    return new W3CTraceState(this.withoutKey(key));
  }

  serialize(): string {
    return this.members.map(([key, value]) => `${key}=${value}`).join(",");
  }

  private withoutKey(key: string): Member[] {
    return this.members.filter(([memberKey]) => memberKey !== key);
  }
}

function isValidMember(key: string, value: string): boolean {
  return KEY.test(key) && VALUE.test(value);
}
