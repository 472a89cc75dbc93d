/**
 * workerd (Cloudflare Workers): the body flows from its source into an `IdentityTransformStream`
 * (a `FixedLengthStream` when its declared length is that of the bytes that arrive, so
 * `Content-Length` is kept; not for a fetched body workerd has decoded) with `pipeTo`,
 * which workerd runs natively between its own streams: no JavaScript per chunk. The span ends
 * when the pipe settles. When the client goes away, workerd may fail the request's own fetches
 * first ("Network connection lost."): the span then records the source's error, not a cancel.
 */
import {
  type BodyEndCallback,
  type BodyEndSignal,
  type BodyOutcome,
  contentLength,
  type ReadAhead,
  SMALL_BODY_BYTES,
} from "../../src/http/body_end.ts";
import type { RuntimeBodyEnd } from "./mod.ts";

/** workerd's native byte streams (not in the standard library's types). */
interface NativePipes {
  IdentityTransformStream: new () => TransformStream<Uint8Array, Uint8Array>;
  FixedLengthStream: new (length: number) => TransformStream<Uint8Array, Uint8Array>;
}

const native = globalThis as unknown as Partial<NativePipes>;

/** The signal for a request served by workerd; call only where `IdentityTransformStream` exists. */
export const workerdBodyEnd: BodyEndSignal = (response, done) => {
  const source = response.body;
  if (source === null) {
    done({ kind: "complete", bytes: 0 });
    return response;
  }
  const { IdentityTransformStream, FixedLengthStream } = native as NativePipes;
  const length = declaredLength(response);
  const pipe = length !== undefined ? new FixedLengthStream(length) : new IdentityTransformStream();
  return new Response(piped(source, pipe, done), response);
};

/** `source` piped natively into `pipe`, whose readable is returned; `done` when the pipe settles. */
function piped(
  source: ReadableStream<Uint8Array>,
  pipe: TransformStream<Uint8Array, Uint8Array>,
  done: BodyEndCallback,
): ReadableStream<Uint8Array> {
  // Neither side is cancelled or aborted by the pipe's failure, so each side's state afterwards
  // tells which failed: the client's (it went away) or the source (an error).
  source.pipeTo(pipe.writable, { preventCancel: true, preventAbort: true }).then(
    () => done({ kind: "complete" }),
    (error) => {
      const writer = pipe.writable.getWriter();
      if (writer.desiredSize === null) {
        source.cancel(error).catch(() => {});
        done({ kind: "cancelled" });
      } else {
        writer.abort(error).catch(() => {});
        done({ kind: "error", error });
      }
    },
  );
  return pipe.readable;
}

/**
 * A relayed body of known, small length read ahead of the response (the proxy's, for spans that
 * end with the body): its first chunk is read before the response is built. A small body nearly
 * always arrives whole in it: it is then sent as bytes and has ended, with no stream, tee or pipe
 * built for it, and the response is built once (bare workerd, sampled: ~20 µs of CPU per request
 * less than teeing the relayed response, and ~40 k instructions less than reading the body of a
 * response built first). Otherwise the chunk goes first into the native pipe
 * of `workerdBodyEnd` and the rest of the body follows it. The client thus gets the response
 * headers with the body's first bytes rather than just before them. Undefined for a body it does
 * not read ahead: none, open-ended or longer than 64 KiB, or decoded by workerd's fetch
 * (`Content-Encoding`: its length is not the declared one).
 */
export function workerdReadAhead(response: Response): Promise<ReadAhead> | undefined {
  const source = response.body;
  const length = declaredLength(response);
  if (source === null || length === undefined || length > SMALL_BODY_BYTES) return undefined;
  const reader = source.getReader();
  return reader.read().then((chunk): ReadAhead => {
    if (chunk.done || chunk.value.byteLength === length) {
      const bytes = chunk.done ? new Uint8Array() : chunk.value;
      return { body: bytes, ended: { kind: "complete", bytes: bytes.byteLength } };
    }
    reader.releaseLock();
    const pipe = new (native as NativePipes).FixedLengthStream(length);
    const writer = pipe.writable.getWriter();
    // A failed write fails the pipe too, which tells why.
    writer.write(chunk.value).catch(() => {});
    writer.releaseLock();
    let settle: BodyEndCallback = () => {};
    const ended = new Promise<BodyOutcome>((resolve) => (settle = resolve));
    return { body: piped(source, pipe, settle), ended };
  }, (error): ReadAhead => {
    reader.releaseLock();
    // Its body has failed: the client sees that as it would have seen it relayed.
    return { body: source, ended: { kind: "error", error } };
  });
}

/** The body's length as declared, when its bytes are the ones that arrive (not decoded). */
function declaredLength(response: Response): number | undefined {
  const { headers } = response;
  const encoding = headers.get("content-encoding");
  return encoding === null || encoding.toLowerCase() === "identity"
    ? contentLength(headers.get("content-length"))
    : undefined;
}

/**
 * For a small relayed body not read ahead (workerd's fetch decoded its `Content-Encoding`, so its
 * bytes are not the declared length's): the body is teed natively, one branch sent and the other read to its end,
 * chunk by chunk as it arrives (one chunk or two for a small body), so the span ends once the
 * source has handed on its last byte, or failed. On bare workerd this costs less than half what
 * the pipe of `workerdBodyEnd` does per request
 * (measured: tee and read +25 µs of CPU over sending the body as it is, the pipe +60 µs), at the
 * price of holding the body until the client has read it: hence for small bodies only. A client
 * that goes away is not told apart (the source is still read to its end), which the pipe does not
 * tell reliably either: workerd fails the request's fetch first.
 */
export const workerdTeeBodyEnd: BodyEndSignal = (response, done) => {
  const source = response.body;
  if (source === null) {
    done({ kind: "complete", bytes: 0 });
    return response;
  }
  const [sent, observed] = source.tee();
  const reader = observed.getReader();
  let bytes = 0;
  const next = (): Promise<void> =>
    reader.read().then((chunk) => {
      if (chunk.done) return done({ kind: "complete", bytes });
      bytes += chunk.value.byteLength;
      return next();
    });
  next().catch((error) => done({ kind: "error", error, bytes }));
  return new Response(sent, response);
};

/** For the middleware: the native pipe wherever workerd provides it. */
export const workerd: RuntimeBodyEnd = native.IdentityTransformStream === undefined
  ? () => undefined
  : () => workerdBodyEnd;
