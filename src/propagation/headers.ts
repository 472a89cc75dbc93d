import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/**
 * Reads propagation headers from a Fetch API `Headers`, or fields read from one; names are
 * case-insensitive there.
 */
export const headersGetter: TextMapGetter<Pick<Headers, "get" | "keys">> = {
  keys: (headers) => Array.from(headers.keys()),
  // `Headers.get` joins repeated header lines with ", ", so codecs see several lines as one list.
  get: (headers, name) => headers.get(name) ?? undefined,
};

/** Writes propagation headers into a Fetch API `Headers`, replacing any earlier value. */
export const headersSetter: TextMapSetter<Headers> = {
  set: (headers, name, value) => headers.set(name, value),
};

/**
 * Strips RFC 7230 optional whitespace (spaces and tabs only) from both ends.
 * Hand-written because `String.prototype.trim` also strips line breaks and Unicode spaces, which
 * must make a header value invalid rather than vanish, and an anchored regex such as `/[ \t]+$/`
 * is quadratic on long runs of blanks.
 */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(charCode: number): boolean {
  return charCode === 0x20 || charCode === 0x09;
}
