import assert from "node:assert/strict";
import { type Attributes, SpanKind } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";

const JSON_TYPE = "application/json";
const PROTOBUF_TYPE = "application/x-protobuf";

/** Finished SDK spans, one per name, to export by hand. */
async function recordSpans(...names: string[]): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "receiver-test" }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer("receiver-test");
  for (const name of names) tracer.startSpan(name, { attributes: { "span.name": name } }).end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

async function exportBody(contentType: string, ...names: string[]): Promise<Uint8Array> {
  const serializer = contentType === JSON_TYPE ? JsonTraceSerializer : ProtobufTraceSerializer;
  const body = serializer.serializeRequest(await recordSpans(...names));
  assert.ok(body);
  return body;
}

function post(url: string, body: Uint8Array | string, headers: HeadersInit): Promise<Response> {
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  return fetch(url, { method: "POST", body: payload, headers });
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).bytes();
}

function exportWith(exporter: OTLPTraceExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/** A Retry-After date already past: the exporter retries at once instead of backing off. */
const RETRY_AT_ONCE = { "retry-after": new Date(0).toUTCString() };

const names = (spans: readonly { name: string }[]) => spans.map((span) => span.name);

Deno.test("OTLP/JSON export: 200 with an empty JSON response, spans and request recorded", async () => {
  await using receiver = await startOtlpReceiver();
  const body = await exportBody(JSON_TYPE, "a", "b");

  const response = await post(receiver.tracesUrl, body, {
    "content-type": JSON_TYPE,
    "x-test-header": "present",
  });

  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  assert.deepStrictEqual(await response.json(), {});
  assert.deepStrictEqual(names(receiver.spans), ["a", "b"]);
  assert.deepStrictEqual(receiver.spans[0].attributes, { "span.name": "a" });
  assert.equal(receiver.requests.length, 1);
  const [request] = receiver.requests;
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/v1/traces");
  assert.equal(request.contentType, JSON_TYPE);
  assert.equal(request.contentEncoding, null);
  assert.equal(request.bytes, body.length);
  assert.equal(request.spanCount, 2);
  assert.equal(request.status, 200);
  assert.equal(request.headers.get("x-test-header"), "present");
  assert.equal(receiver.endpoint + "/v1/traces", receiver.tracesUrl);
  assert.match(receiver.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
});

Deno.test("gzip protobuf export: 200 with an empty protobuf response", async () => {
  await using receiver = await startOtlpReceiver();
  const body = await gzip(await exportBody(PROTOBUF_TYPE, "proto span"));

  const response = await post(receiver.tracesUrl, body, {
    "content-type": PROTOBUF_TYPE,
    "content-encoding": "gzip",
  });

  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), PROTOBUF_TYPE);
  assert.equal((await response.bytes()).length, 0);
  assert.deepStrictEqual(names(receiver.spans), ["proto span"]);
  assert.equal(receiver.requests[0].bytes, body.length);
  assert.equal(receiver.requests[0].contentEncoding, "gzip");
});

Deno.test("undecodable bodies get 400 with a Status message; spans already held are kept", async () => {
  await using receiver = await startOtlpReceiver();
  await (await post(receiver.tracesUrl, await exportBody(JSON_TYPE, "kept"), {
    "content-type": JSON_TYPE,
  })).body?.cancel();

  const badJson = await post(receiver.tracesUrl, "{not json", { "content-type": JSON_TYPE });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.headers.get("content-type"), JSON_TYPE);
  assert.match((await badJson.json()).message, /not valid JSON/);

  const badProto = await post(receiver.tracesUrl, new Uint8Array([0x0a, 0x7f, 0x00]), {
    "content-type": PROTOBUF_TYPE,
  });
  assert.equal(badProto.status, 400);
  assert.equal(badProto.headers.get("content-type"), PROTOBUF_TYPE);
  const status = await badProto.bytes();
  assert.equal(status[0], 0x12, "google.rpc.Status field 2 (message)");
  assert.match(new TextDecoder().decode(status.subarray(2)), /unexpected end of data/);

  assert.deepStrictEqual(names(receiver.spans), ["kept"]);
  assert.deepStrictEqual(receiver.requests.map((request) => request.status), [200, 400, 400]);
  assert.match(receiver.requests[1].error ?? "", /not valid JSON/);
});

Deno.test("bodies over the limit get 413, compressed or not; smaller ones still pass", async () => {
  const small = await exportBody(JSON_TYPE, "small");
  await using receiver = await startOtlpReceiver({ maxBodyBytes: small.length });
  const big = await exportBody(JSON_TYPE, "big", "bigger", "biggest");
  const bomb = await gzip(new Uint8Array(small.length * 100));
  assert.ok(bomb.length < small.length, "the gzip bomb must be small on the wire");

  const tooBig = await post(receiver.tracesUrl, big, { "content-type": JSON_TYPE });
  const tooBigUnzipped = await post(receiver.tracesUrl, bomb, {
    "content-type": JSON_TYPE,
    "content-encoding": "gzip",
  });
  const fits = await post(receiver.tracesUrl, small, { "content-type": JSON_TYPE });

  assert.equal(tooBig.status, 413);
  assert.match((await tooBig.json()).message, new RegExp(`exceeds ${small.length} bytes`));
  assert.equal(tooBigUnzipped.status, 413);
  assert.match((await tooBigUnzipped.json()).message, /decompressed exceeds/);
  assert.equal(fits.status, 200);
  await fits.body?.cancel();
  assert.deepStrictEqual(names(receiver.spans), ["small"]);
});

Deno.test("other paths get 404, other methods 405, other media types 415; all are recorded", async () => {
  await using receiver = await startOtlpReceiver();
  const json = { "content-type": JSON_TYPE };

  const metrics = await post(`${receiver.endpoint}/v1/metrics`, "{}", json);
  const get = await fetch(receiver.tracesUrl);
  const text = await post(receiver.tracesUrl, "{}", { "content-type": "text/plain" });
  const brotli = await post(receiver.tracesUrl, "{}", { ...json, "content-encoding": "br" });

  assert.equal(metrics.status, 404);
  assert.match(await metrics.text(), /traces go to \/v1\/traces/);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  assert.equal(text.status, 415);
  assert.match(await text.text(), /unsupported Content-Type "text\/plain"/);
  assert.equal(brotli.status, 415);
  assert.match((await brotli.json()).message, /unsupported Content-Encoding "br"/);
  assert.deepStrictEqual(
    receiver.requests.map((request) => `${request.method} ${request.path} ${request.status}`),
    ["POST /v1/metrics 404", "GET /v1/traces 405", "POST /v1/traces 415", "POST /v1/traces 415"],
  );
  assert.equal(receiver.spans.length, 0);
});

Deno.test("waitForSpans resolves when matching spans arrive, and at once if they already have", async () => {
  await using receiver = await startOtlpReceiver();
  const waiting = receiver.waitForSpans((spans) => names(spans).includes("second"));
  let settled = false;
  waiting.then(() => settled = true, () => settled = true);

  for (const name of ["first", "second"]) {
    const response = await post(receiver.tracesUrl, await exportBody(JSON_TYPE, name), {
      "content-type": JSON_TYPE,
    });
    await response.body?.cancel();
    // The receiver settles waiters while handling the request, before it answers.
    await Promise.resolve();
    assert.equal(settled, name === "second", `settled after ${name}`);
  }

  assert.deepStrictEqual(names(await waiting), ["first", "second"]);
  const already = await receiver.waitForSpans((spans) => spans.length === 2, { timeoutMs: 1 });
  assert.equal(already.length, 2);
});

Deno.test("waitForSpans rejects after its timeout, listing the spans and requests that came", async () => {
  await using receiver = await startOtlpReceiver();
  await (await post(receiver.tracesUrl, await exportBody(JSON_TYPE, "only this"), {
    "content-type": JSON_TYPE,
  })).body?.cancel();

  await assert.rejects(
    receiver.waitForSpans((spans) => names(spans).includes("never"), { timeoutMs: 50 }),
    (error: Error) => {
      assert.match(error.message, /^waitForSpans: not there after 50 ms/);
      assert.match(
        error.message,
        /1 span\(s\) arrived:\n {2}trace [0-9a-f]{32}:\n {4}- INTERNAL "only this" span=[0-9a-f]{16}/,
      );
      assert.match(
        error.message,
        /1 request\(s\):\n {2}- POST \/v1\/traces application\/json \d+ B → 200, 1 span\(s\)/,
      );
      return true;
    },
  );
});

Deno.test("waitForSpans rejects when the predicate throws or the receiver closes", async () => {
  const receiver = await startOtlpReceiver();
  await assert.rejects(
    receiver.waitForSpans(() => {
      throw new RangeError("bad predicate");
    }),
    RangeError,
  );
  const pending = assert.rejects(
    receiver.waitForSpans(() => false, { timeoutMs: 60_000 }),
    /the receiver closed while waiting/,
  );
  await receiver.close();
  await pending;
  await assert.rejects(receiver.waitForSpans(() => true), /the receiver is closed/);
});

Deno.test("a real OTLPTraceExporter behind a span processor delivers to the receiver", async () => {
  await using receiver = await startOtlpReceiver();
  const exporter = new OTLPTraceExporter({ url: receiver.tracesUrl });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "exporter-test" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const attributes: Attributes = { "http.request.method": "GET", "http.response.status_code": 200 };

  provider.getTracer("edge").startSpan("GET /", { kind: SpanKind.SERVER, attributes }).end();
  const [span] = await receiver.waitForSpans((spans) => spans.length === 1);
  await provider.shutdown();

  assert.equal(span.name, "GET /");
  assert.equal(span.kind, "SERVER");
  assert.deepStrictEqual(span.attributes, attributes);
  assert.deepStrictEqual(span.resourceAttributes["service.name"], "exporter-test");
  assert.equal(receiver.requests[0].contentType, JSON_TYPE);
  assert.match(
    receiver.requests[0].headers.get("user-agent") ?? "",
    /OTel-OTLP-Exporter-JavaScript/,
  );
});

Deno.test("`endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes (with gzip set by env too)", async () => {
  await using receiver = await startOtlpReceiver();
  const variables = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
  };
  const saved = Object.entries(variables).map(([name]) => [name, Deno.env.get(name)] as const);
  let exporter: OTLPTraceExporter;
  try {
    for (const [name, value] of Object.entries(variables)) Deno.env.set(name, value);
    exporter = new OTLPTraceExporter();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }

  const result = await exportWith(exporter, await recordSpans("via env"));
  await exporter.shutdown();

  assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
  assert.deepStrictEqual(names(receiver.spans), ["via env"]);
  assert.equal(receiver.requests[0].path, "/v1/traces");
  assert.equal(receiver.requests[0].contentEncoding, "gzip");
});

Deno.test("respondWith(503) once: the exporter sees the failure, retries and delivers once", async () => {
  await using receiver = await startOtlpReceiver();
  const exporter = new OTLPTraceExporter({ url: receiver.tracesUrl });
  receiver.respondWith(503, RETRY_AT_ONCE, { times: 1 });

  const result = await exportWith(exporter, await recordSpans("retried"));
  await exporter.shutdown();

  assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
  assert.deepStrictEqual(
    receiver.requests.map((request) => [request.status, request.spanCount]),
    [[503, 1], [200, 1]],
  );
  assert.deepStrictEqual(names(receiver.spans), ["retried"]);
});

Deno.test("respondWith(503) until respondNormally(): the export fails, the next one succeeds", async () => {
  await using receiver = await startOtlpReceiver();
  const exporter = new OTLPTraceExporter({ url: receiver.tracesUrl });
  receiver.respondWith(503, RETRY_AT_ONCE);

  const failed = await exportWith(exporter, await recordSpans("rejected"));
  const attempts = receiver.requests.length;
  receiver.respondNormally();
  const succeeded = await exportWith(exporter, await recordSpans("accepted"));
  await exporter.shutdown();

  assert.equal(failed.code, ExportResultCode.FAILED);
  assert.ok(attempts > 1, `the exporter should have retried, made ${attempts} attempt(s)`);
  assert.ok(receiver.requests.slice(0, attempts).every((request) => request.status === 503));
  assert.equal(succeeded.code, ExportResultCode.SUCCESS, String(succeeded.error));
  assert.deepStrictEqual(names(receiver.spans), ["accepted"]);
});

Deno.test("respondWith(429, Retry-After) answers with that status, header and a Status body", async () => {
  await using receiver = await startOtlpReceiver();
  receiver.respondWith(429, { "retry-after": "7" }, { times: 2 });
  const body = await exportBody(JSON_TYPE, "throttled");
  const json = { "content-type": JSON_TYPE };

  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const response = await post(receiver.tracesUrl, body, json);
    statuses.push([response.status, response.headers.get("retry-after")]);
    if (response.status === 429) {
      assert.match((await response.json()).message, /told to answer 429/);
    } else await response.body?.cancel();
  }

  assert.deepStrictEqual(statuses, [[429, "7"], [429, "7"], [200, null]]);
  assert.deepStrictEqual(names(receiver.spans), ["throttled"]);
});

Deno.test("stop() takes the receiver down, restart() brings it back on the same port", async () => {
  await using receiver = await startOtlpReceiver();
  const exporter = new OTLPTraceExporter({ url: receiver.tracesUrl, timeoutMillis: 500 });
  assert.equal(
    (await exportWith(exporter, await recordSpans("before"))).code,
    ExportResultCode.SUCCESS,
  );
  const endpoint = receiver.endpoint;

  await receiver.stop();
  await assert.rejects(post(receiver.tracesUrl, "{}", { "content-type": JSON_TYPE }), TypeError);
  const whileDown = await exportWith(exporter, await recordSpans("lost"));
  await receiver.restart();
  const afterRestart = await exportWith(exporter, await recordSpans("after"));
  await exporter.shutdown();

  assert.equal(whileDown.code, ExportResultCode.FAILED);
  assert.equal(afterRestart.code, ExportResultCode.SUCCESS, String(afterRestart.error));
  assert.equal(receiver.endpoint, endpoint);
  assert.deepStrictEqual(names(receiver.spans), ["before", "after"]);
});

Deno.test("disposing the receiver closes its port", async () => {
  let tracesUrl: string;
  {
    await using receiver = await startOtlpReceiver();
    tracesUrl = receiver.tracesUrl;
    const response = await post(tracesUrl, "{}", { "content-type": JSON_TYPE });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  await assert.rejects(post(tracesUrl, "{}", { "content-type": JSON_TYPE }), TypeError);
});
