/**
 * The proxy's Deno entry on a bad day, as a real child process in front of real upstreams and a
 * real OTLP receiver: what a client learns from an error (nothing internal), what the log and the
 * span get instead, a fatal configuration stopping the process, an upload slower than the upstream
 * timeout, `OPTIONS *`, and a client that goes away mid-response.
 */
import assert from "node:assert/strict";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { digestStream, patternStream, throttled } from "../support/bytes.ts";
import { startDenoProxy, startDenoProxyUntilExitOrListen } from "../support/deno_proxy.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { caller, only, serviceOf, withRequestId } from "../support/proxy_checks.ts";
import { oddStatusUpstream, rawHttp, readUntil } from "../support/raw_client.ts";
import { closedPort, echoServer, serve } from "../support/servers.ts";
import { startUpstreamApp } from "../support/upstream_app.ts";

const SERVICE = "hardened-proxy";
const SECRET = "Sup3rS3cret";

/** The spans of request `id`, once the proxy's SERVER span (the last to end) has arrived. */
async function requestSpans(receiver: OtlpReceiver, id: string): Promise<DecodedSpan[]> {
  const serverArrived = (spans: readonly DecodedSpan[]) =>
    withRequestId(spans, id).some((span) => span.kind === "SERVER" && serviceOf(span) === SERVICE);
  return withRequestId(await receiver.waitForSpans(serverArrived), id);
}

Deno.test("Deno entry: a fatal configuration stops the process at start, credentials unsaid", async (t) => {
  const cases: [string, Record<string, string>][] = [
    ["upstream with credentials", {
      TRACEGATE_UPSTREAM: `http://svc-admin:${SECRET}@127.0.0.1:${closedPort()}/internal`,
    }],
    ["routes without =", { TRACEGATE_ROUTES: "garbage without equals" }],
    ["neither upstream nor routes", {}],
  ];
  for (const [name, env] of cases) {
    await t.step(name, async () => {
      const start = await startDenoProxyUntilExitOrListen({
        OTEL_TRACES_EXPORTER: "none",
        ...env,
      });
      assert.equal(start.listened, false, start.stderr);
      assert.equal(start.status.code, 1, start.stderr);
      const variable = Object.keys(env)[0] ?? "TRACEGATE_UPSTREAM";
      assert.match(
        start.stderr,
        new RegExp(`^tracegate: config: ${variable}: .*\\(the proxy cannot start\\)$`, "m"),
      );
      assert.ok(!start.stderr.includes(SECRET), start.stderr);
      assert.ok(!start.stderr.includes("svc-admin"), start.stderr);
    });
  }
});

Deno.test("Deno entry: 502 and 504 bodies are generic; the log and the span say why", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: "upstream",
  });
  const down = `http://127.0.0.1:${closedPort()}`;
  // Deno's fetch passes on a status a Response cannot be built with.
  using odd = oddStatusUpstream(600);
  using unasked = oddStatusUpstream(101);
  await using proxy = await startDenoProxy({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: SERVICE,
    TRACEGATE_ROUTES: `/=${upstream.url}, /down=${down}, /odd=${odd.url}, /unasked=${unasked.url}`,
    TRACEGATE_UPSTREAM_TIMEOUT_MS: "300",
  });
  const cases = [
    { path: "/down/x?token=t0ps3cret", status: 502, text: "Bad Gateway", origin: down },
    { path: "/hang", status: 504, text: "Gateway Timeout", origin: upstream.url },
    { path: "/odd", status: 502, text: "Bad Gateway", origin: odd.url, answered: 600 },
    // Switching protocols for a request that asked for no upgrade.
    { path: "/unasked", status: 502, text: "Bad Gateway", origin: unasked.url, answered: 101 },
  ];
  for (const { path, status, text, origin, answered } of cases) {
    await t.step(
      `${status} ${text}${answered ? `, the upstream having answered ${answered}` : ""}`,
      async () => {
        const id = `generic-${status}-${answered ?? "none"}`;
        const response = await fetch(`${proxy.url}${path}`, {
          headers: { "x-request-id": id, traceparent: caller("01").traceparent },
        });
        assert.equal(response.status, status);
        assert.equal(await response.text(), `${status} ${text}\nrequest id: ${id}\n`);

        const spans = await requestSpans(receiver, id);
        const client = only(spans, SERVICE, "CLIENT");
        assert.ok(client.status.message?.includes(origin), client.status.message);
        assert.equal(client.status.code, "ERROR");
        assert.equal(client.attributes["http.response.status_code"], answered);
        assert.equal(
          only(spans, SERVICE, "SERVER").attributes["http.response.status_code"],
          status,
        );
        const recorded = JSON.stringify(
          client,
          (_, value) => typeof value === "bigint" ? `${value}` : value,
        );
        assert.ok(!recorded.includes("t0ps3cret"), recorded);
        const logged = proxy.stderr.split("\n").filter((line) => line.includes(id));
        assert.equal(logged.length, 1, proxy.stderr);
        assert.ok(logged[0].includes(origin), logged[0]);
        assert.ok(!logged[0].includes("t0ps3cret"), logged[0]);
      },
    );
  }
});

Deno.test("Deno entry: an upload slower than the upstream timeout still succeeds", async () => {
  await using receiver = await startOtlpReceiver();
  await using upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: "upstream",
  });
  const timeoutMs = 1_500;
  await using proxy = await startDenoProxy({
    OTEL_TRACES_EXPORTER: "none",
    TRACEGATE_UPSTREAM: upstream.url,
    TRACEGATE_UPSTREAM_TIMEOUT_MS: String(timeoutMs),
  });
  // 100 chunks of 64 KiB, one every 30 ms: the upload takes about twice the timeout, while no
  // pause comes near it.
  const chunks = 100;
  const total = chunks * 64 * 1024;
  const expected = await digestStream(patternStream(total, 7));
  const startedAt = Date.now();
  const response = await fetch(`${proxy.url}/sha256`, {
    method: "POST",
    body: throttled(patternStream(total, 7), 30),
  });
  const uploadMs = Date.now() - startedAt;
  assert.equal(response.status, 200, await response.clone().text());
  assert.deepEqual(await response.json(), expected);
  // Not a timing assertion on the proxy: a check that the test did what it means to.
  assert.ok(uploadMs > timeoutMs, `the upload took ${uploadMs} ms, not longer than the timeout`);
});

Deno.test("Deno entry: OPTIONS * is answered by the proxy, not forwarded", async () => {
  const seen: string[] = [];
  await using upstream = serve((request) => {
    seen.push(`${request.method} ${new URL(request.url).pathname}`);
    return new Response("upstream");
  });
  await using proxy = await startDenoProxy({
    OTEL_TRACES_EXPORTER: "none",
    TRACEGATE_UPSTREAM: `${upstream.url}/base`,
  });
  const response = await rawHttp(proxy.port, { method: "OPTIONS", target: "*" });
  assert.equal(response.status, 204);
  assert.match(response.headers.get("allow") ?? "", /\bGET\b.*\bOPTIONS\b/);
  const other = await rawHttp(proxy.port, { method: "OPTIONS", target: "/x" });
  assert.equal(other.status, 200);
  assert.deepEqual(seen, ["OPTIONS /base/x"]);
});

Deno.test("Deno entry: a client that goes away mid-response leaves a mark on the span", async () => {
  await using receiver = await startOtlpReceiver();
  await using upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: "upstream",
  });
  await using proxy = await startDenoProxy({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: SERVICE,
    TRACEGATE_UPSTREAM: upstream.url,
  });
  const call = caller("01");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const head = [
    "GET /bytes/104857600 HTTP/1.1",
    `host: 127.0.0.1:${proxy.port}`,
    `traceparent: ${call.traceparent}`,
    "x-request-id: gone",
  ];
  await conn.write(new TextEncoder().encode(`${head.join("\r\n")}\r\n\r\n`));
  // Some of the 100 MiB body has arrived: the client hangs up.
  await readUntil(conn, (bytes) => bytes.length > 256 * 1024);
  conn.close();

  const server = only(await requestSpans(receiver, "gone"), SERVICE, "SERVER");
  assert.equal(server.attributes["tracegate.client.disconnected"], true);
  assert.ok(server.events.some((event) => event.name === "client disconnected"));
});

Deno.test("Deno entry: credentials in the query and in headers never reach a span", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using upstream = startUpstreamApp({
    otlpEndpoint: receiver.endpoint,
    serviceName: "upstream",
  });
  const forceHeaders = [undefined, "x-my-force"];
  for (const forceHeader of forceHeaders) {
    await t.step(`force header ${forceHeader ?? "by default"}`, async () => {
      const header = forceHeader ?? "x-tracegate-force";
      await using proxy = await startDenoProxy({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: SERVICE,
        TRACEGATE_UPSTREAM: upstream.url,
        TRACEGATE_FORCE_TOKEN: "force-s3cret",
        ...(forceHeader ? { TRACEGATE_FORCE_HEADER: forceHeader } : {}),
        TRACEGATE_CAPTURE_REQUEST_HEADERS:
          `${header},x-tracegate-force,X-API-Key,authorization,cookie,x-visible`,
        TRACEGATE_CAPTURE_RESPONSE_HEADERS: "set-cookie,content-type",
      });
      const id = `secrets-${header}`;
      const query = "token=s3cret1&api_key=s3cret2&password=s3cret3&access_token=s3cret4" +
        "&apiKey=s3cret5&page=2";
      const response = await fetch(`${proxy.url}/second?${query}`, {
        headers: {
          [header]: "force-s3cret",
          "x-api-key": "key-s3cret",
          authorization: "Bearer bearer-s3cret",
          cookie: "session=cookie-s3cret",
          "x-visible": "shown",
          "x-request-id": id,
        },
      });
      assert.equal(await response.text(), "second");

      const spans = await requestSpans(receiver, id);
      const server = only(spans, SERVICE, "SERVER");
      const client = only(spans, SERVICE, "CLIENT");
      const redacted = "token=REDACTED&api_key=REDACTED&password=REDACTED&access_token=REDACTED" +
        "&apiKey=REDACTED&page=2";
      assert.equal(server.attributes["url.query"], redacted);
      assert.equal(client.attributes["url.full"], `${upstream.url}/second?${redacted}`);
      assert.deepEqual(server.attributes["http.request.header.x-visible"], ["shown"]);
      const captured = Object.keys(server.attributes).filter((name) =>
        name.startsWith("http.request.header.")
      );
      assert.deepEqual(captured, ["http.request.header.x-visible"]);
      const recorded = JSON.stringify(
        spans,
        (_, value) => typeof value === "bigint" ? `${value}` : value,
      );
      assert.ok(!recorded.includes("s3cret"), recorded);
    });
  }
});

Deno.test("Deno entry: strict peers: B3 goes on lower-case and fixed-length; a repeated tracestate key keeps the header", async (t) => {
  await using upstream = echoServer();
  await using proxy = await startDenoProxy({
    OTEL_TRACES_EXPORTER: "none",
    OTEL_PROPAGATORS: "tracecontext,baggage,b3multi",
    TRACEGATE_UPSTREAM: upstream.url,
  });
  const forwarded = async (headers: Record<string, string>) => {
    const response = await fetch(`${proxy.url}/echo`, { headers });
    return (await response.json() as { headers: Record<string, string> }).headers;
  };
  const call = caller("01");

  await t.step("upper-case X-B3 ids are sent on lower-case", async () => {
    const sent = await forwarded({
      "X-B3-TraceId": call.traceId.toUpperCase(),
      "X-B3-SpanId": call.spanId.toUpperCase(),
      "X-B3-Sampled": "1",
    });
    assert.equal(sent["x-b3-traceid"], call.traceId);
    assert.match(sent["x-b3-spanid"], /^[0-9a-f]{16}$/);
    assert.match(sent.traceparent, new RegExp(`^00-${call.traceId}-[0-9a-f]{16}-01$`));
  });

  await t.step("a 15-digit X-B3-TraceId is refused, not padded", async () => {
    const sent = await forwarded({
      "X-B3-TraceId": call.traceId.slice(17),
      "X-B3-SpanId": call.spanId,
      "X-B3-Sampled": "1",
    });
    assert.doesNotMatch(sent["x-b3-traceid"], new RegExp(`${call.traceId.slice(17)}$`));
    assert.equal(sent.traceparent.split("-")[1], sent["x-b3-traceid"]);
  });

  await t.step("tracestate foo=1,foo=2: traceparent and tracestate carried on", async () => {
    const sent = await forwarded({ traceparent: call.traceparent, tracestate: "foo=1,foo=2" });
    assert.equal(sent.traceparent.split("-")[1], call.traceId);
    assert.equal(sent.tracestate, "foo=1");
  });
});
