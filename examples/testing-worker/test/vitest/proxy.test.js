// The same chain under vitest: the testing API returns plain values, so `expect` needs no matchers.
import { afterAll, beforeAll, expect, test } from "vitest";
import { newTraceparent, traceOfResponse } from "@tracegate/tracegate/testing";
import { startProxyChain } from "../setup.js";

let chain;
beforeAll(async () => (chain = await startProxyChain()));
afterAll(() => chain.close());

test("a sampled request: caller → proxy SERVER → proxy CLIENT → upstream, handed back", async () => {
  const caller = newTraceparent();
  const response = await chain.worker.dispatchFetch("http://shop.test/orders/42", {
    headers: { traceparent: caller.header },
  });
  expect(await response.text()).toBe("upstream says hi");

  const trace = await chain.receiver.waitForTrace(caller.traceId, { spans: 2 });
  expect(trace.outline()).toBe("SERVER shop-proxy GET\n  CLIENT shop-proxy GET");
  const [server] = trace.roots;
  const client = server.children[0];
  expect(server.span.parentSpanId).toBe(caller.parentId);
  expect(traceOfResponse(response)?.spanId).toBe(server.span.spanId);

  const forwarded = chain.upstream.requests.find((request) => request.url === "/orders/42");
  expect(forwarded.headers.traceparent).toBe(`00-${caller.traceId}-${client.span.spanId}-01`);
});
