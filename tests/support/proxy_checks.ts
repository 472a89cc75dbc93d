/**
 * What the proxy tests (Deno entry and Worker) share to drive a proxy and check what it did: caller
 * trace contexts, span look-ups by request id, trace and service, a strict reading of the
 * `traceparent` an upstream received, a WebSocket client that keeps what it receives, and the
 * raw upstream answer with hop-by-hop fields both proxy entries must strip.
 */
import assert from "node:assert/strict";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";

export const REQUEST_ID_ATTRIBUTE = "tracegate.request.id";
export const SAMPLING_REASON_ATTRIBUTE = "tracegate.sampling.reason";
/** How long a test WebSocket may stay open. */
const WS_DEADLINE_MS = 10_000;

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** A caller's span: fresh random ids and the `traceparent` it sends with the given flags. */
export function caller(flags: "00" | "01") {
  const traceId = randomHex(16);
  const spanId = randomHex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${flags}` };
}

export const serviceOf = (span: DecodedSpan) => span.resourceAttributes["service.name"];

export const withRequestId = (spans: readonly DecodedSpan[], id: string) =>
  spans.filter((span) => span.attributes[REQUEST_ID_ATTRIBUTE] === id);

export const inTrace = (spans: readonly DecodedSpan[], traceId: string) =>
  spans.filter((span) => span.traceId === traceId);

/** The one span in `spans` of `service` and `kind` (and `name`, if given); fails the test if not. */
export function only(
  spans: readonly DecodedSpan[],
  service: string,
  kind: DecodedSpan["kind"],
  name?: string,
): DecodedSpan {
  const found = spans.filter((span) =>
    serviceOf(span) === service && span.kind === kind && (name === undefined || span.name === name)
  );
  assert.equal(found.length, 1, `one ${service} ${kind} ${name ?? ""} span, got ${found.length}`);
  return found[0];
}

export interface ForwardedTraceparent {
  readonly traceId: string;
  readonly parentId: string;
  readonly sampled: boolean;
}

/**
 * The `traceparent` a proxy sent on, which must be one valid version-00 value (W3C Trace Context:
 * lower-case hex, non-zero ids); fails the test otherwise.
 */
export function forwardedTraceparent(headers: Headers): ForwardedTraceparent {
  const value = headers.get("traceparent");
  const match = value?.match(/^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/);
  assert.ok(match, `not one valid traceparent: ${JSON.stringify(value)}`);
  const [, traceId, parentId, flags] = match;
  assert.ok(!/^0+$/.test(traceId) && !/^0+$/.test(parentId), `zero id in ${value}`);
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/**
 * A WebSocket client that keeps what it receives. It fails rather than hangs: past a deadline its
 * promises reject, since a bridge that loses a close would otherwise leave the test waiting.
 */
export function webSocketClient(
  url: string,
  headers: HeadersInit = {},
  protocols: string[] = [],
) {
  const socket = new WebSocket(url, { headers, protocols });
  socket.binaryType = "arraybuffer";
  const messages: (string | ArrayBuffer)[] = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<CloseEvent>();
  const checks = new Set<() => void>();
  let over = false;
  const finish = (settle: () => void) => {
    over = true;
    clearTimeout(deadline);
    settle();
    opened.reject(new Error(`the WebSocket to ${url} closed before it opened`));
    for (const check of [...checks]) check();
  };
  const deadline = setTimeout(() => {
    finish(() => closed.reject(new Error(`${url} still open after ${WS_DEADLINE_MS} ms`)));
    socket.close();
  }, WS_DEADLINE_MS);
  socket.onopen = () => opened.resolve();
  socket.onmessage = (event) => {
    messages.push(event.data);
    for (const check of [...checks]) check();
  };
  socket.onclose = (event) => finish(() => closed.resolve(event));

  /** Resolves once `count` messages have arrived; rejects if the socket closes first. */
  const received = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (messages.length < count && !over) return;
        checks.delete(check);
        if (messages.length >= count) resolve();
        else reject(new Error(`closed after ${messages.length} of ${count} messages`));
      };
      checks.add(check);
      check();
    });
  return { socket, messages, opened: opened.promise, received, closed: closed.promise };
}

/** A raw upstream answer carrying hop-by-hop fields (named by Connection too) and two cookies. */
export const HOP_BY_HOP_RESPONSE = "HTTP/1.1 200 OK\r\n" +
  "Connection: close, X-Up-Hop\r\nX-Up-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
  "Proxy-Authenticate: Basic\r\nProxy-Extra: 1\r\nUpgrade: h2c\r\n" +
  "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Up-Kept: yes\r\nContent-Length: 2\r\n\r\nok";

/** What reaches the client of `HOP_BY_HOP_RESPONSE`: the end-to-end fields only. */
export function assertHopByHopDropped(
  response: { status: number; body: string; headers: Headers },
) {
  assert.equal(response.status, 200);
  assert.equal(response.body, "ok");
  assert.equal(response.headers.get("x-up-kept"), "yes");
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  for (const name of ["x-up-hop", "keep-alive", "proxy-authenticate", "proxy-extra", "upgrade"]) {
    assert.equal(response.headers.get(name), null, name);
  }
}
