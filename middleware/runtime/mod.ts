/**
 * How the middleware learns that a response body has been sent, one module per runtime. Each
 * answers with its runtime's signal for the request, or undefined when the request is not served
 * by that runtime; the first answer wins. Where no runtime answers, the JavaScript wrap
 * (`streamBodyEnd` in src/http/body_end.ts) is the fallback — on Bun, which has no per-response
 * signal. A new runtime adds its module here.
 */
import type { Context } from "hono";
import type { BodyEndSignal } from "../../src/http/body_end.ts";
import { denoServe } from "./deno.ts";
import { nodeServer } from "./node.ts";
import { workerd } from "./workerd.ts";

export type RuntimeBodyEnd = (c: Context) => BodyEndSignal | undefined;

const RUNTIMES: readonly RuntimeBodyEnd[] = [denoServe, nodeServer, workerd];

/** The signal of the runtime serving `c`; undefined for the JavaScript wrap. */
export function runtimeBodyEnd(c: Context): BodyEndSignal | undefined {
  for (const runtime of RUNTIMES) {
    const signal = runtime(c);
    if (signal) return signal;
  }
  return undefined;
}
