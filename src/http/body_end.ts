/**
 * Knowing when a response body has been sent, without buffering it: through the runtime's own
 * signal where it has one (a `BodyEndSignal` passed in by the runtime's entry or middleware), else
 * through a JavaScript stream wrapped around the body.
 */
import { webSocketOf } from "./websocket.ts";

export type BodyEndKind = "complete" | "cancelled" | "error";

export interface BodyOutcome {
  /** complete: the last byte was handed on; cancelled: the consumer stopped reading; error: the source failed. */
  readonly kind: BodyEndKind;
  /** The source's error, present only when `kind` is "error". */
  readonly error?: unknown;
  /** Body bytes handed to the consumer, when the signal counts them (the JavaScript wrap does). */
  readonly bytes?: number;
}

export type BodyEndCallback = (outcome: BodyOutcome) => void;

/**
 * A runtime's way of telling when a response body has been sent. Given a response that has a
 * body, it returns the response to send (the same one, or one whose body flows through a native
 * pipe) and calls `done` once the body has been sent, cancelled by the consumer, or has failed.
 * `done` never throws and ignores every call after the first.
 */
export type BodyEndSignal = (response: Response, done: BodyEndCallback) => Response;

/** A relayed body as the runtime read it ahead: what to send, and how it ended, or will. */
export interface ReadAhead {
  readonly body: BodyInit;
  readonly ended: BodyOutcome | Promise<BodyOutcome>;
}

/**
 * For a body whose end is known already, or promised (a relayed body the runtime read ahead): the
 * response as it is, `done` called at once with `ended`, or when it settles.
 */
export function endedAs(ended: BodyOutcome | Promise<BodyOutcome>): BodyEndSignal {
  return (response, done) => {
    if (ended instanceof Promise) ended.then(done);
    else done(ended);
    return response;
  };
}

/**
 * The response to send, calling `done` exactly once when its body has been sent, was cancelled by
 * the consumer, or failed, as `signal` (default: the JavaScript wrap, `streamBodyEnd`) reports it.
 *
 * Upgrade responses (status 1xx, or Cloudflare's `webSocket`-carrying 101, which the Response
 * constructor would refuse or strip) are returned untouched, with `done` called at once as
 * complete with 0 bytes; so are responses without a body (204, 304, null body) where the signal
 * reads the body (the JavaScript wrap, workerd's pipe). A runtime's own signal reports them sent.
 *
 * Exceptions thrown by `done` are ignored, so telemetry can never break the body it observes.
 */
export function onBodyEnd(
  response: Response,
  done: BodyEndCallback,
  signal: BodyEndSignal = streamBodyEnd,
): Response {
  let ended = false;
  const once: BodyEndCallback = (outcome) => {
    if (ended) return;
    ended = true;
    try {
      done(outcome);
    } catch {
      // The observer's failure must not reach the response.
    }
  };
  // `response.body` is not read here: in Deno reading it turns a static body (a string, bytes)
  // into a stream, which takes the response off Deno's native body path. Only the signals that
  // need the body read it (and end at once when there is none).
  if (response.status < 200 || webSocketOf(response) !== undefined) {
    once({ kind: "complete", bytes: 0 });
    return response;
  }
  return signal(response, once);
}

/**
 * The JavaScript wrap, for runtimes that do not tell when a body has been sent: a Response with
 * the same status, status text and headers whose body is `response`'s passed through, counted.
 * JavaScript runs for every chunk, and the runtime loses its native body path: the last resort.
 */
export const streamBodyEnd: BodyEndSignal = (response, done) => {
  const body = response.body;
  if (body === null) {
    done({ kind: "complete", bytes: 0 });
    return response;
  }
  const reader = body.getReader();
  let bytes = 0;
  let ended = false;
  const end = (outcome: BodyOutcome) => {
    ended = true;
    done(outcome);
  };

  // A pull source with highWaterMark 0 reads the original body only when the consumer asks for
  // a chunk: backpressure is kept, nothing is buffered, and it costs about half of what
  // pipeThrough(TransformStream) does per chunk in Deno (measured).
  const tracked = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        controller.error(error);
        end({ kind: "error", error, bytes });
        return;
      }
      if (ended) return; // cancelled while the read was pending
      if (chunk.done) {
        controller.close();
        end({ kind: "complete", bytes });
        return;
      }
      bytes += chunk.value.byteLength;
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      end({ kind: "cancelled", bytes });
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });

  return new Response(tracked, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

/** Relayed bodies up to this size with a known length leave in a write or two: no "mid-body". */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * For relayed bodies (the proxy): `signal` (the runtime's own) for a small body of known length,
 * where the per-request cost of a JavaScript stream is what matters; the JavaScript wrap for a
 * longer or open-ended one, where its cost per chunk is small next to the bytes and it sees a
 * client that leaves mid-body, which neither Deno's `completed` (2.9.6) nor workerd's pipe
 * reports as such.
 */
export function smallBodiesThrough(signal: BodyEndSignal): BodyEndSignal {
  return (response, done) => {
    const length = contentLength(response.headers.get("content-length"));
    return length !== undefined && length <= SMALL_BODY_BYTES
      ? signal(response, done)
      : streamBodyEnd(response, done);
  };
}

/**
 * A `Content-Length` value as a number, or undefined when it is not one (RFC 9110: one or more
 * digits). Up to 15 digits, so it is exact as a number; a longer one is treated as unknown.
 */
export function contentLength(value: string | null): number | undefined {
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
