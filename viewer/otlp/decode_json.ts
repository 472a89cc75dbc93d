/**
 * OTLP/JSON bodies: the proto3 JSON mapping with lowerCamelCase keys, except that trace and span ids are
 * hex. Per proto3 JSON, 64-bit integers may be strings or numbers, enums numbers or names, and
 * null stands for an absent field. Unknown keys are ignored, as the OTLP spec requires.
 */
import { OtlpDecodeError } from "./errors.ts";
import {
  checkedId,
  enumName,
  errorMessage,
  fail,
  flattenSpans,
  intAttr,
  MAX_VALUE_NESTING,
  setEntry,
  SPAN_ID_BYTES,
  SPAN_KINDS,
  type SpanFields,
  STATUS_CODES,
  TRACE_ID_BYTES,
  utf8,
} from "./fields.ts";
import type { Attributes, AttrValue, DecodedSpan } from "./spans.ts";

type JsonObject = { readonly [key: string]: unknown };

export function decodeJsonExport(body: Uint8Array): DecodedSpan[] {
  return jsonArray(jsonRequest(body).resourceSpans, "resourceSpans").flatMap((entry, i) =>
    jsonResourceSpans(entry, `resourceSpans[${i}]`)
  );
}

function jsonRequest(body: Uint8Array): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (error) {
    throw new OtlpDecodeError(`body is not valid JSON: ${errorMessage(error)}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    fail("ExportTraceServiceRequest", `expected a JSON object, got ${jsonKind(parsed)}`);
  }
  return parsed as JsonObject;
}

/**
 * How many spans a body holds, each checked to carry a trace id and a span id, without building
 * them (see `countTraceSpans`).
 */
export function countJsonSpans(body: Uint8Array): number {
  let count = 0;
  jsonArray(jsonRequest(body).resourceSpans, "resourceSpans").forEach((entry, i) => {
    const path = `resourceSpans[${i}]`;
    const resourceSpans = jsonObject(entry, path);
    jsonArray(resourceSpans.scopeSpans, `${path}.scopeSpans`).forEach((scopeEntry, j) => {
      const scopePath = `${path}.scopeSpans[${j}]`;
      const spans = jsonArray(jsonObject(scopeEntry, scopePath).spans, `${scopePath}.spans`);
      spans.forEach((value, k) => {
        const spanPath = `${scopePath}.spans[${k}]`;
        const span = jsonObject(value, spanPath);
        jsonId(span.traceId, TRACE_ID_BYTES, false, `${spanPath}.traceId`);
        jsonId(span.spanId, SPAN_ID_BYTES, false, `${spanPath}.spanId`);
      });
      count += spans.length;
    });
  });
  return count;
}

function jsonResourceSpans(value: unknown, path: string): DecodedSpan[] {
  const resourceSpans = jsonObject(value, path);
  const resource = jsonObject(resourceSpans.resource, `${path}.resource`);
  const resourceAttributes = jsonAttributes(resource.attributes, `${path}.resource.attributes`);
  return jsonArray(resourceSpans.scopeSpans, `${path}.scopeSpans`).flatMap((entry, i) => {
    const scopePath = `${path}.scopeSpans[${i}]`;
    const scopeSpans = jsonObject(entry, scopePath);
    const scope = jsonObject(scopeSpans.scope, `${scopePath}.scope`);
    const spans = jsonArray(scopeSpans.spans, `${scopePath}.spans`);
    return flattenSpans(
      resourceAttributes,
      {
        name: jsonString(scope.name, `${scopePath}.scope.name`),
        version: jsonString(scope.version, `${scopePath}.scope.version`),
      },
      spans.map((span, j) => jsonSpan(span, `${scopePath}.spans[${j}]`)),
    );
  });
}

function jsonSpan(value: unknown, path: string): SpanFields {
  const span = jsonObject(value, path);
  const status = jsonObject(span.status, `${path}.status`);
  return {
    traceId: jsonId(span.traceId, TRACE_ID_BYTES, false, `${path}.traceId`),
    spanId: jsonId(span.spanId, SPAN_ID_BYTES, false, `${path}.spanId`),
    parentSpanId: jsonId(span.parentSpanId, SPAN_ID_BYTES, true, `${path}.parentSpanId`),
    traceState: jsonString(span.traceState, `${path}.traceState`),
    flags: jsonUint32(span.flags, `${path}.flags`),
    name: jsonString(span.name, `${path}.name`),
    kind: jsonEnum(span.kind, SPAN_KINDS, "SPAN_KIND_", `${path}.kind`),
    startTimeUnixNano: jsonUint64(span.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: jsonUint64(span.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: jsonAttributes(span.attributes, `${path}.attributes`),
    events: jsonArray(span.events, `${path}.events`).map((entry, i) => {
      const eventPath = `${path}.events[${i}]`;
      const event = jsonObject(entry, eventPath);
      return {
        name: jsonString(event.name, `${eventPath}.name`),
        timeUnixNano: jsonUint64(event.timeUnixNano, `${eventPath}.timeUnixNano`),
        attributes: jsonAttributes(event.attributes, `${eventPath}.attributes`),
      };
    }),
    links: jsonArray(span.links, `${path}.links`).map((entry, i) => {
      const linkPath = `${path}.links[${i}]`;
      const link = jsonObject(entry, linkPath);
      return {
        traceId: jsonId(link.traceId, TRACE_ID_BYTES, false, `${linkPath}.traceId`),
        spanId: jsonId(link.spanId, SPAN_ID_BYTES, false, `${linkPath}.spanId`),
        traceState: jsonString(link.traceState, `${linkPath}.traceState`),
        attributes: jsonAttributes(link.attributes, `${linkPath}.attributes`),
      };
    }),
    status: {
      code: jsonEnum(status.code, STATUS_CODES, "STATUS_CODE_", `${path}.status.code`),
      message: jsonString(status.message, `${path}.status.message`),
    },
  };
}

function jsonAttributes(value: unknown, path: string, nesting = 0): Attributes {
  const attributes: Record<string, AttrValue> = {};
  jsonArray(value, path).forEach((entry, i) => {
    const keyValue = jsonObject(entry, `${path}[${i}]`);
    const key = jsonString(keyValue.key, `${path}[${i}].key`);
    setEntry(attributes, key, jsonAnyValue(keyValue.value, `${path}[${i}].value`, nesting));
  });
  return attributes;
}

function jsonAnyValue(value: unknown, path: string, nesting: number): AttrValue {
  if (nesting > MAX_VALUE_NESTING) fail(path, `values nested deeper than ${MAX_VALUE_NESTING}`);
  const anyValue = jsonObject(value, path);
  const set = Object.keys(anyValue).filter((key) =>
    ANY_VALUE_KEYS.has(key) && anyValue[key] != null
  );
  if (set.length === 0) return null;
  if (set.length > 1) fail(path, `more than one value set (${set.join(", ")})`);
  const key = set[0];
  const field = anyValue[key];
  const fieldPath = `${path}.${key}`;
  switch (key) {
    case "stringValue":
      return jsonString(field, fieldPath);
    case "boolValue":
      if (typeof field !== "boolean") fail(fieldPath, `expected a boolean, got ${jsonKind(field)}`);
      return field;
    case "intValue":
      return intAttr(jsonInteger(field, INT64_RANGE, fieldPath));
    case "doubleValue":
      return jsonDouble(field, fieldPath);
    case "arrayValue":
      return jsonArray(jsonObject(field, fieldPath).values, `${fieldPath}.values`).map(
        (entry, i) => jsonAnyValue(entry, `${fieldPath}.values[${i}]`, nesting + 1),
      );
    case "kvlistValue":
      return jsonAttributes(
        jsonObject(field, fieldPath).values,
        `${fieldPath}.values`,
        nesting + 1,
      );
    default:
      return jsonBytes(field, fieldPath);
  }
}

const ANY_VALUE_KEYS = new Set([
  "stringValue",
  "boolValue",
  "intValue",
  "doubleValue",
  "arrayValue",
  "kvlistValue",
  "bytesValue",
]);

function jsonObject(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    fail(path, `expected an object, got ${jsonKind(value)}`);
  }
  return value as JsonObject;
}

function jsonArray(value: unknown, path: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, `expected an array, got ${jsonKind(value)}`);
  return value;
}

function jsonString(value: unknown, path: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") fail(path, `expected a string, got ${jsonKind(value)}`);
  return value;
}

function jsonId(value: unknown, size: number, optional: boolean, path: string): string {
  const hex = jsonString(value, path);
  if (!/^[0-9a-fA-F]*$/.test(hex)) fail(path, `expected hex, got ${jsonKind(hex)}`);
  return checkedId(hex.toLowerCase(), size, optional, path);
}

interface IntegerRange {
  readonly min: bigint;
  readonly max: bigint;
  readonly name: string;
}
const INT64_RANGE: IntegerRange = { min: -(2n ** 63n), max: 2n ** 63n - 1n, name: "int64" };
const UINT64_RANGE: IntegerRange = { min: 0n, max: 2n ** 64n - 1n, name: "uint64" };
const UINT32_RANGE: IntegerRange = { min: 0n, max: 2n ** 32n - 1n, name: "uint32" };

/** An integer given as a JSON number or a decimal string, as proto3 JSON allows. */
function jsonInteger(value: unknown, range: IntegerRange, path: string): bigint {
  if (value === undefined || value === null) return 0n;
  let integer: bigint | undefined;
  if (typeof value === "number" && Number.isInteger(value)) integer = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) integer = BigInt(value);
  if (integer === undefined || integer < range.min || integer > range.max) {
    fail(path, `expected ${range.name}, got ${jsonKind(value)}`);
  }
  return integer;
}

function jsonUint64(value: unknown, path: string): bigint {
  return jsonInteger(value, UINT64_RANGE, path);
}

function jsonUint32(value: unknown, path: string): number {
  return Number(jsonInteger(value, UINT32_RANGE, path));
}

function jsonDouble(value: unknown, path: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") {
    const special = SPECIAL_DOUBLES.get(value);
    if (special !== undefined) return special;
    const parsed = Number(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return fail(path, `expected a double, got ${jsonKind(value)}`);
}

const SPECIAL_DOUBLES = new Map([["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]]);

function jsonEnum<T extends string>(
  value: unknown,
  names: readonly T[],
  prefix: string,
  path: string,
): T {
  if (value === undefined || value === null) return names[0];
  if (typeof value === "string") {
    const name = names.find((candidate) => prefix + candidate === value);
    if (name === undefined) fail(path, `unknown enum name ${jsonKind(value)}`);
    return name;
  }
  if (typeof value === "number" && Number.isInteger(value)) return enumName(names, value, path);
  return fail(path, `expected an enum number or name, got ${jsonKind(value)}`);
}

/** Standard or URL-safe base64, padded or not, as proto3 JSON accepts for bytes. */
function jsonBytes(value: unknown, path: string): Uint8Array {
  const base64 = jsonString(value, path).replace(/-/g, "+").replace(/_/g, "/");
  let binary: string;
  try {
    binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
  } catch {
    return fail(path, "expected base64");
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Names a JSON value for an error message, cut short so a huge value cannot flood logs. */
function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
