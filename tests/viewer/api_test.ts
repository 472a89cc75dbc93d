/**
 * The viewer's JSON API, fed by the tracegate middleware in a real Hono app: listing newest first,
 * searching by trace id, request id and attribute value, and one trace's spans.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { startViewer } from "../../viewer/server.ts";
import { serve } from "../support/servers.ts";
import { watchSettled } from "../support/viewer_traces.ts";

const ORDERS = [
  { id: "ord-1001", requestId: "req-alpha" },
  { id: "ord-2002", requestId: "req-beta" },
  { id: "ord-3003", requestId: "req-gamma" },
];

/** The trace id the middleware hands back in `Server-Timing: traceparent;desc="00-…"`. */
function handedBackTraceId(response: Response): string {
  const match = /traceparent;desc="00-([0-9a-f]{32})-/.exec(
    response.headers.get("server-timing") ?? "",
  );
  assert.ok(match, `no traceparent in Server-Timing: ${response.headers.get("server-timing")}`);
  return match[1];
}

async function setup() {
  const viewer = await startViewer({ port: 0 });
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    env: { OTEL_SERVICE_NAME: "shop", OTEL_EXPORTER_OTLP_ENDPOINT: viewer.url },
    registerGlobals: false,
  }));
  app.get("/orders/:id", (c) => c.json({ id: c.req.param("id"), requestId: c.var.requestId }));
  const server = serve((request, info) => app.fetch(request, info));

  const settled = watchSettled(viewer.store);
  const traceIds: string[] = [];
  for (const order of ORDERS) {
    const response = await fetch(`${server.url}/orders/${order.id}`, {
      headers: { "x-request-id": order.requestId },
    });
    assert.equal((await response.json()).requestId, order.requestId);
    traceIds.push(handedBackTraceId(response));
  }
  await settled.until((traces) => traceIds.every((id) => traces.has(id)));
  settled[Symbol.dispose]();
  return {
    viewer,
    traceIds,
    async search(query: string): Promise<string[]> {
      const response = await fetch(`${viewer.url}/api/traces?q=${encodeURIComponent(query)}`);
      assert.equal(response.status, 200);
      const body = await response.json();
      return body.traces.map((trace: { traceId: string }) => trace.traceId);
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await viewer.close();
    },
  };
}

Deno.test("the viewer's API", async (t) => {
  await using fixture = await setup();
  const { viewer, traceIds, search } = fixture;
  const [alpha, beta, gamma] = traceIds;

  await t.step("lists summaries newest first, bigint times as strings", async () => {
    const body = await (await fetch(`${viewer.url}/api/traces`)).json();
    assert.deepStrictEqual(body.traces.map((trace: { traceId: string }) => trace.traceId), [
      gamma,
      beta,
      alpha,
    ]);
    assert.deepStrictEqual([body.matched, body.stored, body.evicted], [3, 3, 0]);
    const [newest] = body.traces;
    assert.equal(newest.rootName, "GET /orders/:id");
    assert.deepStrictEqual(newest.services, ["shop"]);
    assert.deepStrictEqual(newest.requestIds, ["req-gamma"]);
    assert.deepStrictEqual([newest.spanCount, newest.errorCount], [1, 0]);
    assert.match(newest.startTimeUnixNano, /^\d{19}$/);
    assert.match(newest.durationNano, /^\d+$/);
  });

  await t.step("searches by trace id, in full or by prefix, in any case", async () => {
    assert.deepStrictEqual(await search(beta), [beta]);
    assert.deepStrictEqual(await search(beta.slice(0, 12).toUpperCase()), [beta]);
  });

  await t.step("searches by request id (X-Request-ID)", async () => {
    assert.deepStrictEqual(await search("req-beta"), [beta]);
    assert.deepStrictEqual(await search("req-"), [gamma, beta, alpha]);
  });

  await t.step("searches by any attribute value, as a substring", async () => {
    assert.deepStrictEqual(await search("ord-3003"), [gamma], "url.path");
    assert.deepStrictEqual(await search("shop"), [gamma, beta, alpha], "service.name");
    assert.deepStrictEqual(await search("no such value"), []);
  });

  await t.step("limit bounds the list, matched counts all", async () => {
    const body = await (await fetch(`${viewer.url}/api/traces?q=req-&limit=2`)).json();
    assert.deepStrictEqual(body.traces.map((trace: { traceId: string }) => trace.traceId), [
      gamma,
      beta,
    ]);
    assert.equal(body.matched, 3);
    const bad = await fetch(`${viewer.url}/api/traces?limit=none`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  await t.step("GET /api/traces/:traceId: every span, as waterfall rows", async () => {
    const response = await fetch(`${viewer.url}/api/traces/${alpha}`);
    assert.equal(response.status, 200);
    const { summary, spans } = await response.json();
    assert.equal(summary.traceId, alpha);
    assert.equal(spans.length, 1);
    const [span] = spans;
    assert.equal(span.traceId, alpha);
    assert.equal(span.spanId, summary.rootSpanId);
    assert.deepStrictEqual([span.depth, span.service, span.kind], [0, "shop", "SERVER"]);
    assert.equal(span.attributes["tracegate.request.id"], "req-alpha");
    assert.equal(span.attributes["url.path"], "/orders/ord-1001");
    assert.equal(span.attributes["http.response.status_code"], 200);
    assert.ok(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano));
  });

  await t.step("an unknown trace id is 404", async () => {
    const response = await fetch(`${viewer.url}/api/traces/${"0".repeat(32)}`);
    assert.equal(response.status, 404);
    assert.match((await response.json()).error, /no such trace/);
  });
});
