import assert from "node:assert/strict";
import { EnvReader } from "../../src/config/env.ts";
import {
  downstreamResponse,
  errorResponse,
  fetchUpstream,
  upstreamRequest,
} from "../../proxy/forward.ts";
import { parseRoutes, type RouteTable, upstreamUrl } from "../../proxy/routes.ts";

const HOST = "127.0.0.1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function serve(handler: Deno.ServeHandler<Deno.NetAddr>): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: HOST, port: 0, onListen() {} }, handler);
}

function origin(server: { readonly addr: Deno.NetAddr }): string {
  return `http://${HOST}:${server.addr.port}`;
}

function routesFrom(env: Record<string, string>): RouteTable {
  const reader = new EnvReader(env);
  const routes = parseRoutes(reader);
  assert.deepEqual(reader.errors, []);
  assert.ok(routes);
  return routes;
}

/** The proxy as the entry points wire it, minus tracing. */
function startProxy(routes: RouteTable, timeoutMs = 10_000): Deno.HttpServer<Deno.NetAddr> {
  return serve(async (request, info) => {
    const url = new URL(request.url);
    const route = routes.match(url.host, url.pathname);
    const target = route && upstreamUrl(route, url);
    if (!target) return errorResponse(404, "no route for this path");
    const outbound = upstreamRequest(request, target, {
      clientAddress: info.remoteAddr.hostname,
      forwardedHost: url.host,
      forwardedProto: "http",
      stripHeaders: ["x-force-trace"],
    });
    const result = await fetchUpstream(outbound, { timeoutMs });
    switch (result.kind) {
      case "response":
        return downstreamResponse(result.response);
      case "timeout":
        return errorResponse(504, "upstream timed out");
      case "unreachable":
        return errorResponse(502, "upstream unreachable");
    }
  });
}

/** The request target exactly as it arrived (Deno does not normalise `request.url`). */
function rawTarget(request: Request): string {
  return request.url.slice(request.url.indexOf("/", "http://".length));
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** Sends bytes as they are (no client normalisation) and reads the answer until the server closes. */
async function rawHttp(port: number, head: string): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    await conn.write(encoder.encode(head));
    const text = decoder.decode(await readUntil(conn, () => false));
    const [headText, ...rest] = text.split("\r\n\r\n");
    const [statusLine, ...lines] = headText.split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    conn.close();
  }
}

/** Reads until `done(bytesSoFar)` or end of stream, at most 16 MiB. */
async function readUntil(conn: Deno.Conn, done: (bytes: Uint8Array) => boolean) {
  let bytes = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  while (bytes.length < 16 * 1024 * 1024 && !done(bytes)) {
    const count = await conn.read(buffer);
    if (count === null) break;
    bytes = concat([bytes, buffer.subarray(0, count)]);
  }
  return bytes;
}

function headComplete(bytes: Uint8Array): boolean {
  return decoder.decode(bytes).includes("\r\n\r\n");
}

function concat(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/**
 * A one-connection HTTP server on a raw socket, to see request headers exactly as they arrive on
 * the wire and to send response headers Deno.serve would not let through.
 */
function rawUpstream(respond: (conn: Deno.Conn, head: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const head = decoder.decode(await readUntil(conn, headComplete)).split("\r\n\r\n")[0];
      await respond(conn, head);
      return head;
    } finally {
      conn.close();
    }
  })();
  return { listener, served };
}

/** Header lines as `name: value` with lower-cased names. */
function headerLines(head: string): string[] {
  return head.split("\r\n").slice(1).map((line) => {
    const colon = line.indexOf(":");
    return `${line.slice(0, colon).toLowerCase()}: ${line.slice(colon + 1).trim()}`;
  });
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
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
  const attacker = serve((request) => {
    attackerHits.push(request.url);
    return new Response("attacker");
  });
  const seen: string[] = [];
  const web = serve((request) => {
    seen.push(`web ${rawTarget(request)}`);
    return new Response("web");
  });
  const api = serve((request) => {
    seen.push(`api ${rawTarget(request)}`);
    return new Response("api");
  });
  const proxy = startProxy(routesFrom({
    TRACEGATE_ROUTES: `/=${origin(web)}, /api=${origin(api)}/v1`,
  }));
  const evil = `${HOST}:${attacker.addr.port}`;
  const proxyHost = `${HOST}:${proxy.addr.port}`;
  const cases: [name: string, requestLine: string, host: string, expected: string | 404][] = [
    ["forged Host", "GET /x HTTP/1.1", evil, "web /x"],
    ["forged Host with path", "GET /x HTTP/1.1", `${evil}/api`, "api /v1/api/x"],
    ["absolute-form target", `GET http://${evil}/abs HTTP/1.1`, proxyHost, "web /abs"],
    ["absolute-form to the api", `GET http://${evil}/api/a HTTP/1.1`, evil, "api /v1/api/a"],
    ["protocol-relative path", `GET //${evil}/x HTTP/1.1`, proxyHost, `web //${evil}/x`],
    ["triple slash path", `GET ///${evil}/x HTTP/1.1`, proxyHost, `web ///${evil}/x`],
    ["encoded slashes", `GET /%2F%2F${evil}/x HTTP/1.1`, proxyHost, `web /%2F%2F${evil}/x`],
    ["encoded backslashes", `GET /%5C%5C${evil}/x HTTP/1.1`, proxyHost, `web /%5C%5C${evil}/x`],
    ["encoded slash out of /api", "GET /api/..%2Fadmin HTTP/1.1", proxyHost, 404],
    ["encoded backslash out of /api", "GET /api/..%5cadmin HTTP/1.1", proxyHost, 404],
    ["encoded slash inside /api", "GET /api/a%2Fb HTTP/1.1", proxyHost, "api /v1/api/a%2Fb"],
    ["dot segments", "GET /api/../admin HTTP/1.1", proxyHost, "web /admin"],
    ["encoded dot segments", "GET /api/%2e%2E/admin HTTP/1.1", proxyHost, "web /admin"],
    ["dot segments into /api", "GET /x/%2e%2e/api/y?q=1 HTTP/1.1", proxyHost, "api /v1/api/y?q=1"],
    ["dot segments above root", "GET /../../x HTTP/1.1", proxyHost, "web /x"],
  ];
  try {
    for (const [name, requestLine, host, expected] of cases) {
      await t.step(name, async () => {
        seen.length = 0;
        const response = await rawHttp(
          proxy.addr.port,
          `${requestLine}\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        );
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
  } finally {
    await Promise.all([proxy, web, api, attacker].map((server) => server.shutdown()));
  }
});

Deno.test("hop-by-hop headers are dropped both ways and X-Forwarded-* extended", async () => {
  const upstream = rawUpstream(async (conn) => {
    const response = "HTTP/1.1 200 OK\r\n" +
      "Connection: close, X-Up-Hop\r\nX-Up-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
      "Proxy-Authenticate: Basic\r\nProxy-Extra: 1\r\nUpgrade: h2c\r\n" +
      "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Up-Kept: yes\r\nContent-Length: 2\r\n\r\nok";
    await conn.write(encoder.encode(response));
  });
  const proxy = startProxy(routesFrom({ TRACEGATE_UPSTREAM: origin(upstream.listener) }));
  try {
    const response = await rawHttp(
      proxy.addr.port,
      "GET /hop?x=1 HTTP/1.1\r\nHost: front.example:8443\r\n" +
        "Connection: close, X-Client-Hop\r\nX-Client-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
        "TE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Authorization: Basic eDp5\r\n" +
        "Proxy-Connection: keep-alive\r\nX-Force-Trace: 1\r\nX-Forwarded-For: 203.0.113.7\r\n" +
        "X-Forwarded-Proto: https\r\nX-Kept: yes\r\n\r\n",
    );
    const sent = headerLines(await upstream.served);
    assert.match((await upstream.served).split("\r\n")[0], /^GET \/hop\?x=1 HTTP\/1\.1$/);
    for (const name of ["x-client-hop", "keep-alive", "te", "trailer", "upgrade", "proxy-"]) {
      assert.deepEqual(sent.filter((line) => line.startsWith(name)), [], name);
    }
    assert.deepEqual(sent.filter((line) => line.startsWith("x-force-trace")), []);
    for (
      const line of [
        `host: ${HOST}:${upstream.listener.addr.port}`,
        "x-forwarded-for: 203.0.113.7, 127.0.0.1",
        "x-forwarded-proto: https",
        "x-forwarded-host: front.example:8443",
        "x-kept: yes",
      ]
    ) {
      assert.ok(sent.includes(line), `${line} in\n${sent.join("\n")}`);
    }

    assert.equal(response.status, 200);
    assert.equal(response.body, "ok");
    assert.equal(response.headers.get("x-up-kept"), "yes");
    assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
    for (const name of ["x-up-hop", "keep-alive", "proxy-authenticate", "proxy-extra", "upgrade"]) {
      assert.equal(response.headers.get(name), null, name);
    }
  } finally {
    await proxy.shutdown();
    upstream.listener.close();
  }
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
  const outbound = upstreamRequest(inbound, new URL("http://10.0.0.1:9000/base/in?q"), {
    forwardedHost: "front.example",
    forwardedProto: "https",
    stripHeaders: ["X-Trace-Force"],
  });
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
  const outbound = upstreamRequest(inbound, new URL("http://10.0.0.1/ws"), {
    clientAddress: "198.51.100.1",
    forwardedHost: "front.example",
    forwardedProto: "http",
  });
  assert.equal(outbound.headers.get("connection"), "Upgrade");
  assert.equal(outbound.headers.get("upgrade"), "websocket");
  assert.equal(outbound.headers.get("x-named"), null);
  assert.equal(outbound.headers.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  assert.equal(outbound.headers.get("x-forwarded-for"), "198.51.100.1");
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
  const attacker = serve((request) => {
    attackerHits.push(request.url);
    return new Response("followed");
  });
  const elsewhere = `${origin(attacker)}/elsewhere?a=1`;
  const upstream = serve(() =>
    new Response(null, { status: 302, headers: { location: elsewhere, "x-from": "upstream" } })
  );
  const proxy = startProxy(routesFrom({ TRACEGATE_UPSTREAM: origin(upstream) }));
  try {
    const response = await fetch(`${origin(proxy)}/go`, { redirect: "manual" });
    await response.body?.cancel();
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), elsewhere);
    assert.equal(response.headers.get("x-from"), "upstream");
    assert.deepEqual(attackerHits, []);
  } finally {
    await Promise.all([proxy, upstream, attacker].map((server) => server.shutdown()));
  }
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

  const upstream = serve(async (request) => {
    const received: Uint8Array[] = [];
    for await (const chunk of request.body ?? []) {
      received.push(chunk);
      upstreamGotFirst.resolve();
    }
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(download[0]);
        await clientGotFirst.promise;
        for (const chunk of download.slice(1)) controller.enqueue(chunk);
        controller.close();
      },
    });
    return new Response(body, {
      headers: { "x-upload-sha256": await sha256(concat(received)) },
    });
  });
  const proxy = startProxy(routesFrom({ TRACEGATE_UPSTREAM: origin(upstream) }));
  try {
    await withDeadline(
      (async () => {
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(upload[0]);
            await upstreamGotFirst.promise;
            for (const chunk of upload.slice(1)) controller.enqueue(chunk);
            controller.close();
          },
        });
        const response = await fetch(`${origin(proxy)}/upload`, { method: "PUT", body });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-upload-sha256"), await sha256(concat(upload)));
        const received: Uint8Array[] = [];
        for await (const chunk of response.body ?? []) {
          received.push(chunk);
          clientGotFirst.resolve();
        }
        assert.equal(await sha256(concat(received)), await sha256(concat(download)));
        assert.ok(received.length > 1, "the download arrived in more than one chunk");
      })(),
      10_000,
      "streaming 4 MiB through the proxy",
    );
  } finally {
    upstreamGotFirst.resolve();
    clientGotFirst.resolve();
    await Promise.all([proxy.shutdown(), upstream.shutdown()]);
  }
});

Deno.test("a refused connection is unreachable", async () => {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  const result = await fetchUpstream(new Request(`http://${HOST}:${closedPort}/`), {
    timeoutMs: 10_000,
  });
  assert.equal(result.kind, "unreachable");
});

Deno.test("a connection closed before the response headers is unreachable", async () => {
  const upstream = rawUpstream(() => Promise.resolve());
  try {
    const result = await fetchUpstream(new Request(`${origin(upstream.listener)}/`), {
      timeoutMs: 10_000,
    });
    assert.equal(result.kind, "unreachable");
    assert.match(await upstream.served, /^GET \/ HTTP\/1\.1/);
  } finally {
    upstream.listener.close();
  }
});

Deno.test("an upstream holding its headers times out and the request is aborted", async () => {
  // The upstream answers nothing and waits for the proxy to hang up.
  const upstream = rawUpstream(async (conn) => {
    await readUntil(conn, () => false);
  });
  try {
    const result = await fetchUpstream(new Request(`${origin(upstream.listener)}/slow`), {
      timeoutMs: 100,
    });
    assert.equal(result.kind, "timeout");
    // Resolves only once the proxy closed the connection: the upstream request was aborted.
    assert.match(await upstream.served, /^GET \/slow HTTP\/1\.1/);
  } finally {
    upstream.listener.close();
  }
});

Deno.test("the timeout covers the headers only, not a slow body", async () => {
  const timeoutMs = 100;
  const upstream = serve(() => {
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
  try {
    const started = performance.now();
    const result = await fetchUpstream(new Request(`${origin(upstream)}/`), {
      timeoutMs,
      fetch: (input, init) => {
        if (init?.signal) signals.push(init.signal);
        return fetch(input, init);
      },
    });
    assert.equal(result.kind, "response");
    assert.equal(await result.response.text(), "first second");
    assert.ok(performance.now() - started > timeoutMs * 2);
    // The given fetch was used, and the header deadline never fired once the headers were in.
    assert.equal(signals.length, 1);
    assert.equal(signals[0].aborted, false);
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("the proxy answers 502 and 504 with a plain-text explanation", async () => {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  const unreachable = startProxy(
    routesFrom({ TRACEGATE_UPSTREAM: `http://${HOST}:${closedPort}` }),
  );
  const holding = rawUpstream(async (conn) => {
    await readUntil(conn, () => false);
  });
  const slow = startProxy(routesFrom({ TRACEGATE_UPSTREAM: origin(holding.listener) }), 100);
  try {
    const badGateway = await fetch(`${origin(unreachable)}/`);
    assert.equal(badGateway.status, 502);
    assert.equal(await badGateway.text(), "upstream unreachable\n");
    const gatewayTimeout = await fetch(`${origin(slow)}/`);
    assert.equal(gatewayTimeout.status, 504);
    assert.equal(await gatewayTimeout.text(), "upstream timed out\n");
    await holding.served;
  } finally {
    await Promise.all([unreachable.shutdown(), slow.shutdown()]);
    holding.listener.close();
  }
});

Deno.test("errorResponse is short plain text naming the request id", async () => {
  const response = errorResponse(502, "upstream unreachable", "req-42");
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), "upstream unreachable\nrequest id: req-42\n");
  assert.equal(await errorResponse(404, "no route").text(), "no route\n");
});
