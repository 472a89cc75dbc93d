/**
 * The middleware in a Hono app served by a real Deno.serve on 127.0.0.1, called with real fetch,
 * exporting to a real OTLP/HTTP receiver that decodes what arrives.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { echoServer, serve } from "../support/servers.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

interface Echo {
  headers: Record<string, string>;
}

async function setup() {
  const receiver = await startOtlpReceiver();
  const downstream = echoServer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    env: {
      OTEL_SERVICE_NAME: "middleware-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
    },
    baggageAttributes: ["job.id", "user.id"],
    registerGlobals: false,
    captureRequestHeaders: ["x-custom", "authorization", "cookie"],
    captureResponseHeaders: ["x-reply", "set-cookie"],
    sensitiveQueryParams: ["token"],
    traceResponse: true,
  }));
  app.get("/users/:id", (c) => {
    c.header("x-reply", "yes");
    c.header("set-cookie", "a=b");
    return c.json({ id: c.req.param("id"), requestId: c.var.requestId });
  });
  app.get("/fanout", async (c) => {
    const calls = await Promise.all(
      [1, 2, 3].map((n) => c.var.tracedFetch(`${downstream.url}/n/${n}`)),
    );
    return c.json(await Promise.all(calls.map((r) => r.json() as Promise<Echo>)));
  });
  app.get("/boom", () => {
    throw new Error("kaboom");
  });
  app.get("/unavailable", (c) => c.text("try later", 503));
  app.get("/stream", () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode("first;"));
        await gate;
        controller.enqueue(encoder.encode("last"));
        controller.close();
      },
    });
    return new Response(body);
  });
  app.on("PURGE", "/cache", (c) => c.text("purged"));
  const server = serve((request, info) => app.fetch(request, info));
  return {
    receiver,
    downstream,
    server,
    release,
    async [Symbol.asyncDispose]() {
      await server.close();
      await downstream.close();
      await receiver.close();
    },
  };
}

const byName = (name: string) => (spans: readonly DecodedSpan[]) =>
  spans.some((span) => span.name === name);
const named = (name: string) => (span: DecodedSpan) => span.name === name;

Deno.test("middleware: continues the caller's trace and records the server span", async (t) => {
  await using env = await setup();
  const { receiver, server } = env;

  await t.step("child of the caller, semantic conventions, request id, hand-back", async () => {
    const response = await fetch(`${server.url}/users/42?sig=secret&token=t0k&plain=1`, {
      headers: {
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-03`,
        tracestate: "vendor=abc,other@sys=1",
        "x-request-id": "caller-id-1",
        "user-agent": "tracegate-test/1.0",
        "x-custom": "custom-value",
        authorization: "Bearer nope",
        cookie: "s=1",
      },
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.requestId, "caller-id-1");
    assert.equal(response.headers.get("x-request-id"), "caller-id-1");

    const spans = await receiver.waitForSpans(byName("GET /users/:id"), { timeoutMs: 5000 });
    const span = spans.find((s) => s.name === "GET /users/:id")!;
    assert.equal(span.kind, "SERVER");
    assert.equal(span.traceId, CALLER_TRACE);
    assert.equal(span.parentSpanId, CALLER_SPAN);
    assert.equal(span.traceState, "vendor=abc,other@sys=1");
    const a = span.attributes;
    assert.equal(a["http.request.method"], "GET");
    assert.equal(a["http.route"], "/users/:id");
    assert.equal(a["url.path"], "/users/42");
    assert.equal(a["url.query"], "sig=REDACTED&token=REDACTED&plain=1");
    assert.equal(a["url.scheme"], "http");
    assert.equal(a["server.address"], "127.0.0.1");
    assert.equal(a["server.port"], server.port);
    assert.equal(a["client.address"], "127.0.0.1");
    assert.equal(a["user_agent.original"], "tracegate-test/1.0");
    assert.equal(a["http.response.status_code"], 200);
    assert.equal(a["tracegate.request.id"], "caller-id-1");
    assert.deepEqual(a["http.request.header.x-custom"], ["custom-value"]);
    assert.deepEqual(a["http.response.header.x-reply"], ["yes"]);
    for (const secret of ["authorization", "cookie"]) {
      assert.equal(a[`http.request.header.${secret}`], undefined);
    }
    assert.equal(a["http.response.header.set-cookie"], undefined);
    assert.equal(span.status.code, "UNSET");
    assert.equal(span.resourceAttributes["service.name"], "middleware-test");
    assert.equal(span.resourceAttributes["deployment.environment.name"], "test");

    // The trace handed back names the server span, with the random flag kept.
    const handedBack = `00-${CALLER_TRACE}-${span.spanId}-03`;
    assert.equal(response.headers.get("server-timing"), `traceparent;desc="${handedBack}"`);
    assert.equal(response.headers.get("traceresponse"), handedBack);
  });

  await t.step(
    "an invalid incoming request id is replaced, a valid generated one echoed",
    async () => {
      const response = await fetch(`${server.url}/users/1`, {
        headers: { "x-request-id": "bad id with spaces" },
      });
      const body = await response.json();
      assert.notEqual(body.requestId, "bad id with spaces");
      assert.match(body.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get("x-request-id"), body.requestId);
    },
  );

  await t.step(
    "a request without context starts a sampled trace (parentbased_always_on)",
    async () => {
      const response = await fetch(`${server.url}/users/7`);
      await response.body?.cancel();
      const serverTiming = response.headers.get("server-timing")!;
      const [, traceId, spanId, flags] = serverTiming.match(/desc="00-(\w{32})-(\w{16})-(\w{2})"/)!;
      assert.equal(flags, "03");
      const spans = await receiver.waitForSpans(
        (all) => all.some((s) => s.spanId === spanId),
        { timeoutMs: 5000 },
      );
      const span = spans.find((s) => s.spanId === spanId)!;
      assert.equal(span.traceId, traceId);
      assert.equal(span.parentSpanId, "");
    },
  );

  await t.step(
    "an unsampled caller: nothing exported, valid context with its random flag",
    async () => {
      const before = receiver.spans.length;
      const response = await fetch(`${server.url}/users/8`, {
        headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-02` },
      });
      await response.body?.cancel();
      const serverTiming = response.headers.get("server-timing")!;
      assert.match(serverTiming, new RegExp(`desc="00-${CALLER_TRACE}-[0-9a-f]{16}-02"`));
      assert.doesNotMatch(serverTiming, new RegExp(CALLER_SPAN));
      // A sampled request made after it is exported; the unsampled one never is.
      const marker = await fetch(`${server.url}/users/marker`);
      await marker.body?.cancel();
      await receiver.waitForSpans(
        (all) => all.some((s) => s.attributes["url.path"] === "/users/marker"),
        { timeoutMs: 5000 },
      );
      assert.equal(
        receiver.spans.slice(before).filter((s) => s.attributes["url.path"] === "/users/8").length,
        0,
      );
    },
  );
});

Deno.test("middleware: status rules, thrown errors, unknown methods", async () => {
  await using env = await setup();
  const { receiver, server } = env;
  const boom = await fetch(`${server.url}/boom`);
  assert.equal(boom.status, 500);
  await boom.body?.cancel();
  const unavailable = await fetch(`${server.url}/unavailable`);
  assert.equal(unavailable.status, 503);
  await unavailable.body?.cancel();
  const missing = await fetch(`${server.url}/no/such/route`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const purge = await fetch(`${server.url}/cache`, { method: "PURGE" });
  assert.equal(await purge.text(), "purged");

  const spans = await receiver.waitForSpans((all) => all.length >= 4, { timeoutMs: 5000 });
  const find = (path: string) => spans.find((s) => s.attributes["url.path"] === path)!;

  const thrown = find("/boom");
  assert.equal(thrown.name, "GET /boom");
  assert.equal(thrown.status.code, "ERROR");
  assert.equal(thrown.attributes["error.type"], "Error");
  assert.equal(thrown.attributes["http.response.status_code"], 500);
  const exception = thrown.events.find((e) => e.name === "exception")!;
  assert.equal(exception.attributes["exception.message"], "kaboom");

  const fiveOhThree = find("/unavailable");
  assert.equal(fiveOhThree.status.code, "ERROR");
  assert.equal(fiveOhThree.attributes["error.type"], "503");

  const notFound = find("/no/such/route");
  assert.equal(notFound.status.code, "UNSET");
  assert.equal(notFound.name, "GET");
  assert.equal(notFound.attributes["http.route"], undefined);
  assert.equal(notFound.attributes["error.type"], undefined);

  const other = find("/cache");
  assert.equal(other.name, "HTTP /cache");
  assert.equal(other.attributes["http.request.method"], "_OTHER");
  assert.equal(other.attributes["http.request.method_original"], "PURGE");
});

Deno.test("middleware: three outgoing calls carry three parent ids, baggage and request id", async () => {
  await using env = await setup();
  const { receiver, server } = env;
  const response = await fetch(`${server.url}/fanout`, {
    headers: {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-03`,
      tracestate: "vendor=abc",
      baggage: "job.id=job%2042;prop=1,user.id=u-7,other=x",
      "x-request-id": "fan-1",
    },
  });
  const echoes = await response.json() as Echo[];
  assert.equal(echoes.length, 3);
  const parents = new Set<string>();
  for (const echo of echoes) {
    const [version, traceId, parentId, flags] = echo.headers.traceparent.split("-");
    assert.equal(version, "00");
    assert.equal(traceId, CALLER_TRACE);
    assert.equal(flags, "03");
    parents.add(parentId);
    assert.equal(echo.headers.tracestate, "vendor=abc");
    assert.equal(echo.headers["x-request-id"], "fan-1");
    assert.match(echo.headers.baggage, /job\.id=job%2042;\s?prop=1/);
    assert.match(echo.headers.baggage, /user\.id=u-7/);
  }
  assert.equal(parents.size, 3);

  const spans = await receiver.waitForSpans(
    (all) => all.filter((s) => s.kind === "CLIENT").length >= 3 && all.some(named("GET /fanout")),
    { timeoutMs: 5000 },
  );
  const serverSpan = spans.find((s) => s.name === "GET /fanout")!;
  const clients = spans.filter((s) => s.kind === "CLIENT");
  assert.deepEqual(new Set(clients.map((s) => s.spanId)), parents);
  for (const client of clients) {
    assert.equal(client.parentSpanId, serverSpan.spanId);
    assert.equal(client.name, "GET");
    assert.equal(client.attributes["http.request.method"], "GET");
    assert.match(String(client.attributes["url.full"]), /^http:\/\/127\.0\.0\.1:\d+\/n\/\d$/);
    assert.equal(client.attributes["server.address"], "127.0.0.1");
    assert.equal(client.attributes["http.response.status_code"], 200);
    assert.equal(client.attributes["job.id"], "job 42");
    assert.equal(client.attributes["user.id"], "u-7");
  }
  assert.equal(serverSpan.attributes["job.id"], "job 42");
  assert.equal(serverSpan.attributes["other"], undefined);
});

Deno.test("middleware: the server span ends when the body has finished streaming", async () => {
  await using env = await setup();
  const { receiver, server, release } = env;
  const response = await fetch(`${server.url}/stream`);
  // From here the span has started; it may end only after release(). Durations, not end times,
  // are compared: the SDK anchors a span's times to Date.now() at its start, then adds
  // performance time, so only its duration shares a clock with this test.
  const headersAt = performance.now();
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "first;");
  // A whole request served while the body is held open does not end the stream's span.
  const meanwhile = await fetch(`${server.url}/users/meanwhile`);
  await meanwhile.text();
  const heldNs = BigInt(Math.floor((performance.now() - headersAt) * 1e6));
  release();
  let rest = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    rest += new TextDecoder().decode(chunk.value);
  }
  assert.equal(rest, "last");
  const spans = await receiver.waitForSpans(
    (all) => all.some(named("GET /stream")) && all.some(named("GET /users/:id")),
    { timeoutMs: 5000 },
  );
  const stream = spans.find(named("GET /stream"))!;
  const durationNs = stream.endTimeUnixNano - stream.startTimeUnixNano;
  assert.ok(
    durationNs >= heldNs,
    `the stream's span (${durationNs} ns) ended before its body was released (${heldNs} ns)`,
  );
});

Deno.test("middleware: reuses the id of hono/request-id when it runs first", async () => {
  await using receiver = await startOtlpReceiver();
  const app = new Hono<TracegateEnv>();
  app.use(requestId({ generator: () => "from-hono-request-id" }));
  app.use(tracegate({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    registerGlobals: false,
  }));
  app.get("/", (c) => c.text(c.var.requestId));
  await using server = serve((request, info) => app.fetch(request, info));
  const response = await fetch(server.url);
  assert.equal(await response.text(), "from-hono-request-id");
  assert.equal(response.headers.get("x-request-id"), "from-hono-request-id");
  const spans = await receiver.waitForSpans((all) => all.length > 0, { timeoutMs: 5000 });
  assert.equal(spans[0].attributes["tracegate.request.id"], "from-hono-request-id");
});
