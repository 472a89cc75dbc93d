import { trimOws } from "./headers.ts";

/** The trace-flags bits this implementation knows (W3C Trace Context level 2). */
export const TraceFlagBits = {
  SAMPLED: 0x01,
  RANDOM: 0x02,
} as const;

const KNOWN_FLAG_BITS = TraceFlagBits.SAMPLED | TraceFlagBits.RANDOM;

/** The fields of a traceparent that survive parsing; `flags` holds only the known bits. */
export interface ParsedTraceparent {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: number;
}

/** `version-trace-id-parent-id-flags` with version 00: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
const VERSION_00_LENGTH = 55;
const TRACE_ID = /^[0-9a-f]{32}$/;
const PARENT_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);
const DASH = 0x2d;

/**
 * The value of each lower-case hex digit by its char code; any other code maps to a value so
 * negative that a two-digit sum holding it stays negative.
 */
const NOT_HEX = -0x1000;
const HEX_DIGIT = new Int16Array(128).fill(NOT_HEX);
for (let digit = 0; digit < 16; digit++) HEX_DIGIT[digit.toString(16).charCodeAt(0)] = digit;

/**
 * Parses a traceparent header value strictly (W3C Trace Context level 1, plus the level 2 random
 * flag). Returns undefined for anything invalid, including two values (several header lines, or
 * one line joined with a comma): the caller then starts a new trace.
 */
export function parseTraceparent(
  value: string | string[] | undefined,
): ParsedTraceparent | undefined {
  // The usual header, exactly version 00's length, is decided by the scan alone: a comma or a
  // blank fails it, and a value of that length with blanks to trim is too short once trimmed.
  if (typeof value === "string" && value.length === VERSION_00_LENGTH) return fourFields(value);
  const single = singleValue(value);
  if (single === undefined) return undefined;
  const header = trimOws(single);
  if (header.length < VERSION_00_LENGTH) return undefined;
  const parsed = fourFields(header);
  if (parsed === undefined || header.length === VERSION_00_LENGTH) return parsed;
  // A higher version may append fields; version 00 may not.
  return header.startsWith("00") || header[VERSION_00_LENGTH] !== "-" ? undefined : parsed;
}

/**
 * The four fields at the start of `header` (at least 55 characters): lower-case hex at fixed
 * offsets, dashes between, version not `ff`, ids not all zeros. One pass over the characters,
 * where a regular expression, then slicing and comparing each field, went over them four times.
 */
function fourFields(header: string): ParsedTraceparent | undefined {
  if (
    header.charCodeAt(2) !== DASH || header.charCodeAt(35) !== DASH ||
    header.charCodeAt(52) !== DASH
  ) return undefined;
  const version = hexDigit(header, 0) * 16 + hexDigit(header, 1);
  const flags = hexDigit(header, 53) * 16 + hexDigit(header, 54);
  if (!(version >= 0 && version < 0xff && flags >= 0)) return undefined;
  if (!isNonZeroHex(header, 3, 35) || !isNonZeroHex(header, 36, 52)) return undefined;
  return {
    traceId: header.slice(3, 35),
    parentId: header.slice(36, 52),
    flags: flags & KNOWN_FLAG_BITS,
  };
}

function hexDigit(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? HEX_DIGIT[code] : NOT_HEX;
}

/** `text[from, to)` is lower-case hex, not all zeros. */
function isNonZeroHex(text: string, from: number, to: number): boolean {
  let any = 0;
  for (let index = from; index < to; index++) {
    const digit = hexDigit(text, index);
    if (digit < 0) return false;
    any |= digit;
  }
  return any !== 0;
}

function singleValue(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? singleValue(value[0]) : undefined;
  // A traceparent never holds a comma: one means two values folded into one line.
  return value === undefined || value.includes(",") ? undefined : value;
}

/**
 * Writes a version 00 traceparent with only the known flag bits set.
 * Throws a RangeError for ids that are not lower-case hex of the right length, or all zeros.
 */
export function formatTraceparent(traceparent: ParsedTraceparent): string {
  const { traceId, parentId } = traceparent;
  if (!TRACE_ID.test(traceId) || traceId === ZERO_TRACE_ID) {
    throw new RangeError(`invalid trace id: ${JSON.stringify(traceId)}`);
  }
  if (!PARENT_ID.test(parentId) || parentId === ZERO_PARENT_ID) {
    throw new RangeError(`invalid parent id: ${JSON.stringify(parentId)}`);
  }
  return writeTraceparent(traceparent);
}

/** `formatTraceparent` without its checks, for ids already known valid and lower case. */
export function writeTraceparent({ traceId, parentId, flags }: ParsedTraceparent): string {
  return `00-${traceId}-${parentId}-${traceFlagsHex(flags & KNOWN_FLAG_BITS)}`;
}

/** Each byte as two lower-case hex digits. */
const BYTE_HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/** W3C trace-flags as two hex digits (`01` sampled), as traceparent and the log data model write them. */
export function traceFlagsHex(flags: number): string {
  return BYTE_HEX[flags & 0xff];
}
