// The proxy Worker, built as `wrangler deploy` builds it, in workerd, under node:test.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { newTraceparent, traceOfResponse } from "@tracegate/tracegate/testing";
import { startProxyChain } from "../setup.js";

let chain;
before(async () => (chain = await startProxyChain()));
after(() => chain.close());

test("a sampled request: caller → proxy SERVER → proxy CLIENT → upstream, handed back", async () => {
  const caller = newTraceparent();
  const response = await chain.worker.dispatchFetch("http://shop.test/orders/42", {
    headers: { traceparent: caller.header },
  });
  assert.equal(await response.text(), "upstream says hi");

  const trace = await chain.receiver.waitForTrace(caller.traceId, { spans: 2 });
  assert.equal(trace.outline(), "SERVER shop-proxy GET\n  CLIENT shop-proxy GET");
  const [server] = trace.roots;
  const client = server.children[0];
  assert.equal(server.span.parentSpanId, caller.parentId);
  assert.equal(traceOfResponse(response)?.spanId, server.span.spanId);

  // The upstream's parent is the proxy's CLIENT span, in the caller's trace.
  const forwarded = chain.upstream.requests.find((request) => request.url === "/orders/42");
  assert.equal(forwarded.headers.traceparent, `00-${caller.traceId}-${client.span.spanId}-01`);
});

test("an unsampled request is forwarded with the caller's decision, nothing handed back sampled", async () => {
  const caller = newTraceparent({ sampled: false });
  const response = await chain.worker.dispatchFetch("http://shop.test/orders/43", {
    headers: { traceparent: caller.header },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const forwarded = chain.upstream.requests.find((request) => request.url === "/orders/43");
  assert.match(forwarded.headers.traceparent, new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-00$`));
  assert.equal(traceOfResponse(response)?.sampled ?? false, false);
});
