/**
 * The propagation proxy as a Cloudflare Worker: built from the root wrangler.toml as `wrangler
 * deploy` builds it, run in workerd through Miniflare, configured by bindings, forwarding to a real
 * Hono upstream traced by the tracegate middleware, both exporting to a real OTLP/HTTP receiver.
 *
 * "Not exported" cannot be awaited, so a request whose spans must not arrive is followed by a
 * marker request whose spans must: the proxy exports spans in the order they end, one export at a
 * time, so once the marker's spans are in, those of every earlier request would be too. Bodies are
 * read to the end (not cancelled) so that each request's span has ended before the next starts.
 */
import assert from "node:assert/strict";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { digestStream, patternStream, throttled } from "../support/bytes.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import {
  assertHopByHopDropped,
  caller,
  forwardedTraceparent,
  HOP_BY_HOP_RESPONSE,
  inTrace,
  only,
  SAMPLING_REASON_ATTRIBUTE,
  serviceOf,
  webSocketClient,
  withRequestId,
} from "../support/proxy_checks.ts";
import { oddStatusUpstream, rawHttp, rawUpstream, readUntil } from "../support/raw_client.ts";
import { closedPort, serve } from "../support/servers.ts";
import { startUpstreamApp, type UpstreamApp, type UpstreamEcho } from "../support/upstream_app.ts";
import { buildWorker, type RunningWorker, startWorker } from "../support/worker.ts";

const PROXY_SERVICE = "edge-proxy";
const UPSTREAM_SERVICE = "upstream";
const FORCE_HEADER = "x-tracegate-force";
const FORCE_TOKEN = "force-7f3a9c";
/** Sent as OTEL_EXPORTER_OTLP_HEADERS, to tell the proxy's export requests from the upstream's. */
const EXPORTER_HEADER = "x-test-exporter";
const SPAN_WAIT_MS = 10_000;
const FIFTY_MB = 50 * 1024 * 1024;

type Bindings = Record<string, string | undefined>;

interface ProxyStack extends AsyncDisposable {
  readonly receiver: OtlpReceiver;
  readonly upstream: UpstreamApp;
  readonly worker: RunningWorker;
  readonly port: number;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** receiver.waitForSpans, failing with the Worker's output too. */
  waitForSpans(
    predicate: (spans: readonly DecodedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly DecodedSpan[]>;
}

/**
 * A receiver, the upstream app and the proxy Worker forwarding to it, with a force token and
 * ignored paths. `overrides` may replace any binding (undefined removes it).
 */
async function startProxyStack(
  overrides: (upstream: UpstreamApp) => Bindings = () => ({}),
): Promise<ProxyStack> {
  const built = await buildWorker();
  const receiver = await startOtlpReceiver();
  const upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: UPSTREAM_SERVICE,
    otlpHeaders: `${EXPORTER_HEADER}=upstream`,
  });
  const bindings: Bindings = {
    TRACEGATE_UPSTREAM: upstream.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `${EXPORTER_HEADER}=proxy`,
    OTEL_SERVICE_NAME: PROXY_SERVICE,
    TRACEGATE_FORCE_TOKEN: FORCE_TOKEN,
    TRACEGATE_IGNORE_PATHS: "/health,/ignored/*",
    ...overrides(upstream),
  };
  let worker: RunningWorker;
  try {
    worker = await startWorker(
      built,
      Object.fromEntries(
        Object.entries(bindings).filter((entry): entry is [string, string] =>
          entry[1] !== undefined
        ),
      ),
    );
  } catch (error) {
    await upstream.close();
    await receiver.close();
    throw error;
  }
  return {
    receiver,
    upstream,
    worker,
    port: Number(worker.url.port),
    fetch: (path, init) => fetch(new URL(path, worker.url), init),
    waitForSpans: (predicate, timeoutMs = SPAN_WAIT_MS) =>
      receiver.waitForSpans(predicate, { timeoutMs }).catch((error) => {
        throw new Error(`${error.message}\nWorker output:\n${worker.logs.join("")}`);
      }),
    async [Symbol.asyncDispose]() {
      await worker.close();
      await upstream.close();
      await receiver.close();
    },
  };
}

/** The proxy's SERVER and CLIENT spans of one request (by request id), and how many it has. */
function proxySpansOf(spans: readonly DecodedSpan[], requestId: string) {
  const own = withRequestId(spans, requestId).filter((span) => serviceOf(span) === PROXY_SERVICE);
  return {
    count: own.length,
    server: own.find((span) => span.kind === "SERVER"),
    client: own.find((span) => span.kind === "CLIENT"),
  };
}

interface MarkerRequest {
  readonly path?: string;
  /** Default: a sampled traceparent. */
  readonly headers?: Record<string, string>;
}

/**
 * Sends a request that must be exported and waits until the proxy's spans for it have arrived;
 * by then every span that ended before it has been exported too.
 */
async function exportMarker(
  stack: ProxyStack,
  requestId: string,
  { path = "/marker", headers = { traceparent: caller("01").traceparent } }: MarkerRequest = {},
): Promise<readonly DecodedSpan[]> {
  const response = await stack.fetch(path, { headers: { ...headers, "x-request-id": requestId } });
  await response.arrayBuffer();
  return await stack.waitForSpans((spans) => {
    const { server, client } = proxySpansOf(spans, requestId);
    return server !== undefined && client !== undefined;
  });
}

/** The one request the upstream received with exactly this target. */
function receivedAt(upstream: UpstreamApp, target: string) {
  const found = upstream.received.filter((request) => request.target === target);
  assert.equal(found.length, 1, `one upstream request at ${target}, got ${found.length}`);
  return found[0];
}

/** The ids in the `traceparent` entry of Server-Timing (the only entry). */
function handedBack(response: { readonly headers: Headers }) {
  const match = response.headers.get("server-timing")?.match(
    /^traceparent;desc="00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"$/,
  );
  assert.ok(
    match,
    `no single traceparent in Server-Timing: ${response.headers.get("server-timing")}`,
  );
  return { traceId: match[1], spanId: match[2], flags: match[3] };
}

Deno.test("proxy worker: one trace from the caller through the upstream's onward call", async (t) => {
  await using stack = await startProxyStack();
  const { upstream } = stack;

  await t.step(
    "every parent is right, the context reaches the upstream, and comes back",
    async () => {
      const from = caller("01");
      const response = await stack.fetch("/chain", {
        headers: {
          traceparent: from.traceparent,
          "x-request-id": "chain-1",
          [FORCE_HEADER]: FORCE_TOKEN,
        },
      });
      assert.equal(response.status, 200);
      const echo: UpstreamEcho & { second: string } = await response.json();
      assert.equal(echo.second, "second");

      const spans = await stack.waitForSpans((all) => inTrace(all, from.traceId).length >= 5);
      const trace = inTrace(spans, from.traceId);
      const proxyServer = only(trace, PROXY_SERVICE, "SERVER");
      const proxyClient = only(trace, PROXY_SERVICE, "CLIENT");
      const upstreamServer = only(trace, UPSTREAM_SERVICE, "SERVER", "GET /chain");
      const upstreamClient = only(trace, UPSTREAM_SERVICE, "CLIENT");
      const secondServer = only(trace, UPSTREAM_SERVICE, "SERVER", "GET /second");
      assert.equal(trace.length, 5);
      assert.equal(proxyServer.parentSpanId, from.spanId);
      assert.equal(proxyClient.parentSpanId, proxyServer.spanId);
      assert.equal(upstreamServer.parentSpanId, proxyClient.spanId);
      assert.equal(upstreamClient.parentSpanId, upstreamServer.spanId);
      assert.equal(secondServer.parentSpanId, upstreamClient.spanId);

      // The upstream saw the proxy's CLIENT span as its parent, sampled.
      const forwarded = forwardedTraceparent(receivedAt(upstream, "/chain").headers);
      assert.deepEqual(forwarded, {
        traceId: from.traceId,
        parentId: proxyClient.spanId,
        sampled: true,
      });
      // The request id went through both hops and came back.
      assert.equal(echo.headers["x-request-id"], "chain-1");
      assert.equal(response.headers.get("x-request-id"), "chain-1");
      assert.equal(proxyServer.attributes["tracegate.request.id"], "chain-1");
      // Server-Timing names the proxy's SERVER span, not the upstream's.
      assert.deepEqual(handedBack(response), {
        traceId: from.traceId,
        spanId: proxyServer.spanId,
        flags: "01",
      });
      assert.equal(proxyServer.attributes["http.response.status_code"], 200);
      assert.equal(proxyClient.attributes["url.full"], `${upstream.url}/chain`);
      // The force header and its token stay at the proxy.
      assert.equal(echo.headers[FORCE_HEADER], undefined);
      assert.equal(receivedAt(upstream, "/chain").headers.has(FORCE_HEADER), false);
    },
  );

  await t.step(
    "32 concurrent sampled requests share export requests; every span arrives",
    async () => {
      const fromProxy = () =>
        stack.receiver.requests.filter((request) =>
          request.headers.get(EXPORTER_HEADER) === "proxy"
        ).length;
      const before = fromProxy();
      const ids = Array.from({ length: 32 }, (_, i) => `batch-${i}`);
      const responses = await Promise.all(ids.map((id) =>
        stack.fetch(`/batch/${id}`, {
          headers: { traceparent: caller("01").traceparent, "x-request-id": id },
        })
      ));
      for (const response of responses) {
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      await stack.waitForSpans((spans) => ids.every((id) => proxySpansOf(spans, id).count === 2));
      const exports = fromProxy() - before;
      assert.ok(exports >= 1 && exports < ids.length, `${exports} export requests for 32 requests`);
    },
  );
});

interface SamplingCase {
  readonly name: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The caller's trace id, when it sent a valid traceparent that the proxy continues. */
  readonly inboundTrace?: string;
  /** The head decision: sampled, so exported and forwarded with the sampled flag. */
  readonly sampled: boolean;
  /** `tracegate.sampling.reason` on the exported server span: a head reason, or a tail rule's. */
  readonly reason?: string;
  readonly status: number;
}

/** inbound flag 01 / 00 / absent × force header with the right token / a wrong one / none. */
function headerMatrix(): SamplingCase[] {
  const cases: SamplingCase[] = [];
  for (const inbound of ["01", "00", undefined] as const) {
    for (const force of ["right", "wrong", undefined] as const) {
      const from = inbound && caller(inbound);
      const headers: Record<string, string> = {};
      if (from) headers.traceparent = from.traceparent;
      if (force) headers[FORCE_HEADER] = force === "right" ? FORCE_TOKEN : "not-the-token";
      cases.push({
        name: `inbound ${inbound ?? "absent"}, force token ${force ?? "absent"}`,
        path: `/matrix/${inbound ?? "none"}-${force ?? "none"}`,
        headers,
        inboundTrace: from?.traceId,
        sampled: inbound === "01" || force === "right",
        reason: force === "right" ? "force" : inbound === "01" ? "parent" : undefined,
        status: 200,
      });
    }
  }
  return cases;
}

/** Sends each case, then a marker; checks export, tail attribute and forwarded context. */
async function checkSampling(stack: ProxyStack, cases: readonly SamplingCase[], marker: string) {
  for (const [index, { path, headers, status }] of cases.entries()) {
    const response = await stack.fetch(path, {
      headers: { ...headers, "x-request-id": `case-${index}` },
    });
    assert.equal(response.status, status, path);
    await response.arrayBuffer();
  }
  const spans = await exportMarker(stack, marker);

  for (const [index, expected] of cases.entries()) {
    const { count, server, client } = proxySpansOf(spans, `case-${index}`);
    const exported = expected.sampled || expected.reason !== undefined;
    assert.equal(count, exported ? 2 : 0, `${expected.name}: proxy spans exported`);
    if (server && client) {
      assert.equal(server.attributes[SAMPLING_REASON_ATTRIBUTE], expected.reason, expected.name);
      assert.equal(client.parentSpanId, server.spanId);
    }

    const received = receivedAt(stack.upstream, expected.path);
    const forwarded = forwardedTraceparent(received.headers);
    assert.equal(forwarded.sampled, expected.sampled, `${expected.name}: forwarded sampled flag`);
    if (expected.inboundTrace) assert.equal(forwarded.traceId, expected.inboundTrace);
    else assert.ok(cases.every((other) => other.inboundTrace !== forwarded.traceId));
    if (client) assert.equal(forwarded.parentId, client.spanId);
    assert.equal(received.headers.has(FORCE_HEADER), false, `${expected.name}: force header`);
  }
}

Deno.test("proxy worker: header-driven sampling", async (t) => {
  await t.step("inbound flag × force token, ignored paths, tail on errors", async () => {
    await using stack = await startProxyStack();
    const sampledCaller = caller("01");
    const plain = { sampled: false, status: 200 };
    await checkSampling(stack, [
      ...headerMatrix(),
      {
        ...plain,
        name: "ignored prefix, sampled caller",
        path: "/ignored/a",
        headers: { traceparent: sampledCaller.traceparent },
        inboundTrace: sampledCaller.traceId,
      },
      {
        ...plain,
        name: "ignored prefix, forced",
        path: "/ignored/b",
        headers: { [FORCE_HEADER]: FORCE_TOKEN },
      },
      {
        ...plain,
        name: "ignored exact path, sampled caller and forced",
        path: "/health",
        headers: { traceparent: sampledCaller.traceparent, [FORCE_HEADER]: FORCE_TOKEN },
        inboundTrace: sampledCaller.traceId,
      },
      {
        name: "upstream 500, unsampled: kept by the tail rule",
        path: "/status/500?case=tail",
        headers: {},
        sampled: false,
        reason: "error",
        status: 500,
      },
      {
        name: "upstream 500, sampled: exported as sampled, the head reason kept",
        path: "/status/500?case=sampled",
        headers: { traceparent: sampledCaller.traceparent },
        inboundTrace: sampledCaller.traceId,
        sampled: true,
        reason: "parent",
        status: 500,
      },
      {
        name: "upstream 404, unsampled: not an error at the server",
        path: "/status/404",
        headers: {},
        sampled: false,
        status: 404,
      },
    ], "sampling-marker");
  });

  await t.step(
    "TRACEGATE_MAX_TRACES_PER_SECOND=1: a burst's second forced request goes unsampled",
    async () => {
      await using stack = await startProxyStack(() => ({ TRACEGATE_MAX_TRACES_PER_SECOND: "1" }));
      const ids = ["burst-1", "burst-2"];
      const responses = await Promise.all(
        ids.map((id) =>
          stack.fetch(`/${id}`, { headers: { [FORCE_HEADER]: FORCE_TOKEN, "x-request-id": id } })
        ),
      );
      for (const response of responses) {
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      // The marker is tail-kept (not capped): a sampled one could be refused by the cap itself.
      const spans = await exportMarker(stack, "cap-marker", { path: "/status/500", headers: {} });
      const exported = ids.filter((id) => proxySpansOf(spans, id).count === 2);
      assert.equal(exported.length, 1, `exported: ${exported}`);
      assert.ok(ids.every((id) => [0, 2].includes(proxySpansOf(spans, id).count)));
      for (const id of ids) {
        const forwarded = forwardedTraceparent(receivedAt(stack.upstream, `/${id}`).headers);
        assert.equal(forwarded.sampled, exported.includes(id), id);
      }
      const kept = proxySpansOf(spans, "cap-marker").server!;
      assert.equal(kept.attributes[SAMPLING_REASON_ATTRIBUTE], "error");
    },
  );

  await t.step("TRACEGATE_TAIL_SLOWER_THAN_MS: a slow unsampled request is kept", async () => {
    await using stack = await startProxyStack(() => ({ TRACEGATE_TAIL_SLOWER_THAN_MS: "1000" }));
    const fast = await stack.fetch("/fast", { headers: { "x-request-id": "fast-1" } });
    assert.equal(fast.status, 200);
    await fast.arrayBuffer();
    // The slow request is its own marker: it ends after the fast one.
    const spans = await exportMarker(stack, "slow-1", { path: "/slow/1500", headers: {} });
    const slow = proxySpansOf(spans, "slow-1");
    assert.equal(slow.server!.attributes[SAMPLING_REASON_ATTRIBUTE], "slow");
    assert.equal(slow.client!.attributes[SAMPLING_REASON_ATTRIBUTE], undefined);
    assert.equal(proxySpansOf(spans, "fast-1").count, 0);
    assert.equal(
      forwardedTraceparent(receivedAt(stack.upstream, "/slow/1500").headers).sampled,
      false,
    );
  });

  await t.step("TRACEGATE_INBOUND_CONTEXT=link: a new trace linked to the caller's", async () => {
    await using stack = await startProxyStack(() => ({ TRACEGATE_INBOUND_CONTEXT: "link" }));
    const from = caller("01");
    const inbound = { traceparent: from.traceparent, tracestate: "vendor=abc", baggage: "user=42" };
    // The caller's sampled flag no longer decides: unforced, the request is not traced.
    const unforced = await stack.fetch("/link/unforced", {
      headers: { ...inbound, "x-request-id": "link-unforced" },
    });
    assert.equal(unforced.status, 200);
    await unforced.arrayBuffer();
    const spans = await exportMarker(stack, "link-forced", {
      path: "/link/forced",
      headers: { ...inbound, [FORCE_HEADER]: FORCE_TOKEN },
    });
    assert.equal(proxySpansOf(spans, "link-unforced").count, 0);

    const { server, client } = proxySpansOf(spans, "link-forced");
    assert.notEqual(server!.traceId, from.traceId);
    assert.equal(server!.parentSpanId, "");
    assert.deepEqual(
      server!.links.map((link) => [link.traceId, link.spanId, link.attributes["tracegate.link"]]),
      [[from.traceId, from.spanId, "inbound"]],
    );
    const forced = receivedAt(stack.upstream, "/link/forced").headers;
    assert.deepEqual(forwardedTraceparent(forced), {
      traceId: server!.traceId,
      parentId: client!.spanId,
      sampled: true,
    });
    const notForced = receivedAt(stack.upstream, "/link/unforced").headers;
    assert.notEqual(forwardedTraceparent(notForced).traceId, from.traceId);
    assert.equal(forwardedTraceparent(notForced).sampled, false);
    for (const headers of [forced, notForced]) {
      assert.equal(headers.get("tracestate"), null);
      assert.equal(headers.get("baggage"), null);
    }
  });

  await t.step("TRACEGATE_INBOUND_CONTEXT=ignore: a new trace without a link", async () => {
    await using stack = await startProxyStack(() => ({ TRACEGATE_INBOUND_CONTEXT: "ignore" }));
    const from = caller("01");
    const spans = await exportMarker(stack, "ignore-forced", {
      path: "/ignore/forced",
      headers: {
        traceparent: from.traceparent,
        tracestate: "vendor=abc",
        baggage: "user=42",
        [FORCE_HEADER]: FORCE_TOKEN,
      },
    });
    const { server } = proxySpansOf(spans, "ignore-forced");
    assert.notEqual(server!.traceId, from.traceId);
    assert.equal(server!.parentSpanId, "");
    assert.deepEqual(server!.links, []);
    const received = receivedAt(stack.upstream, "/ignore/forced").headers;
    assert.equal(forwardedTraceparent(received).traceId, server!.traceId);
    assert.equal(received.get("tracestate"), null);
    assert.equal(received.get("baggage"), null);
  });
});

Deno.test("proxy worker: 50 MB bodies stream up and down unchanged", async (t) => {
  await using stack = await startProxyStack();

  await t.step("POST 50 MB: the upstream hashes what arrives", async () => {
    const expected = await digestStream(patternStream(FIFTY_MB, 7));
    const response = await stack.fetch("/sha256", {
      method: "POST",
      body: patternStream(FIFTY_MB, 7),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), expected);
  });

  await t.step("a Content-Length upload keeps its Content-Length upstream", async () => {
    const response = await stack.fetch("/sha256?sized", {
      method: "POST",
      body: new Uint8Array(1024 * 1024),
    });
    assert.equal(response.status, 200);
    const received = receivedAt(stack.upstream, "/sha256?sized");
    assert.equal(received.headers.get("content-length"), String(1024 * 1024));
    assert.equal(received.headers.get("transfer-encoding"), null);
  });

  await t.step("GET 50 MB: the client hashes what arrives", async () => {
    const expected = await digestStream(patternStream(FIFTY_MB, 9));
    const response = await stack.fetch(`/bytes/${FIFTY_MB}?seed=9`);
    assert.equal(response.status, 200);
    assert.deepEqual(await digestStream(response.body!), expected);
  });
});

Deno.test("proxy worker: a small body of known length ends the spans once it has been sent", async (t) => {
  const encode = (text: string) => new TextEncoder().encode(text);
  const head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\n";
  const released = Promise.withResolvers<void>();
  using held = rawUpstream(async (conn) => {
    await conn.write(encode(`${head}first;`));
    await released.promise;
    await conn.write(encode("last"));
  });
  // Closes the connection after 6 of the 10 bytes it announced.
  using broken = rawUpstream(async (conn) => {
    await conn.write(encode(`${head}first;`));
  });
  // The head and all 10 bytes in one write.
  using whole = rawUpstream(async (conn) => {
    await conn.write(encode(`${head}first;last`));
  });
  await using stack = await startProxyStack((upstream) => ({
    TRACEGATE_UPSTREAM: undefined,
    TRACEGATE_ROUTES:
      `/=${upstream.url}, /held=${held.url}, /broken=${broken.url}, /whole=${whole.url}`,
  }));
  const sampled = (requestId: string) => ({
    traceparent: caller("01").traceparent,
    "x-request-id": requestId,
    ...PLAIN,
  });

  await t.step("held open: the spans end after a request served meanwhile", async () => {
    const response = await stack.fetch("/held", { headers: sampled("held") });
    assert.equal(response.headers.get("content-length"), "10");
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "first;");
    const meanwhile = proxySpansOf(await exportMarker(stack, "meanwhile"), "meanwhile");
    released.resolve();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    assert.equal(rest, "last");
    const spans = await stack.waitForSpans((all) => proxySpansOf(all, "held").count === 2);
    const { server, client } = proxySpansOf(spans, "held");
    for (const span of [server!, client!]) {
      assert.ok(
        span.endTimeUnixNano > meanwhile.server!.endTimeUnixNano,
        `${span.kind} ended before its body was sent`,
      );
      assert.equal(span.status.code, "UNSET");
    }
  });

  await t.step(
    "arriving whole: relayed as it came, with its length, and the spans end",
    async () => {
      const response = await stack.fetch("/whole", { headers: sampled("whole") });
      assert.equal(response.headers.get("content-length"), "10");
      assert.equal(await response.text(), "first;last");
      const spans = await stack.waitForSpans((all) => proxySpansOf(all, "whole").count === 2);
      const { server, client } = proxySpansOf(spans, "whole");
      for (const span of [server!, client!]) assert.equal(span.status.code, "UNSET");
    },
  );

  await t.step("cut short by the upstream: both spans are errors", async () => {
    const response = await stack.fetch("/broken", { headers: sampled("broken") });
    await response.arrayBuffer().catch(() => {});
    const spans = await stack.waitForSpans((all) => proxySpansOf(all, "broken").count === 2);
    const { server, client } = proxySpansOf(spans, "broken");
    assert.equal(server!.status.code, "ERROR");
    assert.equal(client!.status.code, "ERROR");
  });
});

/** Uncompressed, so that workerd hands on a small chunk as it comes. */
const PLAIN = { "accept-encoding": "identity" };

// (`OPTIONS *` is not tested here: workerd's own HTTP server refuses the `*` target with a 500
// before any Worker code runs; Deno entry tests cover the proxy's answer to it.)
Deno.test("proxy worker: slow uploads and a client that goes away", async (t) => {
  const timeoutMs = 1_500;
  await using stack = await startProxyStack(() => ({
    TRACEGATE_UPSTREAM_TIMEOUT_MS: String(timeoutMs),
  }));

  await t.step("an upload slower than the upstream timeout succeeds", async () => {
    // 100 chunks of 64 KiB, one every 30 ms: about twice the timeout, no pause near it.
    const total = 100 * 64 * 1024;
    const expected = await digestStream(patternStream(total, 5));
    const startedAt = Date.now();
    const response = await stack.fetch("/sha256", {
      method: "POST",
      body: throttled(patternStream(total, 5), 30),
      duplex: "half",
    } as RequestInit);
    const uploadMs = Date.now() - startedAt;
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), expected);
    assert.ok(uploadMs > timeoutMs, `the upload took ${uploadMs} ms, not longer than the timeout`);
  });

  await t.step("a client that hangs up mid-response marks the server span", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.port });
    const head = [
      `GET /bytes/${FIFTY_MB} HTTP/1.1`,
      `host: 127.0.0.1:${stack.port}`,
      `traceparent: ${caller("01").traceparent}`,
      "x-request-id: gone",
    ];
    await conn.write(new TextEncoder().encode(`${head.join("\r\n")}\r\n\r\n`));
    await readUntil(conn, (bytes) => bytes.length > 256 * 1024);
    conn.close();
    const spans = await stack.waitForSpans((all) => proxySpansOf(all, "gone").server !== undefined);
    const { server } = proxySpansOf(spans, "gone");
    // workerd may fail the upstream fetch first when the client goes away (see
    // middleware/runtime/workerd.ts): the mark is then that error rather than the cancel.
    const lost = server!.events.some((event) =>
      event.name === "exception" &&
      event.attributes["exception.message"] === "Network connection lost."
    );
    assert.ok(
      server!.attributes["tracegate.client.disconnected"] === true || lost,
      server!.events.map((event) => event.name).join(", "),
    );
  });
});

Deno.test("proxy worker: WebSockets through workerd", async (t) => {
  await using stack = await startProxyStack();

  await t.step("messages echo both ways; the upgrade is traced", async () => {
    const from = caller("01");
    const url = new URL("/ws?case=echo", stack.worker.url).href.replace(/^http/, "ws");
    const client = webSocketClient(url, { traceparent: from.traceparent, "x-request-id": "ws-1" });
    await client.opened;
    client.socket.send("hello");
    client.socket.send(new Uint8Array([1, 2, 3, 250]));
    client.socket.send("bye");
    await client.received(3);
    const messages = client.messages.map((m) => typeof m === "string" ? m : [...new Uint8Array(m)]);
    assert.deepEqual(messages, ["hello", [1, 2, 3, 250], "bye"]);
    client.socket.close(1000, "done");
    assert.equal((await client.closed).code, 1000);

    const spans = await stack.waitForSpans((all) => proxySpansOf(all, "ws-1").count === 2);
    const { server, client: upstreamCall } = proxySpansOf(spans, "ws-1");
    assert.equal(server!.traceId, from.traceId);
    assert.equal(server!.attributes["http.response.status_code"], 101);
    const received = receivedAt(stack.upstream, "/ws?case=echo").headers;
    assert.equal(received.get("upgrade"), "websocket");
    assert.deepEqual(forwardedTraceparent(received), {
      traceId: from.traceId,
      parentId: upstreamCall!.spanId,
      sampled: true,
    });
  });

  await t.step("the 101 answer hands back the proxy's SERVER span", async () => {
    const response = await rawHttp(stack.port, {
      target: "/ws?case=handshake",
      headers: [
        ["upgrade", "websocket"],
        ["connection", "Upgrade"],
        ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
        ["sec-websocket-version", "13"],
        ["traceparent", caller("01").traceparent],
        ["x-request-id", "ws-2"],
      ],
    });
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("x-request-id"), "ws-2");
    const spans = await stack.waitForSpans((all) => proxySpansOf(all, "ws-2").count === 2);
    // Not the upstream's SERVER span, which its own 101 named.
    assert.equal(handedBack(response).spanId, proxySpansOf(spans, "ws-2").server!.spanId);
  });
});

Deno.test("proxy worker: requests succeed whatever the collector does", async (t) => {
  // A short export timeout: the exporter gives up (and the drop is logged) soon after a failure.
  const bindings = () => ({ OTEL_EXPORTER_OTLP_TIMEOUT: "1000" });
  const sampledRequests = async (stack: ProxyStack, prefix: string) => {
    for (const n of [1, 2, 3]) {
      const response = await stack.fetch(`/${prefix}/${n}`, {
        headers: { traceparent: caller("01").traceparent },
      });
      assert.equal(response.status, 200);
      assert.equal((await response.json() as UpstreamEcho).path, `/${prefix}/${n}`);
    }
  };
  const exportFailed = /tracegate: dropped \d+ spans \(queue full: 0, export failed: [1-9]/;

  await t.step("collector down, then back: later spans arrive", async () => {
    await using stack = await startProxyStack(bindings);
    await stack.receiver.stop();
    await sampledRequests(stack, "while-down");
    await stack.worker.waitForLog(exportFailed, { timeoutMs: SPAN_WAIT_MS });
    await stack.receiver.restart();
    await exportMarker(stack, "after-down");
  });

  await t.step("collector answering 503, then 200: later spans arrive", async () => {
    await using stack = await startProxyStack(bindings);
    stack.receiver.respondWith(503);
    await sampledRequests(stack, "while-503");
    await stack.worker.waitForLog(exportFailed, { timeoutMs: SPAN_WAIT_MS });
    assert.ok(
      stack.receiver.requests.some((request) =>
        request.status === 503 && request.headers.get(EXPORTER_HEADER) === "proxy"
      ),
    );
    stack.receiver.respondNormally();
    await exportMarker(stack, "after-503");
  });
});

Deno.test("proxy worker: hop-by-hop headers are dropped both ways, X-Forwarded-* set", async () => {
  using raw = rawUpstream(async (conn) => {
    await conn.write(new TextEncoder().encode(HOP_BY_HOP_RESPONSE));
  });
  await using stack = await startProxyStack(() => ({ TRACEGATE_UPSTREAM: raw.url }));
  const response = await rawHttp(stack.port, {
    target: "/hop?x=1",
    host: "front.example:8443",
    headers: [
      ["Connection", "X-Client-Hop"],
      ["X-Client-Hop", "secret"],
      ["Keep-Alive", "timeout=5"],
      ["TE", "trailers"],
      ["Proxy-Authorization", "Basic eDp5"],
      [FORCE_HEADER, "not the token"],
      ["X-Forwarded-For", "203.0.113.7"],
      ["X-Forwarded-Proto", "https"],
      ["X-Kept", "yes"],
    ],
  });
  const head = await raw.served;
  const sent = head.split("\r\n").slice(1).map((line) => line.toLowerCase());
  for (const name of ["x-client-hop", "keep-alive", "te:", "proxy-", FORCE_HEADER]) {
    assert.deepEqual(sent.filter((line) => line.startsWith(name)), [], name);
  }
  for (
    const line of [
      `host: ${new URL(raw.url).host}`,
      "x-forwarded-proto: https",
      "x-forwarded-host: front.example:8443",
      "x-kept: yes",
    ]
  ) {
    assert.ok(sent.includes(line), `${line} in\n${sent.join("\n")}`);
  }
  assert.ok(sent.some((line) => line.startsWith("x-forwarded-for: 203.0.113.7")), head);

  assertHopByHopDropped(response);
});

Deno.test("proxy worker: a host's own routes are chosen by the Host field", async () => {
  await using stack = await startProxyStack((upstream) => ({
    TRACEGATE_UPSTREAM: undefined,
    TRACEGATE_ROUTES: `shop.example/=${upstream.url}/shop, /=${upstream.url}/any`,
  }));
  for (const [host, path] of [["shop.example", "/shop/x"], ["other.example", "/any/x"]]) {
    const response = await rawHttp(stack.port, { target: "/x", host });
    assert.equal(response.status, 200, response.body);
    assert.equal((JSON.parse(response.body) as UpstreamEcho).path, path, host);
  }
});

Deno.test("proxy worker: upstream failures answer 502 and 504, traced", async (t) => {
  const down = `http://127.0.0.1:${closedPort()}`;
  using odd = oddStatusUpstream(600);
  using unasked = oddStatusUpstream(101);
  await using stack = await startProxyStack((upstream) => ({
    TRACEGATE_UPSTREAM: undefined,
    TRACEGATE_ROUTES: `/=${upstream.url}, /down=${down}, /odd=${odd.url}, /unasked=${unasked.url}`,
    TRACEGATE_UPSTREAM_TIMEOUT_MS: "300",
  }));
  const failures = [
    {
      name: "upstream down: 502",
      path: "/down/x",
      status: 502,
      message: "502 Bad Gateway",
      errorType: "upstream_unreachable",
    },
    {
      name: "no response headers in time: 504",
      path: "/hang",
      status: 504,
      message: "504 Gateway Timeout",
      errorType: "timeout",
    },
    {
      name: "a status no Response can carry: 502",
      path: "/odd",
      status: 502,
      message: "502 Bad Gateway",
      errorType: "600",
    },
    {
      name: "a 101 to a request that asked for no upgrade: 502",
      path: "/unasked",
      status: 502,
      message: "502 Bad Gateway",
      errorType: "101",
    },
  ];
  for (const failure of failures) {
    for (const sampled of [true, false]) {
      await t.step(
        `${failure.name}, ${sampled ? "sampled" : "kept by the tail rule"}`,
        async () => {
          const id = `${failure.errorType}-${sampled ? "sampled" : "tail"}`;
          const headers: Record<string, string> = { "x-request-id": id };
          if (sampled) headers.traceparent = caller("01").traceparent;
          const response = await stack.fetch(failure.path, { headers });
          assert.equal(response.status, failure.status);
          assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
          assert.equal(await response.text(), `${failure.message}\nrequest id: ${id}\n`);
          assert.equal(response.headers.get("x-request-id"), id);
          const back = handedBack(response);

          const spans = await stack.waitForSpans((all) => proxySpansOf(all, id).count === 2);
          const { server, client } = proxySpansOf(spans, id);
          assert.equal(back.spanId, server!.spanId);
          assert.equal(server!.status.code, "ERROR");
          assert.equal(server!.attributes["error.type"], String(failure.status));
          assert.equal(server!.attributes["http.response.status_code"], failure.status);
          assert.equal(
            server!.attributes[SAMPLING_REASON_ATTRIBUTE],
            sampled ? "parent" : "upstream_failure",
          );
          assert.equal(client!.status.code, "ERROR");
          assert.equal(client!.attributes["error.type"], failure.errorType);
          assert.equal(client!.parentSpanId, server!.spanId);
        },
      );
    }
  }
  // The hanging upstream did get each request: the proxy gave up waiting, it did not skip it.
  assert.equal(stack.upstream.received.filter((request) => request.target === "/hang").length, 2);
});

Deno.test("proxy worker: nothing in the request steers it to another host", async (t) => {
  const attackerHits: string[] = [];
  await using attacker = serve((request) => {
    attackerHits.push(request.url);
    return new Response("attacker");
  });
  await using stack = await startProxyStack((upstream) => ({
    TRACEGATE_UPSTREAM: undefined,
    TRACEGATE_ROUTES: `/=${upstream.url}, /api=${upstream.url}/v1`,
  }));
  const evil = `127.0.0.1:${attacker.port}`;
  const upstreamHost = new URL(stack.upstream.url).host;
  // Expected: the target the upstream receives, or the status of a refusal that reaches nobody
  // (404 from the proxy). workerd hands the Worker an absolute-form target as its path, and a
  // Host with a path as the URL's path: either way only the configured upstream is asked.
  const cases: [
    name: string,
    target: string,
    host: string | undefined,
    expected: string | number,
  ][] = [
    ["forged Host", "/x", evil, "/x"],
    ["forged Host with a path", "/x", `${evil}/api`, "/v1/api/x"],
    ["absolute-form target", `http://${evil}/abs`, undefined, "/abs"],
    ["absolute-form target and Host", `http://${evil}/api/a`, evil, "/v1/api/a"],
    ["absolute-form target without port", "http://attacker.invalid/abs", undefined, "/abs"],
    ["protocol-relative path", `//${evil}/x`, undefined, `//${evil}/x`],
    ["triple slash path", `///${evil}/x`, undefined, `///${evil}/x`],
    ["backslashes", `/\\\\${evil}/x`, undefined, `///${evil}/x`],
    ["encoded slashes", `/%2F%2F${evil}/x`, undefined, `/%2F%2F${evil}/x`],
    ["encoded backslashes", `/%5C%5C${evil}/x`, undefined, `/%5C%5C${evil}/x`],
    ["userinfo-like path", `/@${evil}/x`, undefined, `/@${evil}/x`],
    ["encoded slash out of /api", "/api/..%2Fadmin", undefined, 404],
    ["encoded backslash out of /api", "/api/..%5cadmin", undefined, 404],
    ["encoded slash inside /api", "/api/a%2Fb", undefined, "/v1/api/a%2Fb"],
    ["dot segments", "/api/../admin", undefined, "/admin"],
    ["encoded dot segments", "/api/%2e%2E/admin", undefined, "/admin"],
    ["dot segments into /api", "/x/%2e%2e/api/y?q=1", undefined, "/v1/api/y?q=1"],
    ["dot segments above the root", "/../../x", undefined, "/x"],
  ];
  for (const [name, target, host, expected] of cases) {
    await t.step(name, async () => {
      const before = stack.upstream.received.length;
      const response = await rawHttp(stack.port, { target, host });
      const arrived = stack.upstream.received.slice(before);
      if (typeof expected === "number") {
        assert.equal(response.status, expected);
        assert.deepEqual(arrived, []);
      } else {
        assert.equal(response.status, 200);
        assert.deepEqual(arrived.map((request) => request.target), [expected]);
        assert.equal(arrived[0].headers.get("host"), upstreamHost);
        assert.equal((JSON.parse(response.body) as UpstreamEcho).headers.host, upstreamHost);
      }
      assert.deepEqual(attackerHits, []);
    });
  }
});

/** Comma-separated members `member(0)`, `member(1)`, … as many as fit in `length` characters. */
function membersUpTo(length: number, member: (index: number) => string): string {
  let list = member(0);
  for (let i = 1; list.length + 1 + member(i).length <= length; i++) list += `,${member(i)}`;
  return list;
}

Deno.test("proxy worker: bad trace headers are replaced by valid fresh context", async (t) => {
  await using stack = await startProxyStack();
  const from = caller("01");
  const cases: [name: string, headers: [string, string][], keepsCallerTrace: boolean][] = [
    ["malformed traceparent", [["traceparent", "00-not-a-trace-01"]], false],
    ["traceparent version ff", [["traceparent", `ff-${from.traceId}-${from.spanId}-01`]], false],
    ["all-zero trace id", [["traceparent", `00-${"0".repeat(32)}-${from.spanId}-01`]], false],
    ["upper-case traceparent", [["traceparent", from.traceparent.toUpperCase()]], false],
    ["two traceparent lines", [
      ["traceparent", from.traceparent],
      ["traceparent", caller("01").traceparent],
    ], false],
    // Each 100 KB of small valid members: far past 32 tracestate members and 512 characters,
    // and past 180 baggage members and 8192 bytes.
    ["100 KB tracestate", [
      ["traceparent", from.traceparent],
      ["tracestate", membersUpTo(100 * 1024, (i) => `v${i}=x`)],
    ], true],
    ["100 KB baggage", [
      ["traceparent", from.traceparent],
      ["baggage", membersUpTo(100 * 1024, (i) => `key${i}=value${i}`)],
    ], true],
    ["10 KB X-Request-ID", [["x-request-id", "r".repeat(10 * 1024)]], false],
    ["non-ASCII header values", [
      ["x-note", "héllo ✓"],
      ["x-request-id", "idé"],
      ["tracestate", "vendör=1"],
      ["baggage", "k=vä"],
      ["traceparent", `00-${from.traceId}-${from.spanId}-0é`],
    ], false],
  ];
  for (const [index, [name, headers, keepsCallerTrace]] of cases.entries()) {
    await t.step(name, async () => {
      const path = `/bad/${index}`;
      const response = await rawHttp(stack.port, { target: path, headers });
      assert.equal(response.status, 200);
      assert.equal((JSON.parse(response.body) as UpstreamEcho).path, path);

      const received = receivedAt(stack.upstream, path).headers;
      const forwarded = forwardedTraceparent(received);
      if (keepsCallerTrace) assert.equal(forwarded.traceId, from.traceId);
      else assert.notEqual(forwarded.traceId, from.traceId);
      const sentTraceparents = headers.filter(([header]) => header === "traceparent");
      for (const [, sent] of sentTraceparents) assert.notEqual(received.get("traceparent"), sent);

      const tracestate = received.get("tracestate");
      assert.ok(
        tracestate === null || (tracestate.length <= 512 && tracestate.split(",").length <= 32),
        `tracestate of ${tracestate?.length} characters`,
      );
      const baggage = received.get("baggage");
      if (baggage !== null) {
        assert.ok(new TextEncoder().encode(baggage).length <= 8192);
        assert.ok(baggage.split(",").length <= 180);
      }
      // The request id is a valid one, the same upstream and back; an invalid one was replaced.
      const requestId = response.headers.get("x-request-id")!;
      assert.match(requestId, /^[\w=-]{1,255}$/);
      assert.equal(received.get("x-request-id"), requestId);
      const sentId = headers.find(([header]) => header === "x-request-id")?.[1];
      if (sentId !== undefined) assert.notEqual(requestId, sentId);
    });
  }
});

Deno.test("proxy worker: a misconfigured upstream answers a generic 500 and logs why once", async (t) => {
  const built = await buildWorker();
  const secret = "Sup3rS3cret";
  const settings: [variable: string, value: string][] = [
    ["TRACEGATE_ROUTES", "garbage without equals"],
    ["TRACEGATE_UPSTREAM", "not a url"],
    ["TRACEGATE_UPSTREAM", `http://svc-admin:${secret}@127.0.0.1:${closedPort()}/internal`],
  ];
  for (const [variable, value] of settings) {
    await t.step(`${variable}=${JSON.stringify(value)}`, async () => {
      await using worker = await startWorker(built, {
        [variable]: value,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
      });
      const requests: [string, RequestInit][] = [
        ["/", { headers: { "x-request-id": "cfg-1" } }],
        ["/api/x?q=1", { method: "POST", body: "payload" }],
        ["/health", { headers: { traceparent: caller("01").traceparent } }],
      ];
      for (const [path, init] of requests) {
        const response = await fetch(new URL(path, worker.url), init);
        assert.equal(response.status, 500);
        assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
        const requestId = response.headers.get("x-request-id");
        assert.ok(requestId);
        assert.equal(
          await response.text(),
          `500 Internal Server Error\nrequest id: ${requestId}\n`,
        );
      }
      const output = await worker.waitForLog(new RegExp(variable));
      const lines = output.split("\n").filter((line) => line.includes(variable));
      assert.equal(lines.length, 1, output);
      assert.match(
        lines[0],
        /^tracegate: config: .*\(every request answers 500 until this is fixed\)$/,
      );
      assert.ok(!output.includes(secret), output);
      assert.doesNotMatch(output, /Uncaught|exception/i);
    });
  }
});
