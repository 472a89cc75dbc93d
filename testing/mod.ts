/**
 * Assert traces in your own tests: an in-process OTLP/HTTP receiver on a free loopback port,
 * waits that resolve as soon as the spans arrive, and helpers to send a known trace and to find
 * the trace of a response. Runs on Deno, Node and Bun; plain values and thrown errors, so it
 * works with `node:assert`, Deno's `@std/assert` and vitest's `expect` alike.
 *
 * @example A Hono app with the tracegate middleware, under `Deno.test`
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { tracegate } from "@tracegate/tracegate/middleware";
 * import { newTraceparent, startTraceReceiver, traceOfResponse } from "@tracegate/tracegate/testing";
 *
 * Deno.test("GET /hello continues the caller's trace", async () => {
 *   await using receiver = await startTraceReceiver();
 *   const app = new Hono()
 *     .use(tracegate({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } }))
 *     .get("/hello", (c) => c.text("hi"));
 *
 *   const caller = newTraceparent();
 *   const response = await app.request("/hello", { headers: { traceparent: caller.header } });
 *
 *   assert.equal(traceOfResponse(response)?.traceId, caller.traceId);
 *   const trace = await receiver.waitForTrace(caller.traceId, { spans: 1 });
 *   assert.equal(trace.outline(), "SERVER unknown_service GET /hello");
 *   assert.equal(trace.spans[0].parentSpanId, caller.parentId);
 *   assert.equal(trace.spans[0].attributes["http.response.status_code"], 200);
 * });
 * ```
 *
 * @example The wait's failure message, when the trace never comes
 * ```text
 * waitForTrace(4bf92f3577b34da6a3ce929d0e0e4736, { spans: 3 }): not there after 5000 ms.
 * 2 span(s) arrived:
 *   trace 4bf92f3577b34da6a3ce929d0e0e4736:
 *     - SERVER "GET" span=… parent=… service=proxy
 *     - CLIENT "GET" span=… parent=… service=proxy
 * ```
 *
 * @module
 */
export {
  startTraceReceiver,
  type TraceReceiver,
  type TraceReceiverOptions,
  type WaitForTraceOptions,
} from "./receiver.ts";
export type { WaitOptions } from "./span_collector.ts";
export type { ReceivedTrace } from "./trace.ts";
export { newTraceparent, type TestTraceparent, type TraceparentOptions } from "./traceparent.ts";
export {
  type HeaderGetter,
  type HeaderSource,
  type ResponseTrace,
  traceOfResponse,
} from "./handback.ts";
export type {
  Attributes,
  AttrValue,
  DecodedSpan,
  InstrumentationScope,
  SpanEvent,
  SpanKindName,
  SpanLink,
  SpanStatus,
  StatusCodeName,
} from "../viewer/otlp/spans.ts";
export type { SpanNode } from "../viewer/tree.ts";
