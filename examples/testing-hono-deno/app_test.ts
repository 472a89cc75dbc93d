// The app under Deno.test, served by Deno.serve on 127.0.0.1 like in production.
import assert from "node:assert/strict";
import { newTraceparent, startTraceReceiver, traceOfResponse } from "@tracegate/tracegate/testing";
import { createApp } from "./app.ts";

/** The stock service answers with the trace context it was called with. */
function startStock(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => Response.json({ traceparent: request.headers.get("traceparent") }),
  );
}

async function startChain() {
  const receiver = await startTraceReceiver();
  const stock = startStock();
  const stockUrl = `http://127.0.0.1:${stock.addr.port}`;
  const app = createApp({
    stockUrl,
    env: { OTEL_SERVICE_NAME: "orders", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  return {
    receiver,
    stockUrl,
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await stock.shutdown();
      await receiver.close();
    },
  };
}

Deno.test("GET /orders/:id continues the caller's trace and carries it to the stock service", async () => {
  await using chain = await startChain();
  const caller = newTraceparent();
  const response = await fetch(`${chain.url}/orders/42`, {
    headers: { traceparent: caller.header },
  });
  const body = await response.json();

  const trace = await chain.receiver.waitForTrace(caller.traceId, { spans: 2 });
  assert.equal(trace.outline(), "SERVER orders GET /orders/:id\n  CLIENT orders GET");
  const [server] = trace.roots;
  const client = server.children[0];
  assert.equal(server.span.parentSpanId, caller.parentId);
  assert.equal(server.span.attributes["http.response.status_code"], 200);
  assert.equal(client.span.attributes["url.full"], `${chain.stockUrl}/items/42`);
  // Handed back to the caller; sent on to the stock service with the CLIENT span as parent.
  assert.equal(traceOfResponse(response)?.spanId, server.span.spanId);
  assert.equal(body.stock.traceparent, `00-${caller.traceId}-${client.span.spanId}-01`);
});

Deno.test("an unsampled caller: the decision travels on, nothing is handed back sampled", async () => {
  await using chain = await startChain();
  const caller = newTraceparent({ sampled: false });
  const response = await fetch(`${chain.url}/orders/7`, {
    headers: { traceparent: caller.header },
  });
  const body = await response.json();
  assert.match(body.stock.traceparent, new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-00$`));
  assert.equal(traceOfResponse(response)?.sampled ?? false, false);
});
