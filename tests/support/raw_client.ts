/**
 * HTTP/1.1 over a raw socket, for requests `fetch` would refuse or normalise: repeated header
 * lines stay separate, and non-ASCII header values go out as their UTF-8 bytes. Also the other
 * side: a one-connection upstream that sees a request head exactly as it arrives on the wire.
 */

export interface RawRequest {
  readonly method?: string;
  /** Path and query (or an absolute URL), sent as written. */
  readonly target: string;
  /** The Host header; default `127.0.0.1:{port}`. */
  readonly host?: string;
  /** Header lines in order; a name may repeat. */
  readonly headers?: readonly (readonly [name: string, value: string])[];
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body, de-chunked, as UTF-8 text. */
  readonly body: string;
}

const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const decoder = new TextDecoder();

/** Sends one request on a fresh connection (`connection: close`) and reads the whole answer. */
export async function rawHttp(port: number, request: RawRequest): Promise<RawResponse> {
  const lines = [
    `${request.method ?? "GET"} ${request.target} HTTP/1.1`,
    `host: ${request.host ?? `127.0.0.1:${port}`}`,
    "connection: close",
    ...(request.headers ?? []).map(([name, value]) => `${name}: ${value}`),
  ];
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
    return parseResponse(await readResponse(conn));
  } finally {
    conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Reads until the response is complete (by Content-Length or the last chunk) or the server closes:
 * a server may keep the connection open after answering despite `connection: close` (workerd
 * does, until its idle timeout).
 */
function readResponse(conn: Deno.Conn): Promise<Uint8Array> {
  return readUntil(conn, isComplete);
}

/** Reads until `done(bytesSoFar)` or the peer closes, at most 16 MiB. */
export async function readUntil(
  conn: Deno.Conn,
  done: (bytes: Uint8Array) => boolean,
): Promise<Uint8Array> {
  let bytes: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  while (bytes.length < MAX_MESSAGE_BYTES && !done(bytes)) {
    const count = await conn.read(buffer);
    if (count === null) break;
    bytes = concat([bytes, buffer.subarray(0, count)]);
  }
  return bytes;
}

export interface RawUpstream extends Disposable {
  readonly url: string;
  readonly port: number;
  /**
   * The request head as it arrived (request line and header lines, CRLF-separated), once
   * `respond` has finished and the connection is closed.
   */
  readonly served: Promise<string>;
}

/**
 * A one-connection HTTP server on a raw socket, to see request headers exactly as they arrive on
 * the wire and to send response headers Deno.serve would not let through. `respond` writes the
 * answer (or none) on the connection; it is closed after.
 */
export function rawUpstream(
  respond: (conn: Deno.Conn, head: string) => Promise<void>,
): RawUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const bytes = await readUntil(conn, (bytes) => indexOfCrlf(bytes, 0, true) >= 0);
      const head = decoder.decode(bytes).split("\r\n\r\n")[0];
      await respond(conn, head);
      return head;
    } finally {
      conn.close();
    }
  })();
  const { port } = listener.addr;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    [Symbol.dispose]: () => listener.close(),
  };
}

/**
 * An upstream that answers every request with `status`, which Deno.serve would not send (a 600,
 * say), and a four-byte body.
 */
export function oddStatusUpstream(status: number): Disposable & { readonly url: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answer = new TextEncoder().encode(
    `HTTP/1.1 ${status} Odd\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbody`,
  );
  (async () => {
    for await (const conn of listener) {
      readUntil(conn, (bytes) => indexOfCrlf(bytes, 0, true) >= 0)
        .then(() => conn.write(answer))
        .catch(() => {})
        .finally(() => conn.close());
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    [Symbol.dispose]: () => listener.close(),
  };
}

interface Head {
  readonly status: number;
  readonly headers: Headers;
  /** Where the body starts. */
  readonly bodyStart: number;
}

function parseHead(bytes: Uint8Array): Head | undefined {
  const headEnd = indexOfCrlf(bytes, 0, true);
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = decoder.decode(bytes.subarray(0, headEnd)).split("\r\n");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(" ")[1]), headers, bodyStart: headEnd + 4 };
}

function isChunked(headers: Headers): boolean {
  return headers.get("transfer-encoding")?.toLowerCase().includes("chunked") ?? false;
}

function isComplete(bytes: Uint8Array): boolean {
  const head = parseHead(bytes);
  if (!head) return false;
  const { status, headers, bodyStart } = head;
  if (status < 200 || status === 204 || status === 304) return true;
  const body = bytes.subarray(bodyStart);
  if (isChunked(headers)) return dechunk(body).complete;
  const length = headers.get("content-length");
  return length !== null && body.length >= Number(length);
}

function parseResponse(bytes: Uint8Array): RawResponse {
  const head = parseHead(bytes);
  if (!head) throw new Error(`incomplete HTTP response: ${decoder.decode(bytes)}`);
  const rest = bytes.subarray(head.bodyStart);
  return {
    status: head.status,
    headers: head.headers,
    body: decoder.decode(isChunked(head.headers) ? dechunk(rest).body : rest),
  };
}

/** The index of the next CRLF (or CRLFCRLF) from `from`, -1 if none. */
function indexOfCrlf(bytes: Uint8Array, from: number, double = false): number {
  const pattern = double ? [13, 10, 13, 10] : [13, 10];
  for (let i = from; i + pattern.length <= bytes.length; i++) {
    if (pattern.every((byte, k) => bytes[i + k] === byte)) return i;
  }
  return -1;
}

/** The chunks' data so far, and whether the last (zero-size) chunk has arrived. */
function dechunk(bytes: Uint8Array): { body: Uint8Array; complete: boolean } {
  const parts: Uint8Array[] = [];
  for (let offset = 0;;) {
    const lineEnd = indexOfCrlf(bytes, offset);
    if (lineEnd < 0) return { body: concat(parts), complete: false };
    const size = parseInt(decoder.decode(bytes.subarray(offset, lineEnd)), 16);
    if (size === 0) return { body: concat(parts), complete: true };
    if (!(size > 0) || lineEnd + 2 + size > bytes.length) {
      return { body: concat(parts), complete: false };
    }
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}
