import assert from "node:assert/strict";
import {
  downstreamResponse,
  errorResponse,
  fetchMethod,
  fetchUpstream,
  Fields,
  upstreamInit,
  type UpstreamRequest,
  upstreamRequest,
} from "../../proxy/forward.ts";
import { DeadlineQueue, ProgressDeadline, TimerPerDeadline } from "../../proxy/deadline.ts";
import { type RouteTable, upstreamUrl } from "../../proxy/routes.ts";
import { sha256Of } from "../support/bytes.ts";
import { assertHopByHopDropped, HOP_BY_HOP_RESPONSE } from "../support/proxy_checks.ts";
import { oddStatusUpstream, rawHttp, rawUpstream, readUntil } from "../support/raw_client.ts";
import { routeTable } from "../support/route_table.ts";
import { closedPort, serve, type TestServer } from "../support/servers.ts";

const encoder = new TextEncoder();

/** The proxy as the entry points wire it, minus tracing. */
function startProxy(routes: RouteTable, timeoutMs = 10_000): TestServer {
  const deadlines = new DeadlineQueue(timeoutMs);
  return serve(async (request, info) => {
    const url = new URL(request.url);
    const route = routes.match(url.host, url.pathname);
    const target = route && upstreamUrl(route, url);
    if (!target) return errorResponse(404, "test");
    const deadline = new ProgressDeadline(deadlines);
    const outbound = upstreamRequest(request, target, {
      clientAddress: info.remoteAddr.hostname,
      forwardedHost: url.host,
      forwardedProto: "http",
      stripHeaders: ["x-force-trace"],
      deadline,
    });
    const result = await fetchUpstream(outbound, deadline);
    switch (result.kind) {
      case "response":
        return downstreamResponse(result.response);
      case "timeout":
        return errorResponse(504, "test");
      case "unreachable":
      case "unrelayable":
        return errorResponse(502, "test");
    }
  });
}

/** `fetchUpstream` of `url` as the proxy sends it, with a `timeoutMs` deadline. */
function fetchWithin(
  url: string,
  timeoutMs: number,
  init: RequestInit = {},
  send?: typeof fetch,
) {
  const deadline = new ProgressDeadline(new DeadlineQueue(timeoutMs));
  const request = upstreamRequest(new Request(url, init), new URL(url), {
    forwardedHost: "front.test",
    forwardedProto: "http",
    deadline,
  });
  return fetchUpstream(request, deadline, send);
}

/** The Request `fetchUpstream` sends for `request`. */
function built(request: UpstreamRequest, deadline: ProgressDeadline): Request {
  return new Request(request.url, upstreamInit(request, deadline.signal));
}

/** The request target exactly as it arrived (Deno does not normalise `request.url`). */
function rawTarget(request: Request): string {
  return request.url.slice(request.url.indexOf("/", "http://".length));
}

/** Header lines as `name: value` with lower-cased names. */
function headerLines(head: string): string[] {
  return head.split("\r\n").slice(1).map((line) => {
    const colon = line.indexOf(":");
    return `${line.slice(0, colon).toLowerCase()}: ${line.slice(colon + 1).trim()}`;
  });
}

/** A body that sends its first chunk, then the rest once `gate` resolves. */
function heldBack(chunks: readonly Uint8Array[], gate: Promise<void>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(chunks[0]);
      await gate;
      for (const chunk of chunks.slice(1)) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** Fails instead of hanging when a streaming handshake never completes (i.e. a body is buffered). */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("nothing in the request can steer the proxy to an unconfigured host", async (t) => {
  const attackerHits: string[] = [];
  await using attacker = serve((request) => {
    attackerHits.push(request.url);
    return new Response("attacker");
  });
  const seen: string[] = [];
  await using web = serve((request) => {
    seen.push(`web ${rawTarget(request)}`);
    return new Response("web");
  });
  await using api = serve((request) => {
    seen.push(`api ${rawTarget(request)}`);
    return new Response("api");
  });
  await using proxy = startProxy(routeTable({
    TRACEGATE_ROUTES: `/=${web.url}, /api=${api.url}/v1`,
  }));
  const evil = new URL(attacker.url).host;
  const proxyHost = new URL(proxy.url).host;
  const cases: [name: string, target: string, host: string, expected: string | 404][] = [
    ["forged Host", "/x", evil, "web /x"],
    ["forged Host with path", "/x", `${evil}/api`, "api /v1/api/x"],
    ["absolute-form target", `http://${evil}/abs`, proxyHost, "web /abs"],
    ["absolute-form to the api", `http://${evil}/api/a`, evil, "api /v1/api/a"],
    ["protocol-relative path", `//${evil}/x`, proxyHost, `web //${evil}/x`],
    ["triple slash path", `///${evil}/x`, proxyHost, `web ///${evil}/x`],
    ["encoded slashes", `/%2F%2F${evil}/x`, proxyHost, `web /%2F%2F${evil}/x`],
    ["encoded backslashes", `/%5C%5C${evil}/x`, proxyHost, `web /%5C%5C${evil}/x`],
    ["encoded slash out of /api", "/api/..%2Fadmin", proxyHost, 404],
    ["encoded backslash out of /api", "/api/..%5cadmin", proxyHost, 404],
    ["encoded slash inside /api", "/api/a%2Fb", proxyHost, "api /v1/api/a%2Fb"],
    ["dot segments", "/api/../admin", proxyHost, "web /admin"],
    ["encoded dot segments", "/api/%2e%2E/admin", proxyHost, "web /admin"],
    ["dot segments into /api", "/x/%2e%2e/api/y?q=1", proxyHost, "api /v1/api/y?q=1"],
    ["dot segments above root", "/../../x", proxyHost, "web /x"],
  ];
  for (const [name, target, host, expected] of cases) {
    await t.step(name, async () => {
      seen.length = 0;
      const response = await rawHttp(proxy.port, { target, host });
      if (expected === 404) {
        assert.equal(response.status, 404);
        assert.deepEqual(seen, []);
      } else {
        assert.equal(response.status, 200);
        assert.deepEqual(seen, [expected]);
      }
      assert.deepEqual(attackerHits, []);
    });
  }
});

Deno.test("hop-by-hop headers are dropped both ways and X-Forwarded-* extended", async () => {
  using upstream = rawUpstream(async (conn) => {
    await conn.write(encoder.encode(HOP_BY_HOP_RESPONSE));
  });
  await using proxy = startProxy(routeTable({ TRACEGATE_UPSTREAM: upstream.url }));
  // rawHttp sends its own `connection: close` line: the Connection header lists both names.
  const response = await rawHttp(proxy.port, {
    target: "/hop?x=1",
    host: "front.example:8443",
    headers: [
      ["Connection", "X-Client-Hop"],
      ["X-Client-Hop", "secret"],
      ["Keep-Alive", "timeout=5"],
      ["TE", "trailers"],
      ["Trailer", "X-T"],
      ["Upgrade", "h2c"],
      ["Proxy-Authorization", "Basic eDp5"],
      ["Proxy-Connection", "keep-alive"],
      ["X-Force-Trace", "1"],
      ["X-Forwarded-For", "203.0.113.7"],
      ["X-Forwarded-Proto", "https"],
      ["X-Kept", "yes"],
    ],
  });
  const sent = headerLines(await upstream.served);
  assert.match((await upstream.served).split("\r\n")[0], /^GET \/hop\?x=1 HTTP\/1\.1$/);
  for (const name of ["x-client-hop", "keep-alive", "te", "trailer", "upgrade", "proxy-"]) {
    assert.deepEqual(sent.filter((line) => line.startsWith(name)), [], name);
  }
  assert.deepEqual(sent.filter((line) => line.startsWith("x-force-trace")), []);
  for (
    const line of [
      `host: ${new URL(upstream.url).host}`,
      "x-forwarded-for: 203.0.113.7, 127.0.0.1",
      "x-forwarded-proto: https",
      "x-forwarded-host: front.example:8443",
      "x-kept: yes",
    ]
  ) {
    assert.ok(sent.includes(line), `${line} in\n${sent.join("\n")}`);
  }

  assertHopByHopDropped(response);
});

Deno.test("upstreamRequest strips every hop-by-hop request header", async () => {
  const inbound = new Request("http://front.example/in", {
    method: "POST",
    body: "payload",
    headers: {
      "connection": "keep-alive, X-Named",
      "x-named": "1",
      "keep-alive": "timeout=5",
      "te": "trailers",
      "trailer": "X-T",
      "transfer-encoding": "chunked",
      "upgrade": "h2c",
      "proxy-authorization": "Basic eDp5",
      "proxy-anything": "1",
      "x-trace-force": "1",
      "host": "front.example",
      "x-end-to-end": "kept",
    },
  });
  const deadline = new ProgressDeadline(new TimerPerDeadline(10_000));
  const outbound = built(
    upstreamRequest(inbound, new URL("http://10.0.0.1:9000/base/in?q"), {
      forwardedHost: "front.example",
      forwardedProto: "https",
      stripHeaders: ["X-Trace-Force"],
      deadline,
    }),
    deadline,
  );
  assert.equal(outbound.url, "http://10.0.0.1:9000/base/in?q");
  assert.equal(outbound.method, "POST");
  assert.equal(outbound.redirect, "manual");
  assert.deepEqual([...outbound.headers], [
    ["content-type", "text/plain;charset=UTF-8"],
    ["host", "10.0.0.1:9000"],
    ["x-end-to-end", "kept"],
    ["x-forwarded-host", "front.example"],
    ["x-forwarded-proto", "https"],
  ]);
  assert.equal(await outbound.text(), "payload");
});

Deno.test("upstreamRequest keeps a WebSocket upgrade and drops other Connection names", () => {
  const inbound = new Request("http://front.example/ws", {
    headers: {
      "connection": "keep-alive, Upgrade, X-Named",
      "upgrade": "WebSocket",
      "x-named": "1",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  const deadline = new ProgressDeadline(new TimerPerDeadline(10_000));
  const outbound = built(
    upstreamRequest(inbound, new URL("http://10.0.0.1/ws"), {
      clientAddress: "198.51.100.1",
      forwardedHost: "front.example",
      forwardedProto: "http",
      deadline,
    }),
    deadline,
  );
  assert.equal(outbound.headers.get("connection"), "Upgrade");
  assert.equal(outbound.headers.get("upgrade"), "websocket");
  assert.equal(outbound.headers.get("x-named"), null);
  assert.equal(outbound.headers.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  assert.equal(outbound.headers.get("x-forwarded-for"), "198.51.100.1");
});

Deno.test("fetchMethod is the method of the Request built with it", () => {
  for (
    const method of ["GET", "get", "Get", "post", "PUT", "delete", "head", "options", "Options"]
  ) {
    assert.equal(fetchMethod(method), new Request("http://x.test/", { method }).method, method);
  }
  for (const method of ["patch", "PATCH", "Patch", "PROPFIND", "propfind", "x-custom"]) {
    assert.equal(fetchMethod(method), new Request("http://x.test/", { method }).method, method);
  }
});

Deno.test("Fields answers as the Headers it was read from: names case-insensitive", () => {
  const headers = new Headers({ "X-Mixed-Case": "1", "x-other": "2" });
  const fields = new Fields(headers);
  for (const name of ["x-mixed-case", "X-Mixed-Case", "X-MIXED-CASE", "x-other", "absent"]) {
    assert.equal(fields.get(name), headers.get(name), name);
  }
  assert.deepEqual([...fields.keys()], [...headers.keys()]);
});

Deno.test("downstreamResponse strips hop-by-hop headers and keeps the rest", async () => {
  const upstream = new Response("body", {
    status: 201,
    statusText: "Made",
    headers: {
      "connection": "X-Named",
      "x-named": "1",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      "trailer": "X-T",
      "te": "trailers",
      "upgrade": "h2c",
      "proxy-authenticate": "Basic",
      "x-kept": "yes",
    },
  });
  const downstream = downstreamResponse(upstream);
  assert.equal(downstream.status, 201);
  assert.equal(downstream.statusText, "Made");
  assert.deepEqual([...downstream.headers], [
    ["content-type", "text/plain;charset=UTF-8"],
    ["x-kept", "yes"],
  ]);
  assert.equal(await downstream.text(), "body");
});

Deno.test("downstreamResponse passes null-body statuses and WebSocket responses through", () => {
  const noContent = downstreamResponse(new Response(null, { status: 204 }));
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body, null);
  // workerd marks an accepted WebSocket upgrade with a `webSocket` property; it cannot be rebuilt.
  const upgraded = Object.assign(new Response(null), { webSocket: {} });
  assert.equal(downstreamResponse(upgraded), upgraded);
});

Deno.test("a redirect is passed back, not followed", async () => {
  const attackerHits: string[] = [];
  await using attacker = serve((request) => {
    attackerHits.push(request.url);
    return new Response("followed");
  });
  const elsewhere = `${attacker.url}/elsewhere?a=1`;
  await using upstream = serve(() =>
    new Response(null, { status: 302, headers: { location: elsewhere, "x-from": "upstream" } })
  );
  await using proxy = startProxy(routeTable({ TRACEGATE_UPSTREAM: upstream.url }));
  const response = await fetch(`${proxy.url}/go`, { redirect: "manual" });
  await response.body?.cancel();
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), elsewhere);
  assert.equal(response.headers.get("x-from"), "upstream");
  assert.deepEqual(attackerHits, []);
});

Deno.test("a 4 MiB body streams up and down in chunks, byte for byte", async () => {
  const chunkSize = 64 * 1024;
  const chunkCount = 64;
  const chunks = (count: number) =>
    Array.from({ length: count }, () => crypto.getRandomValues(new Uint8Array(chunkSize)));
  const upload = chunks(chunkCount);
  const download = chunks(chunkCount);
  // Each side holds back all but the first chunk until the far end has received that chunk: if
  // the proxy buffered a body, the handshake could never complete.
  const upstreamGotFirst = Promise.withResolvers<void>();
  const clientGotFirst = Promise.withResolvers<void>();

  await using upstream = serve(async (request) => {
    const received: Uint8Array[] = [];
    for await (const chunk of request.body ?? []) {
      received.push(chunk);
      upstreamGotFirst.resolve();
    }
    return new Response(heldBack(download, clientGotFirst.promise), {
      headers: { "x-upload-sha256": sha256Of(received) },
    });
  });
  await using proxy = startProxy(routeTable({ TRACEGATE_UPSTREAM: upstream.url }));
  try {
    await withDeadline(
      (async () => {
        const response = await fetch(`${proxy.url}/upload`, {
          method: "PUT",
          body: heldBack(upload, upstreamGotFirst.promise),
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-upload-sha256"), sha256Of(upload));
        const received: Uint8Array[] = [];
        for await (const chunk of response.body ?? []) {
          received.push(chunk);
          clientGotFirst.resolve();
        }
        assert.equal(sha256Of(received), sha256Of(download));
        assert.ok(received.length > 1, "the download arrived in more than one chunk");
      })(),
      10_000,
      "streaming 4 MiB through the proxy",
    );
  } finally {
    // Lets the handlers finish, so that the servers can shut down after a failure.
    upstreamGotFirst.resolve();
    clientGotFirst.resolve();
  }
});

Deno.test("a refused connection is unreachable", async () => {
  const result = await fetchWithin(`http://127.0.0.1:${closedPort()}/`, 10_000);
  assert.equal(result.kind, "unreachable");
});

Deno.test("a connection closed before the response headers is unreachable", async () => {
  using upstream = rawUpstream(() => Promise.resolve());
  const result = await fetchWithin(`${upstream.url}/`, 10_000);
  assert.equal(result.kind, "unreachable");
  assert.match(await upstream.served, /^GET \/ HTTP\/1\.1/);
});

Deno.test("a status no Response can carry is unrelayable, its body cancelled", async () => {
  using upstream = rawUpstream(async (conn) => {
    await conn.write(encoder.encode("HTTP/1.1 600 Odd\r\ncontent-length: 4\r\n\r\nbody"));
  });
  const result = await fetchWithin(`${upstream.url}/odd`, 10_000);
  assert.equal(result.kind, "unrelayable");
  assert.equal(result.response.status, 600);
  assert.equal(result.response.bodyUsed, true);
  await upstream.served;
});

Deno.test("a 101 is relayed only when the request asked to upgrade", async () => {
  using upstream = oddStatusUpstream(101);
  const plain = await fetchWithin(`${upstream.url}/plain`, 10_000);
  assert.equal(plain.kind, "unrelayable");
  assert.equal(plain.response.status, 101);
  const upgrade = await fetchWithin(`${upstream.url}/upgrade`, 10_000, {
    headers: { connection: "Upgrade", upgrade: "websocket" },
  });
  assert.equal(upgrade.kind, "response");
  assert.equal(upgrade.response.status, 101);
});

Deno.test("an upstream holding its headers times out and the request is aborted", async () => {
  // The upstream answers nothing and waits for the proxy to hang up.
  using upstream = rawUpstream(async (conn) => {
    await readUntil(conn, () => false);
  });
  const result = await fetchWithin(`${upstream.url}/slow`, 100);
  assert.equal(result.kind, "timeout");
  // Resolves only once the proxy closed the connection: the upstream request was aborted.
  assert.match(await upstream.served, /^GET \/slow HTTP\/1\.1/);
});

Deno.test("an upload that stops moving times out like silent headers", async () => {
  // The upstream reads the head and whatever arrives, and never answers.
  using upstream = rawUpstream(async (conn) => {
    await readUntil(conn, () => false);
  });
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("the first chunk, then nothing"));
    },
  });
  const result = await fetchWithin(`${upstream.url}/upload`, 100, {
    method: "POST",
    body: stalled,
    duplex: "half",
  } as RequestInit);
  assert.equal(result.kind, "timeout");
  assert.match(await upstream.served, /^POST \/upload HTTP\/1\.1/);
});

Deno.test("the timeout covers the headers only, not a slow body", async () => {
  const timeoutMs = 100;
  await using upstream = serve(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode("first "));
        // The delay is the behaviour under test: the body outlasts the header timeout.
        await new Promise((resolve) => setTimeout(resolve, timeoutMs * 4));
        controller.enqueue(encoder.encode("second"));
        controller.close();
      },
    });
    return new Response(body);
  });
  const signals: AbortSignal[] = [];
  const started = performance.now();
  const result = await fetchWithin(`${upstream.url}/`, timeoutMs, {}, (input, init) => {
    signals.push(init!.signal!);
    return fetch(input, init);
  });
  assert.equal(result.kind, "response");
  assert.equal(await result.response.text(), "first second");
  assert.ok(performance.now() - started > timeoutMs * 2);
  // The given fetch was used, and the header deadline never fired once the headers were in.
  assert.equal(signals.length, 1);
  assert.equal(signals[0].aborted, false);
});

Deno.test("the proxy answers 502 and 504 when the upstream is down or silent", async () => {
  await using unreachable = startProxy(
    routeTable({ TRACEGATE_UPSTREAM: `http://127.0.0.1:${closedPort()}` }),
  );
  using holding = rawUpstream(async (conn) => {
    await readUntil(conn, () => false);
  });
  await using slow = startProxy(routeTable({ TRACEGATE_UPSTREAM: holding.url }), 100);
  const badGateway = await fetch(`${unreachable.url}/`);
  assert.equal(badGateway.status, 502);
  assert.equal(await badGateway.text(), "502 Bad Gateway\nrequest id: test\n");
  const gatewayTimeout = await fetch(`${slow.url}/`);
  assert.equal(gatewayTimeout.status, 504);
  assert.equal(await gatewayTimeout.text(), "504 Gateway Timeout\nrequest id: test\n");
  await holding.served;
});

Deno.test("errorResponse is the status and the request id in plain text, nothing else", async () => {
  const response = errorResponse(502, "req-42");
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), "502 Bad Gateway\nrequest id: req-42\n");
  assert.equal(await errorResponse(404, "r").text(), "404 Not Found\nrequest id: r\n");
});
