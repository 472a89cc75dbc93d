/**
 * What the proxy's spans say when forwarding fails once the upstream call is under way, with the
 * proxy in-process between a real upstream and a real OTLP receiver: the failure is given by the
 * runtime's read-ahead hook (workerd's, in production) or by a `fetch` option that hands back a
 * response whose body it has already read, both inputs of the proxy.
 */
import assert from "node:assert/strict";
import { createProxy } from "../../proxy/app.ts";
import { caller, only, withRequestId } from "../support/proxy_checks.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve } from "../support/servers.ts";

const SERVICE = "failing-proxy";

Deno.test("an error after the upstream call started ends its CLIENT span with the error", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using upstream = serve(() => new Response("ok"));
  const logged: string[] = [];
  const proxy = createProxy({
    TRACEGATE_UPSTREAM: upstream.url,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl,
    OTEL_SERVICE_NAME: SERVICE,
    OTEL_BSP_SCHEDULE_DELAY: "50",
    // A slowness rule: an untraced request's body is then waited for (read ahead) as well.
    TRACEGATE_TAIL_SLOWER_THAN_MS: "60000",
  }, { log: (line) => logged.push(line) });
  const info = {
    readAhead: (response: Response) => {
      response.body?.cancel();
      return Promise.reject(new Error("read-ahead broke"));
    },
  };
  try {
    // Sampled by the caller, and kept by the error rule when it was not.
    for (const flags of ["01", "00"] as const) {
      await t.step(`caller flags ${flags}`, async () => {
        const id = `failed-after-start-${flags}`;
        const response = await proxy.handle(
          new Request("http://proxy.test/orders", {
            headers: { traceparent: caller(flags).traceparent, "x-request-id": id },
          }),
          info,
        );
        assert.equal(response.status, 500);
        assert.equal(await response.text(), `500 Internal Server Error\nrequest id: ${id}\n`);

        const spans = withRequestId(
          await receiver.waitForSpans((all) => withRequestId(all, id).length === 2),
          id,
        );
        const server = only(spans, SERVICE, "SERVER");
        const client = only(spans, SERVICE, "CLIENT");
        assert.equal(client.parentSpanId, server.spanId);
        assert.equal(server.status.code, "ERROR");
        if (flags === "00") assert.equal(server.attributes["tracegate.sampling.reason"], "error");
        assert.equal(client.status.code, "ERROR");
        assert.equal(client.status.message, "read-ahead broke");
        assert.equal(client.attributes["error.type"], "Error");
        assert.equal(client.attributes["http.response.status_code"], 200);
        assert.ok(client.endTimeUnixNano <= server.endTimeUnixNano);
        assert.ok(logged.some((line) => line.includes(id) && line.includes("read-ahead broke")));
      });
    }
  } finally {
    await proxy.shutdown();
  }
});

Deno.test("an untraced request failing once the call is under way is kept with both its spans", async () => {
  await using receiver = await startOtlpReceiver();
  await using upstream = serve(() => new Response("ok"));
  const proxy = createProxy({
    TRACEGATE_UPSTREAM: upstream.url,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl,
    OTEL_SERVICE_NAME: SERVICE,
    OTEL_BSP_SCHEDULE_DELAY: "50",
  }, {
    log: () => {},
    // A send that reads the body before handing the response on: relaying it then throws.
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      await response.text();
      return response;
    },
  });
  try {
    const id = "read-by-send";
    // Untraced, and the default tail rule (errors) only: the spans wait until the error shows.
    const response = await proxy.handle(
      new Request("http://proxy.test/orders", {
        headers: { traceparent: caller("00").traceparent, "x-request-id": id },
      }),
    );
    assert.equal(response.status, 500);
    await response.body?.cancel();

    const spans = withRequestId(
      await receiver.waitForSpans((all) => withRequestId(all, id).length === 2),
      id,
    );
    const server = only(spans, SERVICE, "SERVER");
    const client = only(spans, SERVICE, "CLIENT");
    assert.equal(server.attributes["tracegate.sampling.reason"], "error");
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.status.code, "ERROR");
    assert.equal(client.attributes["error.type"], "TypeError");
    assert.equal(client.attributes["http.response.status_code"], 200);
  } finally {
    await proxy.shutdown();
  }
});
