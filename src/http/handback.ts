/**
 * Hands the trace back to the caller: a `Server-Timing` entry `traceparent` (readable by browsers
 * through the Performance API and by CLIs) and, optionally, the W3C `traceresponse` header.
 */
import type { HttpSettings } from "../config/settings.ts";

export function handBackHeaders(
  headers: Headers,
  traceparent: string | undefined,
  settings: Pick<HttpSettings, "serverTiming" | "traceResponse">,
): void {
  if (traceparent === undefined) return;
  if (settings.serverTiming) headers.append("server-timing", `traceparent;desc="${traceparent}"`);
  if (settings.traceResponse) headers.set("traceresponse", traceparent);
}
