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
const FOUR_FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const PARENT_ID = /^[0-9a-f]{16}$/;
const ALL_ZEROS = /^0+$/;
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
  const fields = FOUR_FIELDS.exec(header.slice(0, VERSION_00_LENGTH));
  if (fields === null) return undefined;
  const [, version, traceId, parentId, flags] = fields;
  if (version === FORBIDDEN_VERSION) return undefined;
  // A higher version may append fields; version 00 may not.
  const rest = header.slice(VERSION_00_LENGTH);
  if (rest !== "" && (version === "00" || !rest.startsWith("-"))) return undefined;
  if (ALL_ZEROS.test(traceId) || ALL_ZEROS.test(parentId)) return undefined;
  return { traceId, parentId, flags: parseInt(flags, 16) & KNOWN_FLAG_BITS };
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
  const { traceId, parentId, flags } = traceparent;
  if (!TRACE_ID.test(traceId) || ALL_ZEROS.test(traceId)) {
    throw new RangeError(`invalid trace id: ${JSON.stringify(traceId)}`);
  }
  if (!PARENT_ID.test(parentId) || ALL_ZEROS.test(parentId)) {
    throw new RangeError(`invalid parent id: ${JSON.stringify(parentId)}`);
  }
  return `00-${traceId}-${parentId}-${traceFlagsHex(flags & KNOWN_FLAG_BITS)}`;
}

/** W3C trace-flags as two hex digits (`01` sampled), as traceparent and the log data model write them. */
export function traceFlagsHex(flags: number): string {
  return (flags & 0xff).toString(16).padStart(2, "0");
}
