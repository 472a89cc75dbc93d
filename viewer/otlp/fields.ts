/** What the protobuf and JSON decoders share: enum names, id checks, attribute values, errors. */
import { OtlpDecodeError } from "./errors.ts";
import type {
  Attributes,
  AttrValue,
  DecodedSpan,
  InstrumentationScope,
  SpanKindName,
  StatusCodeName,
} from "./spans.ts";

export const SPAN_KINDS: readonly SpanKindName[] = [
  "UNSPECIFIED",
  "INTERNAL",
  "SERVER",
  "CLIENT",
  "PRODUCER",
  "CONSUMER",
];
export const STATUS_CODES: readonly StatusCodeName[] = ["UNSET", "OK", "ERROR"];
export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;
/** Bounds AnyValue recursion so a crafted body cannot overflow the stack. */
export const MAX_VALUE_NESTING = 32;

export const utf8 = new TextDecoder("utf-8", { fatal: true });

export function fail(path: string, problem: string): never {
  throw new OtlpDecodeError(`${path}: ${problem}`);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function enumName<T>(names: readonly T[], value: number, path: string): T {
  const name = names[value];
  if (name === undefined) fail(path, `unknown enum value ${value}`);
  return name;
}

/** int64 values become numbers where that is exact, so ordinary integers compare as numbers. */
export function intAttr(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Plain assignment would treat a "__proto__" key as the prototype setter. */
export function setEntry(record: Record<string, AttrValue>, key: string, value: AttrValue): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

export function hexOfBytes(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** An id of exactly `size` bytes; "" allowed only where `optional` (an absent parent). */
export function checkedId(hex: string, size: number, optional: boolean, path: string): string {
  checkIdSize(hex.length / 2, size, optional, path);
  return hex;
}

/** An id's length in bytes is `size`; 0 allowed only where `optional`. */
export function checkIdSize(bytes: number, size: number, optional: boolean, path: string): void {
  if (bytes === 0 && optional) return;
  if (bytes !== size) fail(path, bytes === 0 ? "missing" : `expected ${size} bytes, got ${bytes}`);
}

export function flattenSpans(
  resourceAttributes: Attributes,
  scope: InstrumentationScope,
  spans: readonly SpanFields[],
): DecodedSpan[] {
  return spans.map((fields) => ({ ...fields, resourceAttributes, scope }));
}

export type SpanFields = Omit<DecodedSpan, "resourceAttributes" | "scope">;
