/**
 * Every field of an `ExportTraceServiceRequest`, from protobuf bytes or OTLP/JSON, as one
 * canonical tree (JSON field names; ids and bytes as hex; 64-bit integers as decimal strings;
 * scalars at their proto3 default left out, absent messages as `{}`, oneof members kept whatever
 * their value). Two encodings of the same request give deep-equal trees, so encoders can be
 * compared field by field — including what the viewer's decoder does not keep (dropped counts,
 * schema URLs, scope attributes).
 */

type Kind = "string" | "bytes" | "uint" | "int64" | "fixed64" | "fixed32" | "double" | "bool";
interface Field {
  readonly name: string;
  readonly kind: Kind | Message;
  readonly repeated?: boolean;
}
interface Message {
  readonly fields: Readonly<Record<number, Field>>;
  /** AnyValue: every member is kept, even at its default. */
  readonly oneof?: boolean;
}

const anyValue: Message = { oneof: true, fields: {} };
const keyValue: Message = {
  fields: { 1: { name: "key", kind: "string" }, 2: { name: "value", kind: anyValue } },
};
const attributes = (name = "attributes"): Field => ({ name, kind: keyValue, repeated: true });
Object.assign(anyValue.fields, {
  1: { name: "stringValue", kind: "string" },
  2: { name: "boolValue", kind: "bool" },
  3: { name: "intValue", kind: "int64" },
  4: { name: "doubleValue", kind: "double" },
  5: {
    name: "arrayValue",
    kind: { fields: { 1: { name: "values", kind: anyValue, repeated: true } } },
  },
  6: { name: "kvlistValue", kind: { fields: { 1: attributes("values") } } },
  7: { name: "bytesValue", kind: "bytes" },
});
const dropped = (name = "droppedAttributesCount"): Field => ({ name, kind: "uint" });
const span: Message = {
  fields: {
    1: { name: "traceId", kind: "bytes" },
    2: { name: "spanId", kind: "bytes" },
    3: { name: "traceState", kind: "string" },
    4: { name: "parentSpanId", kind: "bytes" },
    5: { name: "name", kind: "string" },
    6: { name: "kind", kind: "uint" },
    7: { name: "startTimeUnixNano", kind: "fixed64" },
    8: { name: "endTimeUnixNano", kind: "fixed64" },
    9: attributes(),
    10: dropped(),
    11: {
      name: "events",
      repeated: true,
      kind: {
        fields: {
          1: { name: "timeUnixNano", kind: "fixed64" },
          2: { name: "name", kind: "string" },
          3: attributes(),
          4: dropped(),
        },
      },
    },
    12: dropped("droppedEventsCount"),
    13: {
      name: "links",
      repeated: true,
      kind: {
        fields: {
          1: { name: "traceId", kind: "bytes" },
          2: { name: "spanId", kind: "bytes" },
          3: { name: "traceState", kind: "string" },
          4: attributes(),
          5: dropped(),
          6: { name: "flags", kind: "fixed32" },
        },
      },
    },
    14: dropped("droppedLinksCount"),
    15: {
      name: "status",
      kind: {
        fields: { 2: { name: "message", kind: "string" }, 3: { name: "code", kind: "uint" } },
      },
    },
    16: { name: "flags", kind: "fixed32" },
  },
};
const request: Message = {
  fields: {
    1: {
      name: "resourceSpans",
      repeated: true,
      kind: {
        fields: {
          1: { name: "resource", kind: { fields: { 1: attributes(), 2: dropped() } } },
          2: {
            name: "scopeSpans",
            repeated: true,
            kind: {
              fields: {
                1: {
                  name: "scope",
                  kind: {
                    fields: {
                      1: { name: "name", kind: "string" },
                      2: { name: "version", kind: "string" },
                      3: attributes(),
                      4: dropped(),
                    },
                  },
                },
                2: { name: "spans", kind: span, repeated: true },
                3: { name: "schemaUrl", kind: "string" },
              },
            },
          },
          3: { name: "schemaUrl", kind: "string" },
        },
      },
    },
  },
};

export type Tree = { [name: string]: unknown };

/** The canonical tree of a protobuf `ExportTraceServiceRequest`. */
export function protobufFields(bytes: Uint8Array): Tree {
  return readMessage(bytes, request);
}

/** The canonical tree of an OTLP/JSON `ExportTraceServiceRequest` (the parsed JSON). */
export function jsonFields(json: unknown): Tree {
  return jsonMessage(json, request);
}

function readMessage(bytes: Uint8Array, message: Message): Tree {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tree: Tree = {};
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n;; shift += 7n) {
      if (pos >= bytes.length) throw new Error("truncated varint");
      const byte = bytes[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (pos < bytes.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    const wire = tag & 7;
    let raw: bigint | Uint8Array;
    if (wire === 0) raw = varint();
    else if (wire === 1) {
      raw = view.getBigUint64(pos, true);
      pos += 8;
    } else if (wire === 5) {
      raw = BigInt(view.getUint32(pos, true));
      pos += 4;
    } else if (wire === 2) {
      const length = Number(varint());
      raw = bytes.subarray(pos, pos + length);
      if (pos + length > bytes.length) throw new Error("truncated field");
      pos += length;
    } else throw new Error(`unexpected wire type ${wire}`);
    const field = message.fields[number];
    if (!field) throw new Error(`unknown field ${number}`);
    let value: unknown;
    if (typeof field.kind === "object") value = readMessage(raw as Uint8Array, field.kind);
    else if (field.kind === "double") value = view.getFloat64(pos - 8, true);
    else value = scalar(field.kind, raw);
    place(tree, field, value, message.oneof === true);
  }
  return withDefaults(tree, message);
}

function scalar(kind: Kind, raw: bigint | Uint8Array): unknown {
  switch (kind) {
    case "string":
      return new TextDecoder("utf-8", { fatal: true }).decode(raw as Uint8Array);
    case "bytes":
      return [...(raw as Uint8Array)].map((b) => b.toString(16).padStart(2, "0")).join("");
    case "uint":
    case "fixed32":
      return Number(raw);
    case "int64":
      return BigInt.asIntN(64, raw as bigint).toString();
    case "fixed64":
      return (raw as bigint).toString();
    case "bool":
      return raw !== 0n;
    case "double":
      throw new Error("doubles are read by the caller");
  }
}

function isDefault(value: unknown): boolean {
  return value === 0 || value === "" || value === "0" || value === false;
}

function place(tree: Tree, field: Field, value: unknown, oneof: boolean): void {
  if (field.repeated) {
    ((tree[field.name] ??= []) as unknown[]).push(value);
  } else if (oneof || !isDefault(value)) {
    tree[field.name] = value;
  }
}

function withDefaults(tree: Tree, message: Message): Tree {
  if (message.oneof) return tree;
  for (const field of Object.values(message.fields)) {
    if (field.repeated) tree[field.name] ??= [];
    else if (typeof field.kind === "object") tree[field.name] ??= withDefaults({}, field.kind);
  }
  return tree;
}

function jsonMessage(json: unknown, message: Message): Tree {
  if (typeof json !== "object" || json === null) throw new Error(`expected an object: ${json}`);
  const tree: Tree = {};
  const fields = new Map(Object.values(message.fields).map((field) => [field.name, field]));
  for (const [name, raw] of Object.entries(json)) {
    if (raw === undefined || raw === null) continue;
    const field = fields.get(name);
    if (!field) throw new Error(`unknown JSON field ${name}`);
    const one = (item: unknown) =>
      typeof field.kind === "object" ? jsonMessage(item, field.kind) : jsonScalar(field.kind, item);
    if (field.repeated) {
      if (!Array.isArray(raw)) throw new Error(`${name}: expected an array`);
      tree[name] = raw.map(one);
    } else place(tree, field, one(raw), message.oneof === true);
  }
  return withDefaults(tree, message);
}

function jsonScalar(kind: Kind, raw: unknown): unknown {
  switch (kind) {
    case "string":
    case "bool":
      return raw;
    case "bytes":
      return String(raw).toLowerCase();
    case "uint":
    case "fixed32":
      return Number(raw);
    case "int64":
    case "fixed64":
      return BigInt(raw as string | number).toString();
    case "double":
      return Number(raw);
  }
}
