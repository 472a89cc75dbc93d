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
/** Tested without capture groups: the fields sit at fixed offsets, sliced out after the test. */
const FOUR_FIELDS = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const PARENT_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);
const FORBIDDEN_VERSION = "ff";

/**
 * Parses a traceparent header value strictly (W3C Trace Context level 1, plus the level 2 random
 * flag). Returns undefined for anything invalid, including two values (several header lines, or
 * one line joined with a comma): the caller then starts a new trace.
 */
export function parseTraceparent(
  value: string | string[] | undefined,
): ParsedTraceparent | undefined {
  const single = singleValue(value);
  if (single === undefined) return undefined;
  const header = trimOws(single);
  const version00 = header.length === VERSION_00_LENGTH
    ? header
    : header.slice(0, VERSION_00_LENGTH);
  if (!FOUR_FIELDS.test(version00)) return undefined;
  const version = header.slice(0, 2);
  if (version === FORBIDDEN_VERSION) return undefined;
  // A higher version may append fields; version 00 may not.
  if (
    header.length > VERSION_00_LENGTH &&
    (version === "00" || header[VERSION_00_LENGTH] !== "-")
  ) return undefined;
  const traceId = header.slice(3, 35);
  const parentId = header.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined;
  return { traceId, parentId, flags: parseInt(header.slice(53, 55), 16) & KNOWN_FLAG_BITS };
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

/** W3C trace-flags as two hex digits (`01` sampled), as traceparent and the log data model write them. */
export function traceFlagsHex(flags: number): string {
  return (flags & 0xff).toString(16).padStart(2, "0");
}
