/**
 * The viewer's OTLP/HTTP receiver: what the real OpenTelemetry JS exporters send arrives decoded,
 * bad bodies are refused as the OTLP spec says without losing what is held, and memory stays
 * bounded under a flood.
 */
import assert from "node:assert/strict";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { startViewer } from "../../viewer/server.ts";
import { spanRows } from "../../viewer/tree.ts";
import type { StoredTrace } from "../../viewer/store.ts";
import { serviceOf } from "../../viewer/otlp/spans.ts";
import { serve } from "../support/servers.ts";
import {
  CHECKOUT_TRACE,
  countSpans,
  EARLIER_TRACES,
  type PlannedSpan,
  recordTraces,
  watchSettled,
} from "../support/viewer_traces.ts";

const JSON_TYPE = "application/json";
const PROTOBUF_TYPE = "application/x-protobuf";

type ExporterConfig = NonNullable<ConstructorParameters<typeof JsonExporter>[0]>;
// The exporters type this as an enum of @opentelemetry/otlp-exporter-base, whose value is "gzip".
const GZIP = "gzip" as ExporterConfig["compression"];

interface Exchange {
  readonly contentType: string | null;
  readonly contentEncoding: string | null;
  readonly status: number;
  readonly responseType: string | null;
  readonly responseBody: Uint8Array;
}

/**
 * Passes requests on to `target` unchanged, recording each request's encoding and the answer, so
 * a test sees what went over the wire both ways.
 */
function recordingForwarder(target: string) {
  const exchanges: Exchange[] = [];
  const server = serve(async (request) => {
    const response = await fetch(target, {
      method: request.method,
      headers: request.headers,
      body: await request.bytes(),
    });
    const responseBody = await response.bytes();
    exchanges.push({
      contentType: request.headers.get("content-type"),
      contentEncoding: request.headers.get("content-encoding"),
      status: response.status,
      responseType: response.headers.get("content-type"),
      responseBody,
    });
    return new Response(responseBody, { status: response.status, headers: response.headers });
  });
  return { url: server.url, exchanges, [Symbol.asyncDispose]: () => server.close() };
}

interface SpanView {
  readonly depth: number;
  readonly service: string;
  readonly name: string;
  readonly kind: string;
  readonly durationMs: number;
  readonly status: string;
  readonly attributes: unknown;
  readonly events: readonly string[];
  readonly links: number;
}

/** What a waterfall shows of each span, in row order, from the stored spans. */
function stored(trace: StoredTrace): SpanView[] {
  return spanRows(trace.spans).map(({ span, depth }) => ({
    depth,
    service: serviceOf(span),
    name: span.name,
    kind: span.kind,
    durationMs: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
    status: span.status.code,
    attributes: span.attributes,
    events: span.events.map((event) => event.name),
    links: span.links.length,
  }));
}

/** The same, from the plan the spans were recorded from (siblings are planned in start order). */
function planned(plan: PlannedSpan, depth = 0): SpanView[] {
  return [
    {
      depth,
      service: plan.service,
      name: plan.name,
      kind: ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"][plan.kind ?? 0],
      durationMs: plan.endMs - plan.startMs,
      status: plan.error === undefined ? "UNSET" : "ERROR",
      attributes: plan.attributes ?? {},
      events: plan.exception ? ["exception"] : [],
      links: plan.linkTo === undefined ? 0 : 1,
    },
    ...(plan.children ?? []).flatMap((child) => planned(child, depth + 1)),
  ];
}

for (
  const [encoding, exporter, contentType] of [
    ["JSON", (url: string) => new JsonExporter({ url, compression: GZIP }), JSON_TYPE],
    ["protobuf", (url: string) => new ProtoExporter({ url, compression: GZIP }), PROTOBUF_TYPE],
  ] as const
) {
  Deno.test(`the OTLP/HTTP ${encoding} exporter, gzipped: every span arrives as recorded`, async () => {
    await using viewer = await startViewer({ port: 0 });
    await using wire = recordingForwarder(viewer.tracesUrl);
    using settled = watchSettled(viewer.store);

    const ids = await recordTraces(wire.url, [...EARLIER_TRACES, CHECKOUT_TRACE], { exporter });
    const checkoutId = ids.get("checkout")!.traceId;
    await settled.until((traces) =>
      traces.get(checkoutId)?.spans.length === countSpans(CHECKOUT_TRACE)
    );

    const trace = viewer.store.get(checkoutId);
    assert.ok(trace);
    assert.equal(trace.spans.length, countSpans(CHECKOUT_TRACE));
    assert.deepStrictEqual(stored(trace), planned(CHECKOUT_TRACE));
    const [link] = trace.spans.find((span) => span.links.length > 0)!.links;
    assert.deepStrictEqual([link.traceId, link.spanId], [
      ids.get("cart")!.traceId,
      ids.get("cart")!.spanId,
    ]);

    assert.ok(wire.exchanges.length > 0);
    for (const exchange of wire.exchanges) {
      assert.equal(exchange.contentType, contentType);
      assert.equal(exchange.contentEncoding, "gzip");
      // Full success: an empty ExportTraceServiceResponse in the request's encoding.
      assert.equal(exchange.status, 200);
      assert.equal(exchange.responseType, contentType);
      const body = new TextDecoder().decode(exchange.responseBody);
      assert.equal(body, contentType === JSON_TYPE ? "{}" : "");
    }
  });
}

function post(url: string, body: BodyInit, headers: HeadersInit): Promise<Response> {
  return fetch(url, { method: "POST", body, headers });
}

Deno.test("undecodable bodies get 400 with the reason; the traces held are kept", async () => {
  const logs: string[] = [];
  await using viewer = await startViewer({ port: 0, log: (line) => logs.push(line) });
  const ids = await recordTraces(viewer.tracesUrl, EARLIER_TRACES);
  const cartId = ids.get("cart")!.traceId;
  assert.ok(viewer.store.get(cartId));

  const badJson = await post(viewer.tracesUrl, "{not json", { "content-type": JSON_TYPE });
  const badProto = await post(viewer.tracesUrl, new Uint8Array([0x0a, 0x7f, 0x00]), {
    "content-type": PROTOBUF_TYPE,
  });
  const notGzip = await post(viewer.tracesUrl, "{}", {
    "content-type": JSON_TYPE,
    "content-encoding": "gzip",
  });

  assert.equal(badJson.status, 400);
  assert.equal(badJson.headers.get("content-type"), JSON_TYPE);
  assert.match((await badJson.json()).message, /not valid JSON/);
  assert.equal(badProto.status, 400);
  assert.equal(badProto.headers.get("content-type"), PROTOBUF_TYPE);
  assert.match(new TextDecoder().decode(await badProto.bytes()), /unexpected end of data/);
  assert.equal(notGzip.status, 400);
  assert.match((await notGzip.json()).message, /gzip body could not be decompressed/);
  assert.equal(logs.length, 3);
  assert.match(logs[0], /^viewer: refused a trace export \(400\): .*not valid JSON/);

  assert.equal(viewer.store.size, 2);
  const detail = await fetch(`${viewer.url}/api/traces/${cartId}`);
  assert.equal(detail.status, 200);
  assert.equal((await detail.json()).summary.spanCount, countSpans(EARLIER_TRACES[0]));
});

Deno.test("bodies over the limit get 413, declared, streamed or once unzipped", async () => {
  const limit = 64 * 1024;
  await using viewer = await startViewer({ port: 0, maxBodyBytes: limit });
  const json = { "content-type": JSON_TYPE };
  const oversized = new Uint8Array(limit + 1).fill(0x20);
  const streamed = new Blob([oversized]).stream(); // chunked: no Content-Length to go by
  const bomb = await new Response(
    new Blob([new Uint8Array(limit * 4)]).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  assert.ok(bomb.length < limit);

  const declared = await post(viewer.tracesUrl, oversized, json);
  const chunked = await post(viewer.tracesUrl, streamed, json);
  const unzipped = await post(viewer.tracesUrl, bomb, { ...json, "content-encoding": "gzip" });

  assert.equal(declared.status, 413);
  assert.match((await declared.json()).message, new RegExp(`exceeds ${limit} bytes`));
  assert.equal(chunked.status, 413);
  assert.match((await chunked.json()).message, new RegExp(`exceeds ${limit} bytes`));
  assert.equal(unzipped.status, 413);
  assert.match((await unzipped.json()).message, /decompressed exceeds/);

  const ids = await recordTraces(viewer.tracesUrl, EARLIER_TRACES);
  assert.ok(viewer.store.get(ids.get("cart")!.traceId), "smaller exports still get in");
});

Deno.test("other media types and encodings get 415; other methods 405", async () => {
  await using viewer = await startViewer({ port: 0 });

  const text = await post(viewer.tracesUrl, "{}", { "content-type": "text/plain" });
  const brotli = await post(viewer.tracesUrl, "{}", {
    "content-type": JSON_TYPE,
    "content-encoding": "br",
  });
  const get = await fetch(viewer.tracesUrl);

  assert.equal(text.status, 415);
  assert.match(await text.text(), /unsupported Content-Type "text\/plain"/);
  assert.equal(brotli.status, 415);
  assert.match((await brotli.json()).message, /unsupported Content-Encoding "br"/);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
});

/** `count` finished root spans, each its own trace, in the order they were made. */
async function rootSpans(count: number): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer("flood");
  for (let i = 0; i < count; i++) tracer.startSpan(`request ${i}`).end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]) {
  return new Promise<void>((resolve, reject) =>
    exporter.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) resolve();
      else reject(result.error ?? new Error("export failed"));
    })
  );
}

Deno.test("flooded with 3000 traces, the viewer holds the newest 1000", async () => {
  await using viewer = await startViewer({ port: 0, maxTraces: 1000 });
  const exporter = new JsonExporter({ url: viewer.tracesUrl });
  const spans = await rootSpans(3000);
  const BATCH = 500;

  // One export after the other, so "newest" is well defined.
  for (let i = 0; i < spans.length; i += BATCH) {
    await exportWith(exporter, spans.slice(i, i + BATCH));
  }
  await exporter.shutdown();

  const newest = spans.slice(-1000).map((span) => span.spanContext().traceId).sort();
  const held = viewer.store.search().map((summary) => summary.traceId).sort();
  assert.equal(viewer.store.size, 1000);
  assert.equal(viewer.store.evictedTraceCount, 2000);
  assert.deepStrictEqual(held, newest);
  const listed = await (await fetch(`${viewer.url}/api/traces?limit=5000`)).json();
  assert.equal(listed.stored, 1000);
  assert.equal(listed.traces.length, 1000);
});
