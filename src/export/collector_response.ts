/**
 * What a collector's answer says, read within a size bound: the partial success of a 2xx
 * (`ExportTraceServiceResponse.partial_success`) and the message of a refusal (a `google.rpc.Status`
 * in the request's encoding, or plain text), as the OTLP/HTTP specification describes them.
 * The answer is untrusted: it is cut short and stripped of control characters before it reaches
 * a log line.
 */

/** More than any partial success or status message needs; the rest is not read. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** How much of a collector's message a log line carries. */
export const MAX_MESSAGE_CHARS = 200;

export interface PartialSuccess {
  readonly rejectedSpans: number;
  readonly errorMessage: string;
}

export async function readPartialSuccess(response: Response): Promise<PartialSuccess | undefined> {
  const body = await readAtMost(response);
  if (body.length === 0) return undefined;
  if (isJson(response)) {
    const parsed = parseJson(body) as
      | { partialSuccess?: { rejectedSpans?: unknown; errorMessage?: unknown } }
      | undefined;
    const partial = parsed?.partialSuccess;
    if (!partial) return undefined;
    return success(Number(partial.rejectedSpans ?? 0), String(partial.errorMessage ?? ""));
  }
  const partial = protoFields(body).get(1);
  if (!(partial instanceof Uint8Array)) return undefined;
  const fields = protoFields(partial);
  const rejected = fields.get(1);
  const message = fields.get(2);
  return success(
    typeof rejected === "number" ? rejected : 0,
    message instanceof Uint8Array ? decoder.decode(message) : "",
  );
}

function success(rejectedSpans: number, errorMessage: string): PartialSuccess | undefined {
  if (!(rejectedSpans > 0) && errorMessage === "") return undefined;
  return {
    rejectedSpans: rejectedSpans > 0 ? rejectedSpans : 0,
    errorMessage: clean(errorMessage),
  };
}

/** The collector's reason for a refusal, cleaned and cut to {@link MAX_MESSAGE_CHARS}; "" if none. */
export async function readErrorMessage(response: Response): Promise<string> {
  const body = await readAtMost(response);
  if (body.length === 0) return "";
  if (isJson(response)) {
    const parsed = parseJson(body) as { message?: unknown } | undefined;
    if (typeof parsed?.message === "string") return clean(parsed.message);
  } else if (response.headers.get("content-type")?.includes("protobuf")) {
    const message = protoFields(body).get(2);
    return message instanceof Uint8Array ? clean(decoder.decode(message)) : "";
  }
  return clean(decoder.decode(body));
}

const decoder = new TextDecoder();

function isJson(response: Response): boolean {
  return response.headers.get("content-type")?.toLowerCase().includes("json") ?? false;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
}

function clean(message: string): string {
  // deno-lint-ignore no-control-regex
  const oneLine = message.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return oneLine.length > MAX_MESSAGE_CHARS
    ? `${oneLine.slice(0, MAX_MESSAGE_CHARS - 1)}…`
    : oneLine;
}

async function readAtMost(response: Response): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(total, MAX_RESPONSE_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.length - offset);
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The top-level fields of a protobuf message: varints as numbers, length-delimited ones as
 * bytes; the last occurrence wins. Enough for the two small messages read here; a malformed body
 * yields what was read before the fault.
 */
function protoFields(bytes: Uint8Array): Map<number, number | Uint8Array> {
  const fields = new Map<number, number | Uint8Array>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    for (let scale = 1; pos < bytes.length; scale *= 128) {
      const byte = bytes[pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
    }
    return NaN;
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) fields.set(field, varint());
    else if (wire === 2) {
      const length = varint();
      if (!(pos + length <= bytes.length)) break;
      fields.set(field, bytes.subarray(pos, pos + length));
      pos += length;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else break;
  }
  return fields;
}
