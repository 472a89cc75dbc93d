/**
 * workerd (Cloudflare Workers): the body flows from its source into an `IdentityTransformStream`
 * (a `FixedLengthStream` when its length is known, so `Content-Length` is kept) with `pipeTo`,
 * which workerd runs natively between its own streams: no JavaScript per chunk. The span ends
 * when the pipe settles.
 */
import type { BodyEndSignal } from "../../src/http/body_end.ts";
import type { RuntimeBodyEnd } from "./mod.ts";

/** workerd's native byte streams (not in the standard library's types). */
interface NativePipes {
  IdentityTransformStream: new () => TransformStream<Uint8Array, Uint8Array>;
  FixedLengthStream: new (length: number) => TransformStream<Uint8Array, Uint8Array>;
}

const native = globalThis as unknown as Partial<NativePipes>;

/** The signal for a request served by workerd; call only where `IdentityTransformStream` exists. */
export const workerdBodyEnd: BodyEndSignal = (response, done) => {
  const { IdentityTransformStream, FixedLengthStream } = native as NativePipes;
  const length = response.headers.get("content-length");
  const pipe = length !== null && /^\d{1,15}$/.test(length)
    ? new FixedLengthStream(Number(length))
    : new IdentityTransformStream();
  const source = response.body!;
  source.pipeTo(pipe.writable).then(
    () => done({ kind: "complete" }),
    // The pipe fails both when the source failed and when the client went away (its side was
    // cancelled, which cancels the source): an errored source tells the first apart.
    (error) =>
      sourceFailed(source).then((failed) =>
        done(failed ? { kind: "error", error } : { kind: "cancelled" })
      ),
  );
  return new Response(pipe.readable, response);
};

function sourceFailed(source: ReadableStream): Promise<boolean> {
  try {
    return source.getReader().closed.then(() => false, () => true);
  } catch {
    return Promise.resolve(false);
  }
}

/** For the middleware: the native pipe wherever workerd provides it. */
export const workerd: RuntimeBodyEnd = native.IdentityTransformStream === undefined
  ? () => undefined
  : () => workerdBodyEnd;
