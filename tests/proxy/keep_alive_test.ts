/**
 * What the proxy hands the runtime's `waitUntil` (Workers: `ctx.waitUntil`), with the proxy run
 * in-process against a real upstream and a collector that holds each export until released.
 */
import assert from "node:assert/strict";
import { createProxy, type Proxy, type ProxyRequestInfo } from "../../proxy/app.ts";
import { caller } from "../support/proxy_checks.ts";
import { type HoldingCollector, holdingCollector } from "../support/holding_collector.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve } from "../support/servers.ts";

interface HoldingProxy {
  readonly proxy: Proxy;
  readonly collector: HoldingCollector;
  readonly receiver: OtlpReceiver;
}

/** The proxy in-process, between a real upstream and a collector that holds each export. */
async function withHoldingProxy(run: (stack: HoldingProxy) => Promise<void>): Promise<void> {
  await using receiver = await startOtlpReceiver();
  await using collector = holdingCollector(receiver);
  await using upstream = serve(() => new Response("ok"));
  const proxy = createProxy({
    TRACEGATE_UPSTREAM: upstream.url,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.tracesUrl,
    // A window that both requests surely end within, however slow the machine.
    OTEL_BSP_SCHEDULE_DELAY: "2000",
  }, { log: () => {} });
  try {
    await run({ proxy, collector, receiver });
  } finally {
    await proxy.shutdown();
  }
}

/** Two sampled requests, "first" then "second", each read to its end. */
async function sendTwoSampled(proxy: Proxy, info: ProxyRequestInfo): Promise<void> {
  for (const requestId of ["first", "second"]) {
    const response = await proxy.handle(
      new Request(`http://proxy.test/${requestId}`, {
        headers: { traceparent: caller("01").traceparent, "x-request-id": requestId },
      }),
      info,
    );
    assert.equal(await response.text(), "ok");
  }
}

Deno.test("only the request that started an export is kept alive until it is done", () =>
  withHoldingProxy(async ({ proxy, collector, receiver }) => {
    const keptAlive: Promise<unknown>[] = [];
    const info = { waitUntil: (work: Promise<unknown>) => keptAlive.push(work) };
    // Both end within the export's gathering window: the first one's flush starts the export.
    await sendTwoSampled(proxy, info);
    assert.equal(keptAlive.length, 2);
    let firstDone = false;
    keptAlive[0].then(() => (firstDone = true));

    // The second request's work ends with its body: it does not wait for the held export.
    const before = await Promise.race([
      keptAlive[1].then(() => "second done"),
      collector.arrived.then(() => "export held"),
    ]);
    assert.equal(before, "second done");
    await collector.arrived;
    assert.equal(firstDone, false, "the request that started the export did not wait for it");

    collector.release();
    await keptAlive[0];
    // Every span is delivered all the same: two SERVER and two CLIENT spans in the one export.
    await receiver.waitForSpans((all) => all.length === 4);
    assert.equal(collector.held, 1);
  }));

Deno.test("a request whose body has ended when its response is handed on is kept alive only if it started the export", () =>
  withHoldingProxy(async ({ proxy, collector, receiver }) => {
    const keptAlive: Promise<unknown>[] = [];
    const info = {
      waitUntil: (work: Promise<unknown>) => keptAlive.push(work),
      // As workerd's read-ahead of a small body that arrives whole.
      readAhead: async (response: Response) => {
        const body = await response.arrayBuffer();
        return { body, ended: { kind: "complete", bytes: body.byteLength } as const };
      },
    };
    await sendTwoSampled(proxy, info);
    // Only the first request's flush started the export: the second one had nothing left to do.
    assert.equal(keptAlive.length, 1);
    let exported = false;
    keptAlive[0].then(() => (exported = true));
    await collector.arrived;
    assert.equal(exported, false, "the request that started the export did not wait for it");
    collector.release();
    await keptAlive[0];
    await receiver.waitForSpans((all) => all.length === 4);
  }));
