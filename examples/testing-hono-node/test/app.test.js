// The app under node:test (Node 20+, or `bun test`), served by @hono/node-server on 127.0.0.1.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { serve } from "@hono/node-server";
import { newTraceparent, startTraceReceiver, traceOfResponse } from "@tracegate/tracegate/testing";
import { createApp } from "../src/app.js";

let receiver, stock, app;

before(async () => {
  receiver = await startTraceReceiver();
  stock = await listen(createServer((request, response) => {
    // The stock service answers with the trace context it was called with.
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ traceparent: request.headers.traceparent ?? null }));
  }));
  const hono = createApp({
    stockUrl: stock.url,
    env: { OTEL_SERVICE_NAME: "orders", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
  });
  app = await new Promise((resolve) => {
    const server = serve(
      { fetch: hono.fetch, hostname: "127.0.0.1", port: 0 },
      () => resolve(running(server)),
    );
  });
});

after(async () => {
  await app.close();
  await stock.close();
  await receiver.close();
});

test("GET /orders/:id continues the caller's trace and carries it to the stock service", async () => {
  const caller = newTraceparent();
  const response = await fetch(`${app.url}/orders/42`, { headers: { traceparent: caller.header } });
  const body = await response.json();

  const trace = await receiver.waitForTrace(caller.traceId, { spans: 2 });
  assert.equal(trace.outline(), "SERVER orders GET /orders/:id\n  CLIENT orders GET");
  const [server] = trace.roots;
  const client = server.children[0];
  assert.equal(server.span.parentSpanId, caller.parentId);
  assert.equal(server.span.attributes["http.response.status_code"], 200);
  assert.equal(client.span.attributes["url.full"], `${stock.url}/items/42`);
  // Handed back to the caller; sent on to the stock service with the CLIENT span as parent.
  assert.equal(traceOfResponse(response)?.spanId, server.span.spanId);
  assert.equal(body.stock.traceparent, `00-${caller.traceId}-${client.span.spanId}-01`);
});

test("an unsampled caller: the decision travels on, nothing is handed back sampled", async () => {
  const caller = newTraceparent({ sampled: false });
  const response = await fetch(`${app.url}/orders/7`, { headers: { traceparent: caller.header } });
  const body = await response.json();
  assert.match(body.stock.traceparent, new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-00$`));
  assert.equal(traceOfResponse(response)?.sampled ?? false, false);
});

/** Starts a node:http server on 127.0.0.1 and a free port. */
function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(running(server))));
}

function running(server) {
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((done) => {
        server.close(done);
        server.closeAllConnections(); // fetch keeps connections alive
      }),
  };
}
