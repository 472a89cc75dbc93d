/**
 * The middleware inside a Worker run by workerd (Miniflare), built as `wrangler deploy` builds it:
 * configuration from the Worker's bindings, the active context carried by AsyncLocalStorage, and
 * spans exported in `waitUntil` after the response, to a real OTLP/HTTP receiver.
 */
import assert from "node:assert/strict";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { echoServer, serve } from "../support/servers.ts";
import { buildWorker, startWorker } from "../support/worker.ts";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const CALLER = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

const withPath = (path: string) => (span: DecodedSpan) =>
  span.kind === "SERVER" && span.attributes["url.path"] === path;

/** The server span id the response hands back in its Server-Timing entry. */
function handedBackSpanId(response: Response): string {
  const match = response.headers.get("server-timing")?.match(
    /^traceparent;desc="00-[0-9a-f]{32}-([0-9a-f]{16})-0[0-3]"$/,
  );
  assert.ok(match, `no traceparent in Server-Timing: ${response.headers.get("server-timing")}`);
  return match[1];
}

Deno.test("worker: the middleware in workerd, configured by bindings", async (t) => {
  const built = await buildWorker("tests/fixtures/middleware_worker/wrangler.toml");
  await using receiver = await startOtlpReceiver();
  await using echo = echoServer();
  await using bodies = bodyServer();
  await using worker = await startWorker(built, {
    OTEL_SERVICE_NAME: "middleware-worker",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
    TRACEGATE_CAPTURE_REQUEST_HEADERS: "x-tenant",
    DOWNSTREAM: echo.url,
    BODIES: bodies.url,
  });
  const get = (path: string, headers: HeadersInit = {}) =>
    fetch(new URL(path, worker.url), { headers });
  const spansWith = (predicate: (spans: readonly DecodedSpan[]) => boolean) =>
    receiver.waitForSpans(predicate, { timeoutMs: 10_000 }).catch((error) => {
      throw new Error(`${error.message}\nworker output:\n${worker.logs.join("")}`);
    });

  await t.step("continues the caller's trace; hands back the span and request id", async () => {
    const response = await get("/hello/ada", {
      traceparent: CALLER,
      "x-request-id": "worker-req-1",
      "x-tenant": "acme",
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hello ada");
    assert.equal(response.headers.get("x-request-id"), "worker-req-1");
    const spanId = handedBackSpanId(response);

    const spans = await spansWith((all) => all.some(withPath("/hello/ada")));
    const span = spans.find(withPath("/hello/ada"))!;
    assert.equal(span.spanId, spanId);
    assert.equal(span.name, "GET /hello/:name");
    assert.equal(span.traceId, CALLER_TRACE);
    assert.equal(span.parentSpanId, CALLER_SPAN);
    assert.equal(span.attributes["http.route"], "/hello/:name");
    assert.equal(span.attributes["http.response.status_code"], 200);
    assert.equal(span.attributes["tracegate.request.id"], "worker-req-1");
    assert.deepEqual(span.attributes["http.request.header.x-tenant"], ["acme"]);
    assert.equal(span.resourceAttributes["service.name"], "middleware-worker");
  });

  await t.step("a traced call onward is a CLIENT span carried in traceparent", async () => {
    const response = await get("/fanout", { traceparent: CALLER });
    const onward = await response.json();
    const requestId = response.headers.get("x-request-id");
    assert.equal(onward.headers["x-request-id"], requestId);

    const spans = await spansWith((all) =>
      all.some(withPath("/fanout")) && all.some((s) => s.kind === "CLIENT")
    );
    const server = spans.find(withPath("/fanout"))!;
    const client = spans.find((s) => s.kind === "CLIENT")!;
    assert.equal(server.spanId, handedBackSpanId(response));
    assert.equal(server.parentSpanId, CALLER_SPAN);
    assert.equal(client.traceId, CALLER_TRACE);
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.attributes["url.full"], `${echo.url}/onward`);
    assert.equal(client.attributes["http.response.status_code"], 200);
    assert.equal(onward.headers.traceparent, `00-${CALLER_TRACE}-${client.spanId}-01`);
  });

  await t.step("a span from the global tracer nests under the request's span", async () => {
    const response = await get("/nested");
    assert.deepEqual(await response.json(), { activeIsServerSpan: true });
    const spans = await spansWith((all) =>
      all.some(withPath("/nested")) && all.some((s) => s.name === "nested work")
    );
    const server = spans.find(withPath("/nested"))!;
    const nested = spans.find((s) => s.name === "nested work")!;
    assert.equal(nested.traceId, server.traceId);
    assert.equal(nested.parentSpanId, server.spanId);
  });

  await t.step("a collector answering 503 fails no request; the retry delivers", async () => {
    const before = receiver.requests.length;
    receiver.respondWith(503, { "retry-after": "1" }, { times: 1 });
    const response = await get("/hello/busy");
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hello busy");
    await spansWith((all) => all.some(withPath("/hello/busy")));
    const refused = receiver.requests.slice(before).filter((request) => request.status === 503);
    assert.equal(refused.length, 1);
    assert.ok(refused[0].spanCount > 0);
  });

  await t.step("the span ends when workerd's native pipe has sent the last byte", async () => {
    const response = await get("/relay/held", PLAIN);
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "first;");
    // A whole request served while the body is held open: the held span must end after it.
    await (await get("/hello/meanwhile")).text();
    await spansWith((all) => all.some(withPath("/hello/meanwhile")));
    bodies.release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    assert.equal(rest, "last");
    const spans = await spansWith((all) => all.some(withPath("/relay/held")));
    const held = spans.find(withPath("/relay/held"))!;
    const meanwhile = spans.find(withPath("/hello/meanwhile"))!;
    assert.ok(held.endTimeUnixNano > meanwhile.endTimeUnixNano, "ended before its body was sent");
    assert.equal(held.attributes["tracegate.response.cancelled"], undefined);
    assert.equal(held.status.code, "UNSET");
  });

  await t.step("a body that fails mid-stream marks the span an error", async () => {
    const response = await get("/relay/broken", PLAIN);
    // Miniflare's entry Worker ends the client's body cleanly; the Worker saw the failure.
    await response.arrayBuffer().catch(() => {});
    const spans = await spansWith((all) => all.some(withPath("/relay/broken")));
    const broken = spans.find(withPath("/relay/broken"))!;
    assert.equal(broken.status.code, "ERROR");
    assert.equal(broken.attributes["tracegate.response.cancelled"], undefined);
  });

  await t.step("a fetched gzip response passed on as it is arrives whole", async () => {
    // workerd's fetch decodes it but keeps the compressed Content-Length: the length the pipe
    // takes must not be that one.
    const response = await get("/as-fetched/gzipped", { "accept-encoding": "gzip" });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), GZIPPED_TEXT);
    const spans = await spansWith((all) => all.some(withPath("/as-fetched/gzipped")));
    assert.equal(spans.find(withPath("/as-fetched/gzipped"))!.status.code, "UNSET");
  });

  await t.step("a client that goes away mid-body ends the span", async () => {
    const response = await get("/relay/endless", PLAIN);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const spans = await spansWith((all) => all.some(withPath("/relay/endless")));
    const endless = spans.find(withPath("/relay/endless"))!;
    // workerd cancels the request's own fetch as the client leaves, so the pipe's source fails
    // first: the span ends, with that error (src: middleware/runtime/workerd.ts).
    assert.ok(endless.endTimeUnixNano > endless.startTimeUnixNano);
  });
});

/** Uncompressed: workerd's gzip would hold a small chunk back until more arrives. */
const PLAIN = { "accept-encoding": "identity" };

const GZIPPED_TEXT = "tracegate ".repeat(200);

/** `GZIPPED_TEXT` gzip-encoded, with the compressed length declared. */
async function gzipped(): Promise<Response> {
  const stream = new Blob([GZIPPED_TEXT]).stream().pipeThrough(new CompressionStream("gzip"));
  const bytes = await new Response(stream).bytes();
  return new Response(bytes, {
    headers: {
      "content-encoding": "gzip",
      "content-length": String(bytes.byteLength),
      "content-type": "text/plain",
    },
  });
}

/**
 * Bodies on 127.0.0.1 for the Worker to relay: `held` sends "first;" and "last" once released,
 * `broken` fails after "first;", `endless` never ends, `gzipped` is `GZIPPED_TEXT` compressed.
 */
function bodyServer() {
  const released = Promise.withResolvers<void>();
  const encode = (text: string) => new TextEncoder().encode(text);
  const server = serve((request) => {
    const name = new URL(request.url).pathname.slice(1);
    if (name === "gzipped") return gzipped();
    let step = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (step++ === 0 && name !== "endless") return controller.enqueue(encode("first;"));
          if (name === "held") {
            await released.promise;
            controller.enqueue(encode("last"));
            controller.close();
          } else if (name === "broken") {
            controller.error(new Error("body broke"));
          } else {
            controller.enqueue(new Uint8Array(64 * 1024));
          }
        },
      }, { highWaterMark: 0 }),
    );
  });
  const close = () => {
    released.resolve();
    return server.close();
  };
  return { url: server.url, release: released.resolve, [Symbol.asyncDispose]: close };
}
