/**
 * Node (`@hono/node-server`): `c.env.outgoing` is the request's `ServerResponse`. It emits `close`
 * once the response is done with, and `writableFinished` then says whether all of it was handed
 * to the socket (sent) or the client went away first; no JavaScript touches the body. A body
 * that fails mid-stream makes the server destroy the response: it reads as cancelled.
 */
import type { BodyEndSignal } from "../../src/http/body_end.ts";
import type { RuntimeBodyEnd } from "./mod.ts";

/** The part of `http.ServerResponse` this needs (no Node types in the package). */
interface OutgoingResponse {
  once(event: "close", listener: () => void): unknown;
  readonly writableFinished: boolean;
}

/** The signal for one response written by Node's HTTP server. */
export function nodeBodyEnd(outgoing: OutgoingResponse): BodyEndSignal {
  return (response, done) => {
    outgoing.once(
      "close",
      () => done(outgoing.writableFinished ? { kind: "complete" } : { kind: "cancelled" }),
    );
    return response;
  };
}

/** For the middleware: `c.env` is `{ incoming, outgoing }` when served by `@hono/node-server`. */
export const nodeServer: RuntimeBodyEnd = (c) => {
  const outgoing = (c.env as { outgoing?: Partial<OutgoingResponse> } | undefined)?.outgoing;
  return typeof outgoing?.once === "function" && "writableFinished" in outgoing
    ? nodeBodyEnd(outgoing as OutgoingResponse)
    : undefined;
};
