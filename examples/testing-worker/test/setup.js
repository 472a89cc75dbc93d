// What both test files start: the OTLP receiver, an upstream on 127.0.0.1 that records the
// headers it gets, and the built Worker in workerd, forwarding to the one and exporting to the other.
import { createServer } from "node:http";
import { Miniflare } from "miniflare";
import { startTraceReceiver } from "@tracegate/tracegate/testing";

export async function startProxyChain() {
  const receiver = await startTraceReceiver();
  const upstream = await startUpstream();
  const worker = new Miniflare({
    modules: true,
    scriptPath: "dist/index.js",
    compatibilityDate: "2026-07-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: {
      OTEL_SERVICE_NAME: "shop-proxy",
      TRACEGATE_UPSTREAM: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    },
  });
  await worker.ready;
  return {
    receiver,
    upstream,
    worker,
    async close() {
      await worker.dispose();
      await upstream.close();
      await receiver.close();
    },
  };
}

/** Answers every request with 200 and keeps the headers it came with. */
function startUpstream() {
  const requests = [];
  const server = createServer((request, response) => {
    requests.push({ url: request.url, headers: request.headers });
    response.end("upstream says hi");
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}
