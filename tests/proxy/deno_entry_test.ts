/**
 * The proxy's Deno entry (`proxy/deno.ts`) as a real child process, run as `deno task proxy:deno`
 * runs it, in front of the shared upstream app (traced by the middleware) and exporting to a real
 * OTLP receiver, called with real fetch, WebSocket and raw HTTP clients.
 */
import assert from "node:assert/strict";
import { brotliCompressSync } from "node:zlib";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { digestStream, patternStream } from "../support/bytes.ts";
import { startDenoProxy } from "../support/deno_proxy.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import {
  caller,
  inTrace,
  only,
  SAMPLING_REASON_ATTRIBUTE,
  serviceOf,
  webSocketClient,
  withRequestId,
} from "../support/proxy_checks.ts";
import { rawHttp } from "../support/raw_client.ts";
import { closedPort, serve, type TestServer } from "../support/servers.ts";
import { startUpstreamApp, type UpstreamEcho } from "../support/upstream_app.ts";

const PROXY_SERVICE = "deno-proxy";
const UPSTREAM_SERVICE = "upstream";
const FORCE_TOKEN = "open-sesame";
const FIFTY_MB = 50 * 1024 * 1024;
const COMPRESSIBLE = "tracegate compresses well. ".repeat(400);

/**
 * A small upstream for what the shared app does not answer: compressed bodies (as a server that
 * ignores `Accept-Encoding` sends them), a redirect and a WebSocket that picks `bye.v1` when offered,
 * says bye and closes.
 */
function extraUpstream(): TestServer & { readonly paths: readonly string[] } {
  const paths: string[] = [];
  const server = serve((request) => {
    const { pathname } = new URL(request.url);
    paths.push(pathname);
    const headers = { "content-type": "application/octet-stream", etag: '"v1"' };
    switch (pathname) {
      case "/extra/gzip":
        return new Response(
          new Blob([COMPRESSIBLE]).stream().pipeThrough(new CompressionStream("gzip")),
          { headers: { ...headers, "content-encoding": "gzip" } },
        );
      case "/extra/br": {
        const body = new Uint8Array(brotliCompressSync(COMPRESSIBLE));
        return new Response(body, {
          headers: { ...headers, "content-encoding": "br", "content-length": `${body.length}` },
        });
      }
      case "/extra/redirect":
        return new Response(null, { status: 302, headers: { location: "/extra/landing" } });
      case "/extra/ws-bye": {
        const offered = request.headers.get("sec-websocket-protocol")?.split(/\s*,\s*/) ?? [];
        const { socket, response } = Deno.upgradeWebSocket(request, {
          protocol: offered.includes("bye.v1") ? "bye.v1" : undefined,
        });
        socket.onopen = () => {
          socket.send("bye");
          socket.close(4001, "upstream done");
        };
        return response;
      }
      default:
        return new Response("landing");
    }
  });
  return Object.assign(server, { paths });
}

/** The receiver, the shared upstream app and the extra upstream, closed in reverse order. */
async function upstreams() {
  const receiver = await startOtlpReceiver();
  const upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: UPSTREAM_SERVICE,
  });
  const extra = extraUpstream();
  return {
    receiver,
    upstream,
    extra,
    async [Symbol.asyncDispose]() {
      await extra.close();
      await upstream.close();
      await receiver.close();
    },
  };
}

function proxyEnv(receiver: OtlpReceiver, extra: Record<string, string>): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: PROXY_SERVICE,
    ...extra,
  };
}

/**
 * Once the spans of a forced request through the proxy to the upstream have arrived from both
 * services, those of every request completed before it would have too: each exporter sends its
 * spans in the order they ended, and bodies are read to the end so that a request's spans have
 * ended before the next request starts. This is how the tests see that a request was not traced.
 */
function barrier(proxyUrl: string, receiver: OtlpReceiver) {
  let count = 0;
  return async () => {
    const id = `barrier-${++count}`;
    const response = await fetch(`${proxyUrl}/second`, {
      headers: { "x-tracegate-force": FORCE_TOKEN, "x-request-id": id },
    });
    assert.equal(await response.text(), "second");
    await receiver.waitForSpans((spans) => {
      const services = new Set(withRequestId(spans, id).map(serviceOf));
      return services.has(PROXY_SERVICE) && services.has(UPSTREAM_SERVICE);
    });
  };
}

/** The spans of trace `traceId`, once at least `count` have arrived. */
async function traceSpans(receiver: OtlpReceiver, traceId: string, count: number) {
  return inTrace(
    await receiver.waitForSpans((all) => inTrace(all, traceId).length >= count),
    traceId,
  );
}

/** The spans of request `id`, once the proxy's SERVER span (the last to end) has arrived. */
async function requestSpans(receiver: OtlpReceiver, id: string): Promise<DecodedSpan[]> {
  const serverArrived = (spans: readonly DecodedSpan[]) =>
    withRequestId(spans, id).some((span) => span.kind === "SERVER");
  return withRequestId(await receiver.waitForSpans(serverArrived), id);
}

async function assertNotTraced(
  receiver: OtlpReceiver,
  waitForEarlierSpans: () => Promise<void>,
  requestId: string,
) {
  await waitForEarlierSpans();
  assert.deepEqual(withRequestId(receiver.spans, requestId), []);
}

Deno.test("Deno entry: forwards, samples and traces through a real child process", async (t) => {
  await using env = await upstreams();
  const { receiver, upstream, extra } = env;
  await using proxy = await startDenoProxy(proxyEnv(receiver, {
    TRACEGATE_ROUTES: [
      `/extra/*=${extra.url}`,
      `/down=http://127.0.0.1:${closedPort()}`,
      `/=${upstream.url}`,
    ].join(","),
    TRACEGATE_FORCE_TOKEN: FORCE_TOKEN,
    TRACEGATE_IGNORE_PATHS: "/health",
  }));
  const waitForEarlierSpans = barrier(proxy.url, receiver);

  await t.step(
    "a sampled caller: one trace from the caller to the upstream's own call",
    async () => {
      const call = caller("01");
      const response = await fetch(`${proxy.url}/chain`, {
        headers: { traceparent: call.traceparent },
      });
      const body = await response.json() as UpstreamEcho & { second: string };
      assert.equal(response.status, 200);
      assert.equal(body.second, "second");

      const spans = await traceSpans(receiver, call.traceId, 5);
      const proxyServer = only(spans, PROXY_SERVICE, "SERVER");
      const proxyClient = only(spans, PROXY_SERVICE, "CLIENT");
      const upstreamServer = only(spans, UPSTREAM_SERVICE, "SERVER", "GET /chain");
      const upstreamClient = only(spans, UPSTREAM_SERVICE, "CLIENT");
      const second = only(spans, UPSTREAM_SERVICE, "SERVER", "GET /second");
      assert.equal(proxyServer.parentSpanId, call.spanId);
      assert.equal(proxyClient.parentSpanId, proxyServer.spanId);
      assert.equal(upstreamServer.parentSpanId, proxyClient.spanId);
      assert.equal(upstreamClient.parentSpanId, upstreamServer.spanId);
      assert.equal(second.parentSpanId, upstreamClient.spanId);
      assert.equal(body.headers.traceparent, `00-${call.traceId}-${proxyClient.spanId}-01`);
      assert.equal(proxyServer.attributes["http.response.status_code"], 200);
      assert.equal(proxyServer.attributes["client.address"], "127.0.0.1");
      // `/` declares no route template: the span is named by the method, without http.route.
      assert.equal(proxyServer.name, "GET");
      assert.equal(proxyServer.attributes["http.route"], undefined);
    },
  );

  await t.step("an entry declaring a route template names its spans by it", async () => {
    const call = caller("01");
    const response = await fetch(`${proxy.url}/extra/named`, {
      headers: { traceparent: call.traceparent },
    });
    await response.body?.cancel();
    const server = (await traceSpans(receiver, call.traceId, 2))
      .find((span) => span.kind === "SERVER")!;
    assert.equal(server.name, "GET /extra/*");
    assert.equal(server.attributes["http.route"], "/extra/*");
    assert.equal(server.attributes["url.path"], "/extra/named");
  });

  await t.step("flag 00 and no traceparent: not traced (the root sampler is off)", async () => {
    for (
      const [id, headers] of [
        ["unsampled-caller", { traceparent: caller("00").traceparent }],
        ["no-caller", {}],
      ] as const
    ) {
      const response = await fetch(`${proxy.url}/chain`, {
        headers: { ...headers, "x-request-id": id },
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    await waitForEarlierSpans();
    assert.deepEqual(withRequestId(receiver.spans, "unsampled-caller"), []);
    assert.deepEqual(withRequestId(receiver.spans, "no-caller"), []);
  });

  await t.step(
    "the force header traces with the right token only, and is never forwarded",
    async () => {
      const forced = await fetch(`${proxy.url}/echo/forced`, {
        headers: { "x-tracegate-force": FORCE_TOKEN, "x-request-id": "forced" },
      });
      assert.equal(forced.status, 200);
      await forced.arrayBuffer();
      const spans = withRequestId(
        await receiver.waitForSpans((all) => withRequestId(all, "forced").length >= 3),
        "forced",
      );
      const server = only(spans, PROXY_SERVICE, "SERVER");
      assert.equal(server.parentSpanId, "");
      assert.equal(
        only(spans, UPSTREAM_SERVICE, "SERVER").parentSpanId,
        only(spans, PROXY_SERVICE, "CLIENT").spanId,
      );

      const wrong = await fetch(`${proxy.url}/echo/wrong-token`, {
        headers: { "x-tracegate-force": "not-the-token", "x-request-id": "wrong-token" },
      });
      assert.equal(wrong.status, 200);
      await wrong.arrayBuffer();
      await assertNotTraced(receiver, waitForEarlierSpans, "wrong-token");

      for (const path of ["/echo/forced", "/echo/wrong-token"]) {
        const [seen] = upstream.receivedAt(path);
        assert.equal(seen.headers.get("x-tracegate-force"), null, path);
      }
    },
  );

  await t.step(
    "an ignored path is forwarded but never traced, even for a sampled caller",
    async () => {
      const response = await fetch(`${proxy.url}/health`, {
        headers: { traceparent: caller("01").traceparent, "x-request-id": "health" },
      });
      assert.equal(response.status, 200);
      assert.equal((await response.json() as UpstreamEcho).path, "/health");
      await assertNotTraced(receiver, waitForEarlierSpans, "health");
    },
  );

  await t.step("tail rule: an upstream 500 keeps an unsampled request", async () => {
    const response = await fetch(`${proxy.url}/status/500`, {
      headers: { "x-request-id": "upstream-500" },
    });
    assert.equal(response.status, 500);
    await response.arrayBuffer();
    const spans = await requestSpans(receiver, "upstream-500");
    const server = only(spans, PROXY_SERVICE, "SERVER");
    assert.equal(server.attributes[SAMPLING_REASON_ATTRIBUTE], "error");
    assert.equal(server.attributes["http.response.status_code"], 500);
    assert.equal(server.flags & 1, 0);
    // Recorded only once the tail rule could keep it, the request is described all the same.
    assert.equal(server.attributes["url.path"], "/status/500");
    assert.equal(server.attributes["http.request.method"], "GET");
    const client = only(spans, PROXY_SERVICE, "CLIENT");
    assert.equal(client.parentSpanId, server.spanId);
    // Its response too is recorded only once the rule keeps it.
    assert.equal(client.status.code, "ERROR");
    assert.equal(client.attributes["http.response.status_code"], 500);
    assert.match(String(client.attributes["url.full"]), /\/status\/500$/);
    // The upstream saw an unsampled parent: only the proxy's side is kept.
    await waitForEarlierSpans();
    const upstreamSide = withRequestId(receiver.spans, "upstream-500")
      .filter((span) => serviceOf(span) === UPSTREAM_SERVICE);
    assert.deepEqual(upstreamSide, []);
  });

  await t.step("tail rule: an unreachable upstream is a 502 kept as upstream_failure", async () => {
    const response = await fetch(`${proxy.url}/down/x`, { headers: { "x-request-id": "down" } });
    assert.equal(response.status, 502);
    assert.equal(await response.text(), "502 Bad Gateway\nrequest id: down\n");
    const spans = await requestSpans(receiver, "down");
    const server = only(spans, PROXY_SERVICE, "SERVER");
    assert.equal(server.attributes[SAMPLING_REASON_ATTRIBUTE], "upstream_failure");
    assert.equal(server.attributes["http.response.status_code"], 502);
    assert.equal(
      only(spans, PROXY_SERVICE, "CLIENT").attributes["error.type"],
      "upstream_unreachable",
    );
  });

  await t.step(
    "hop-by-hop headers stay behind; X-Forwarded-For gets the client appended",
    async () => {
      const response = await rawHttp(proxy.port, {
        target: "/echo/hop",
        headers: [
          ["connection", "x-client-hop"],
          ["x-client-hop", "secret"],
          ["keep-alive", "timeout=5"],
          ["te", "trailers"],
          ["proxy-authorization", "Basic eDp5"],
          ["x-forwarded-for", "203.0.113.7"],
          ["x-kept", "yes"],
        ],
      });
      assert.equal(response.status, 200);
      const [seen] = upstream.receivedAt("/echo/hop");
      for (const name of ["x-client-hop", "keep-alive", "te", "proxy-authorization"]) {
        assert.equal(seen.headers.get(name), null, name);
      }
      assert.equal(seen.headers.get("x-forwarded-for"), "203.0.113.7, 127.0.0.1");
      assert.equal(seen.headers.get("x-forwarded-host"), `127.0.0.1:${proxy.port}`);
      assert.equal(seen.headers.get("x-kept"), "yes");
    },
  );

  await t.step("a redirect is passed back, not followed", async () => {
    const response = await fetch(`${proxy.url}/extra/redirect`, { redirect: "manual" });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), "/extra/landing");
    await response.arrayBuffer();
    assert.deepEqual(extra.paths.filter((path) => path === "/extra/landing"), []);
  });

  await t.step(
    "bodies the upstream encoded arrive as the bytes their headers describe",
    async (t) => {
      for (const coding of ["gzip", "br"]) {
        await t.step(coding, async () => {
          // Deno's fetch in the proxy decodes these; without the entry's fix the client got plain
          // bytes still labelled with the coding ("Invalid gzip header").
          const response = await fetch(`${proxy.url}/extra/${coding}`);
          assert.equal(response.status, 200);
          assert.equal(await response.text(), COMPRESSIBLE);
          assert.equal(response.headers.get("content-encoding"), null);
          assert.equal(response.headers.get("etag"), 'W/"v1"');
        });
      }
      await t.step("gzip to a client that asked for identity: passed on encoded", async () => {
        const response = await fetch(`${proxy.url}/extra/gzip`, {
          headers: { "accept-encoding": "identity" },
        });
        assert.equal(response.headers.get("content-encoding"), "gzip");
        assert.equal(response.headers.get("etag"), '"v1"');
        const decoded = response.body!.pipeThrough(new DecompressionStream("gzip"));
        assert.equal(await new Response(decoded).text(), COMPRESSIBLE);
      });
    },
  );

  await t.step("50 MB up and 50 MB down arrive byte for byte", async () => {
    const expected = await digestStream(patternStream(FIFTY_MB, 7));
    const uploaded = await fetch(`${proxy.url}/sha256`, {
      method: "POST",
      body: patternStream(FIFTY_MB, 7),
      duplex: "half",
    } as RequestInit);
    assert.deepEqual(await uploaded.json(), expected);

    const downloaded = await fetch(`${proxy.url}/bytes/${FIFTY_MB}?seed=7`);
    assert.equal(downloaded.status, 200);
    assert.deepEqual(await digestStream(downloaded.body!), expected);
  });

  await t.step("TRACE, TRACK and CONNECT: 405, not forwarded, the span recorded", async () => {
    const cases = [
      { method: "TRACE", target: "/echo/trace", spanName: "TRACE" },
      { method: "TRACK", target: "/echo/track", spanName: "HTTP" },
      { method: "CONNECT", target: `127.0.0.1:${upstream.port}`, spanName: "CONNECT" },
    ];
    for (const { method, target, spanName } of cases) {
      const call = caller("01");
      const response = await rawHttp(proxy.port, {
        method,
        target,
        headers: [["traceparent", call.traceparent]],
      });
      assert.equal(response.status, 405, method);
      assert.match(response.body, /^405 Method Not Allowed\nrequest id: /);
      assert.match(response.headers.get("allow") ?? "", /GET/);
      const spans = await traceSpans(receiver, call.traceId, 1);
      // The CLIENT span would end first, so it would have arrived with the SERVER span.
      assert.deepEqual(spans.map((span) => span.kind), ["SERVER"], method);
      assert.equal(spans[0].name, spanName);
      assert.equal(spans[0].parentSpanId, call.spanId);
      assert.equal(spans[0].attributes["http.response.status_code"], 405);
      assert.equal(spans[0].status.code, "UNSET");
    }
    const methods = upstream.received.map((request) => request.method);
    assert.deepEqual(methods.filter((method) => /^(TRACE|TRACK|CONNECT)$/.test(method)), []);
  });

  await t.step("WebSockets are bridged to the upstream", async (t) => {
    const wsUrl = proxy.url.replace("http:", "ws:");

    await t.step("an echo, with the trace carried to the upstream", async () => {
      const call = caller("01");
      const client = webSocketClient(`${wsUrl}/ws`, { traceparent: call.traceparent });
      await client.opened;
      client.socket.send("hello");
      client.socket.send(new Uint8Array([1, 2, 3]));
      await client.received(2);
      assert.equal(client.messages[0], "hello");
      assert.deepEqual(
        new Uint8Array(client.messages[1] as ArrayBuffer),
        new Uint8Array([1, 2, 3]),
      );
      client.socket.close(4000, "done");
      const close = await client.closed;
      assert.deepEqual([close.code, close.reason], [4000, "done"]);

      const spans = await traceSpans(receiver, call.traceId, 3);
      const server = only(spans, PROXY_SERVICE, "SERVER");
      const upstreamCall = only(spans, PROXY_SERVICE, "CLIENT");
      assert.equal(server.parentSpanId, call.spanId);
      assert.equal(server.attributes["http.response.status_code"], 101);
      assert.equal(upstreamCall.parentSpanId, server.spanId);
      assert.equal(upstreamCall.attributes["http.response.status_code"], 101);
      assert.equal(only(spans, UPSTREAM_SERVICE, "SERVER").parentSpanId, upstreamCall.spanId);
    });

    await t.step("the upstream picks the subprotocol, speaks first and closes", async () => {
      const client = webSocketClient(`${wsUrl}/extra/ws-bye`, {}, ["bye.v2", "bye.v1"]);
      await client.opened;
      assert.equal(client.socket.protocol, "bye.v1");
      const close = await client.closed;
      assert.deepEqual(client.messages, ["bye"]);
      assert.deepEqual([close.code, close.reason], [4001, "upstream done"]);
    });
  });
});

Deno.test("Deno entry: an upstream slower than the timeout is a 504", async () => {
  await using env = await upstreams();
  const { receiver, upstream } = env;
  await using proxy = await startDenoProxy(proxyEnv(receiver, {
    TRACEGATE_UPSTREAM: upstream.url,
    TRACEGATE_UPSTREAM_TIMEOUT_MS: "300",
  }));
  const response = await fetch(`${proxy.url}/hang`, { headers: { "x-request-id": "hang" } });
  assert.equal(response.status, 504);
  assert.equal(await response.text(), "504 Gateway Timeout\nrequest id: hang\n");
  const spans = await requestSpans(receiver, "hang");
  assert.equal(
    only(spans, PROXY_SERVICE, "SERVER").attributes[SAMPLING_REASON_ATTRIBUTE],
    "upstream_failure",
  );
  assert.equal(only(spans, PROXY_SERVICE, "CLIENT").attributes["error.type"], "timeout");
});

Deno.test("Deno entry: SIGTERM and SIGINT export the queued spans before exit 0", async (t) => {
  await using env = await upstreams();
  const { receiver, upstream } = env;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await t.step(signal, async () => {
      // Nothing leaves before shutdown: a flush would wait 60 s to gather more spans.
      await using proxy = await startDenoProxy(proxyEnv(receiver, {
        TRACEGATE_UPSTREAM: upstream.url,
        OTEL_BSP_SCHEDULE_DELAY: "60000",
      }));
      const call = caller("01");
      const response = await fetch(`${proxy.url}/second`, {
        headers: { traceparent: call.traceparent },
      });
      assert.equal(await response.text(), "second");
      const fromProxy = () =>
        inTrace(receiver.spans, call.traceId).filter((span) => serviceOf(span) === PROXY_SERVICE);
      assert.deepEqual(fromProxy(), []);

      const status = await proxy.stop(signal);
      assert.equal(status.code, 0, proxy.stderr);
      assert.deepEqual(fromProxy().map((span) => span.kind).sort(), ["CLIENT", "SERVER"]);
      // The upstream's own spans end the trace's export; waiting for them keeps no timer behind.
      await receiver.waitForSpans((all) =>
        inTrace(all, call.traceId).some((span) => serviceOf(span) === UPSTREAM_SERVICE)
      );
    });
  }
});
