/**
 * Deno: `Deno.serve` hands the handler a `ServeHandlerInfo` (Hono's `c.env`) whose `completed`
 * promise settles once the response has been sent, so no JavaScript touches the body and Deno
 * keeps its native body path. It rejects when the response could not be sent (the client went
 * away; measured on Deno 2.9.6 it resolves then too). A body that fails mid-stream is not told
 * apart from one that was sent: Deno logs it.
 */
import type { BodyEndSignal } from "../../src/http/body_end.ts";
import type { RuntimeBodyEnd } from "./mod.ts";

/**
 * The part of `Deno.ServeHandlerInfo` this needs, written out: the npm package's `.d.ts` files
 * are compiled by Node and Bun users, who have no `Deno` types.
 */
export interface ServeCompletion {
  readonly completed: Promise<void>;
}

/** The signal for one request served by `Deno.serve`. */
export function denoBodyEnd(info: ServeCompletion): BodyEndSignal {
  return (response, done) => {
    info.completed.then(
      () => done({ kind: "complete" }),
      () => done({ kind: "cancelled" }),
    );
    return response;
  };
}

/** For the middleware: `c.env` is the ServeHandlerInfo when the app is served by `Deno.serve`. */
export const denoServe: RuntimeBodyEnd = (c) => {
  const info = c.env as Partial<ServeCompletion> | undefined;
  return info?.completed instanceof Promise ? denoBodyEnd(info as ServeCompletion) : undefined;
};
