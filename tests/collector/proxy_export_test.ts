/**
 * The proxy (Deno entry, and the Worker built as `wrangler deploy` builds it, in workerd) exports
 * to the real OpenTelemetry Collector; what the Collector decoded and wrote carries each field the
 * requests determine: ids and parents from the caller's traceparent, trace state, flags, kinds,
 * times, status, typed attributes (string, int, string array), the exception event, resource and
 * scope, in each encoding tracegate sends.
 */
import assert from "node:assert/strict";
import meta from "../../deno.json" with { type: "json" };
import { type OtlpJsonKeyValue, spansOf, startVerifyingCollector } from "../support/collector.ts";
import { startDenoProxy } from "../support/deno_proxy.ts";
import { OTLP_ENCODINGS } from "../support/otlp_encodings.ts";
import { caller, forwardedTraceparent } from "../support/proxy_checks.ts";
import { closedPort, echoServer } from "../support/servers.ts";
import { writtenFields } from "../support/span_fields.ts";
import { buildWorker, startWorker } from "../support/worker.ts";

interface Proxy {
  readonly url: string;
  stop(): Promise<unknown>;
}

const RUNTIMES: Record<string, (env: Record<string, string>) => Promise<Proxy>> = {
  "Deno entry": (env) => startDenoProxy(env),
  "Worker in workerd": async (env) => {
    const worker = await startWorker(await buildWorker(), env);
    return { url: worker.url.href.replace(/\/$/, ""), stop: () => worker.close() };
  },
};

const nowNanos = () => BigInt(Date.now()) * 1_000_000n;
const attributeKeys = (attributes: readonly OtlpJsonKeyValue[] | undefined) =>
  (attributes ?? []).map(({ key }) => key);

for (const [runtime, start] of Object.entries(RUNTIMES)) {
  for (const [encoding, encodingEnv] of Object.entries(OTLP_ENCODINGS)) {
    Deno.test(`collector: the proxy's spans arrive field by field (${runtime}, ${encoding})`, async () => {
      await using collector = await startVerifyingCollector();
      const { file } = collector;
      await using upstream = echoServer();
      const down = `http://127.0.0.1:${closedPort()}`;
      const proxy = await start({
        ...encodingEnv,
        TRACEGATE_ROUTES: `/down=${down},/=${upstream.url}`,
        OTEL_SERVICE_NAME: "edge",
        OTEL_RESOURCE_ATTRIBUTES: "service.version=9.9,deployment.environment.name=test",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        TRACEGATE_BAGGAGE_ATTRIBUTES: "user.id",
        TRACEGATE_CAPTURE_REQUEST_HEADERS: "x-tenant",
      });
      try {
        const before = nowNanos();
        const ok = caller("01");
        const response = await fetch(`${proxy.url}/items/7?color=red`, {
          headers: {
            traceparent: ok.traceparent,
            tracestate: "vendor=abc,other=1",
            baggage: "user.id=ada",
            "x-tenant": "t1",
          },
        });
        assert.equal(response.status, 200);
        const echoed = await response.json();
        const failed = caller("01");
        const failure = await fetch(`${proxy.url}/down/1`, {
          headers: { traceparent: failed.traceparent },
        });
        assert.equal(failure.status, 502);
        await failure.body?.cancel();
        const after = nowNanos();

        const written = await file.waitFor((requests) => {
          const spans = spansOf(requests);
          const done = [ok, failed].every(({ traceId }) =>
            spans.filter(({ span }) => span.traceId === traceId).length === 2
          );
          return done ? spans : undefined;
        });
        const pair = (traceId: string) => {
          const inTrace = written.filter(({ span }) => span.traceId === traceId);
          return {
            server: writtenFields(inTrace.find(({ span }) => span.kind === 2)!),
            client: writtenFields(inTrace.find(({ span }) => span.kind === 3)!),
            raw: inTrace,
          };
        };

        const { server, client } = pair(ok.traceId);
        assert.equal(server.parentSpanId, ok.spanId);
        assert.equal(client.parentSpanId, server.spanId);
        const forwarded = forwardedTraceparent(new Headers(echoed.headers));
        assert.deepEqual(forwarded, {
          traceId: ok.traceId,
          parentId: client.spanId,
          sampled: true,
        });
        for (const span of [server, client]) {
          assert.equal(span.traceState, "vendor=abc,other=1");
          assert.ok(BigInt(span.startTimeUnixNano) >= before - 1_000_000n, "start before the test");
          assert.ok(BigInt(span.startTimeUnixNano) <= BigInt(span.endTimeUnixNano));
          assert.ok(BigInt(span.endTimeUnixNano) <= after + 1_000_000n, "end after the test");
          assert.deepEqual(span.resource, {
            "deployment.environment.name": { string: "test" },
            "service.name": { string: "edge" },
            "service.version": { string: "9.9" },
          });
          assert.deepEqual(span.scope, { name: "tracegate", version: meta.version });
          assert.deepEqual(span.attributes["user.id"], { string: "ada" });
          assert.deepEqual(span.status, { code: 0, message: "" });
          assert.deepEqual(span.attributes["http.request.method"], { string: "GET" });
          assert.deepEqual(span.attributes["http.response.status_code"], { int: "200" });
        }
        // Sampled; the server span's parent is remote (the caller), the client's is not.
        assert.equal(server.flags, 0x301);
        assert.equal(client.flags, 0x101);
        // No route template is configured: the SERVER span is named by the method alone.
        assert.equal(server.name, "GET");
        assert.equal(client.name, "GET");
        assert.deepEqual(server.attributes["url.path"], { string: "/items/7" });
        assert.deepEqual(server.attributes["http.request.header.x-tenant"], {
          array: [{ string: "t1" }],
        });
        assert.deepEqual(client.attributes["url.full"], {
          string: `${upstream.url}/items/7?color=red`,
        });
        assert.deepEqual(client.attributes["server.port"], { int: String(upstream.port) });

        const broken = pair(failed.traceId);
        assert.equal(broken.server.status.code, 2);
        assert.equal(broken.client.status.code, 2);
        assert.deepEqual(broken.server.attributes["http.response.status_code"], { int: "502" });
        assert.equal(broken.client.events.length, 1, JSON.stringify(broken.client.events));
        const [exception] = broken.client.events;
        assert.equal(exception.name, "exception");
        assert.ok(BigInt(exception.timeUnixNano) >= BigInt(broken.client.startTimeUnixNano));
        assert.ok(
          attributeKeys(broken.raw.find(({ span }) => span.kind === 3)!.span.events![0].attributes)
            .includes("exception.message"),
        );
      } finally {
        await proxy.stop();
      }
    });
  }
}
