/**
 * Deno: `Deno.serve` hands the handler a `ServeHandlerInfo` (Hono's `c.env`) whose `completed`
 * promise settles once the response has been sent, so no JavaScript touches the body and Deno
 * keeps its native body path. It rejects when the response could not be sent (the client went
 * away; measured on Deno 2.9.6 it resolves then too). A body that fails mid-stream is not told
 * apart from one that was sent: Deno logs it.
 */
import type { BodyEndSignal } from "../../src/http/body_end.ts";
import type { RuntimeBodyEnd } from "./mod.ts";

/** The signal for one request served by `Deno.serve`. */
export function denoBodyEnd(info: Pick<Deno.ServeHandlerInfo, "completed">): BodyEndSignal {
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
  const info = c.env as Partial<Deno.ServeHandlerInfo> | undefined;
  return info?.completed instanceof Promise
    ? denoBodyEnd(info as Pick<Deno.ServeHandlerInfo, "completed">)
    : undefined;
};
