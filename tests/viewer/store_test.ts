/** The viewer's trace store: grouping, summaries, bounds, search and settle notifications. */
import assert from "node:assert/strict";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { type SettledTrace, TraceStore } from "../../viewer/store.ts";
import { spanRows } from "../../viewer/tree.ts";

const MS = 1_000_000n;
const T0 = 1_700_000_000_000n * MS;

const hexId = (bytes: number) =>
  Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (byte) => byte.toString(16).padStart(2, "0"),
  )
    .join("");
/** Random, but starting with "0" so no search query below can match it as a prefix. */
const traceId = () => `0${hexId(16).slice(1)}`;

/** A span as the decoder gives it; times in ms after T0. */
function span(
  trace: string,
  fields: Partial<Omit<DecodedSpan, "startTimeUnixNano" | "endTimeUnixNano">> & {
    start?: number;
    end?: number;
    service?: string;
  } = {},
): DecodedSpan {
  const { start = 0, end = start + 10, service = "svc", ...rest } = fields;
  return {
    traceId: trace,
    spanId: hexId(8),
    parentSpanId: "",
    traceState: "",
    flags: 1,
    name: "span",
    kind: "INTERNAL",
    startTimeUnixNano: T0 + BigInt(start) * MS,
    endTimeUnixNano: T0 + BigInt(end) * MS,
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET", message: "" },
    resourceAttributes: { "service.name": service },
    scope: { name: "test", version: "" },
    ...rest,
  };
}

/** Resolves with the next `count` settled traces (in settle order). */
function nextSettled(store: TraceStore, count: number): Promise<SettledTrace[]> {
  const settled: SettledTrace[] = [];
  return new Promise((resolve) => {
    const unsubscribe = store.onTraceSettled((trace) => {
      settled.push(trace);
      if (settled.length === count) {
        unsubscribe();
        resolve(settled);
      }
    });
  });
}

Deno.test("spans of one trace arriving in several exports are grouped and summarized", () => {
  const store = new TraceStore({ settleMs: 60_000 });
  const id = traceId();
  const root = span(id, { name: "GET /a", start: 0, end: 100, service: "edge" });
  const client = span(id, { parentSpanId: root.spanId, start: 10, end: 60, service: "edge" });
  const server = span(id, {
    parentSpanId: client.spanId,
    start: 20,
    end: 120,
    service: "backend",
    status: { code: "ERROR", message: "boom" },
    attributes: { "tracegate.request.id": "req-1" },
  });

  store.add([server]);
  store.add([client, root]);
  store.add([server]); // sent again by a retrying exporter: replaces, does not duplicate
  const stored = store.get(id.toUpperCase());
  store.close();

  assert.ok(stored);
  assert.deepStrictEqual(stored.summary, {
    traceId: id,
    rootSpanId: root.spanId,
    rootName: "GET /a",
    rootPath: "",
    rootService: "edge",
    services: ["edge", "backend"],
    startTimeUnixNano: T0,
    durationNano: 120n * MS,
    spanCount: 3,
    droppedSpanCount: 0,
    errorCount: 1,
    requestIds: ["req-1"],
  });
  assert.deepStrictEqual(
    spanRows(stored.spans).map((row) => [row.span.spanId, row.depth]),
    [[root.spanId, 0], [client.spanId, 1], [server.spanId, 2]],
  );
});

Deno.test("without its root yet, a trace's root is its earliest span; orphans stay visible", () => {
  const store = new TraceStore({ settleMs: 60_000 });
  const id = traceId();
  const missingParent = hexId(8);
  const late = span(id, { name: "late", parentSpanId: missingParent, start: 30 });
  const early = span(id, { name: "early", parentSpanId: missingParent, start: 5 });
  const child = span(id, { name: "child", parentSpanId: late.spanId, start: 31 });

  store.add([late, child, early]);
  const stored = store.get(id);
  store.close();

  assert.equal(stored?.summary.rootName, "early");
  assert.deepStrictEqual(
    spanRows(stored.spans).map((row) => `${row.span.name}@${row.depth}`),
    ["early@0", "late@0", "child@1"],
  );
});

Deno.test("a parent cycle still lists every span once", () => {
  const id = traceId();
  const a = span(id, { name: "a", start: 1 });
  const b = span(id, { name: "b", start: 2, parentSpanId: a.spanId });
  const cyclic = [{ ...a, parentSpanId: b.spanId }, b];

  assert.deepStrictEqual(
    spanRows(cyclic).map((row) => `${row.span.name}@${row.depth}`),
    ["a@0", "b@1"],
  );
});

Deno.test("maxTraces keeps the traces most recently added to; maxSpansPerTrace counts drops", () => {
  const store = new TraceStore({ maxTraces: 3, maxSpansPerTrace: 2, settleMs: 60_000 });
  const [first, second, third, fourth] = [traceId(), traceId(), traceId(), traceId()];
  for (const id of [first, second, third]) store.add([span(id)]);
  store.add([span(first)]); // first is now more recent than second
  store.add([span(fourth)]);
  store.add([span(first)]); // a third span: over the per-trace bound

  const kept = store.search().map((summary) => summary.traceId).sort();
  const firstSummary = store.get(first)?.summary;
  store.close();

  assert.deepStrictEqual(kept, [first, third, fourth].sort());
  assert.equal(store.get(second), undefined);
  assert.equal(store.size, 3);
  assert.equal(store.evictedTraceCount, 1);
  assert.equal(firstSummary?.spanCount, 2);
  assert.equal(firstSummary?.droppedSpanCount, 1);
});

Deno.test("search lists newest first; traces starting in the same millisecond, latest arrival first", () => {
  const store = new TraceStore({ settleMs: 60_000 });
  const [early, tiedFirst, tiedSecond, late] = [traceId(), traceId(), traceId(), traceId()];
  store.add([span(tiedFirst, { start: 5 }), span(early, { start: 1 })]);
  store.add([span(late, { start: 9 })]);
  store.add([span(tiedSecond, { start: 5 })]);
  const listed = store.search().map((summary) => summary.traceId);
  store.close();
  assert.deepStrictEqual(listed, [late, tiedSecond, tiedFirst, early]);
});

Deno.test("search: trace id or prefix, request id, attribute or resource value, span name", () => {
  const store = new TraceStore({ settleMs: 60_000 });
  const [older, newer, other] = [traceId(), traceId(), traceId()];
  store.add([
    span(older, { start: 0, attributes: { "http.request.id": "req-abc", "url.path": "/a" } }),
    span(newer, {
      start: 50,
      name: "charge card",
      attributes: { "http.request.id": "req-xyz", "user.ids": [41, 42], "big": 2n ** 70n },
    }),
    span(other, {
      start: 20,
      service: "Billing",
      attributes: { payload: new Uint8Array([0xca, 0xfe]) },
    }),
  ]);
  const ids = (query: string) => store.search(query).map((summary) => summary.traceId);

  try {
    assert.deepStrictEqual(ids(""), [newer, other, older], "newest start first");
    assert.deepStrictEqual(ids(newer), [newer]);
    assert.deepStrictEqual(ids(newer.slice(0, 28).toUpperCase()), [newer]);
    assert.deepStrictEqual(ids("req-abc"), [older]);
    assert.deepStrictEqual(ids("  REQ-XYZ "), [newer]);
    assert.deepStrictEqual(ids("req-"), [newer, older]);
    assert.deepStrictEqual(ids("42"), [newer], "array attribute values");
    assert.deepStrictEqual(ids(String(2n ** 70n)), [newer], "bigint attribute values");
    assert.deepStrictEqual(ids("billing"), [other], "resource attribute values");
    assert.deepStrictEqual(ids("cafe"), [other], "bytes as hex");
    assert.deepStrictEqual(ids("CHARGE"), [newer], "span names");
    assert.deepStrictEqual(ids("nothing like this"), []);
    // Spans of tracegate 0.1 carry the request id as http.request.id: still the trace's request id.
    assert.deepStrictEqual(store.get(older)?.summary.requestIds, ["req-abc"]);
  } finally {
    store.close();
  }
});

Deno.test("a burst of spans settles once, with all of them, ~settleMs after the last", async () => {
  const store = new TraceStore({ settleMs: 50 });
  const id = traceId();
  const settled = nextSettled(store, 1);
  const calls: SettledTrace[] = [];
  store.onTraceSettled((trace) => calls.push(trace));

  store.add([span(id)]);
  await Promise.resolve();
  store.add([span(id), span(id)]);
  const [trace] = await settled;
  store.close();

  assert.equal(trace.summary.traceId, id);
  assert.equal(trace.spans.length, 3);
  assert.equal(trace.update, false);
  assert.equal(calls.length, 1);
});

Deno.test("each new span restarts the wait: a trace still receiving spans is not settled", async () => {
  const store = new TraceStore({ settleMs: 300 });
  const id = traceId();
  const settled = nextSettled(store, 1);
  // Spans every 60 ms for 360 ms: a timer that was not restarted would fire after 300 ms.
  const SPANS = 7;
  for (let i = 0; i < SPANS; i++) {
    store.add([span(id, { start: i })]);
    if (i < SPANS - 1) await new Promise((resolve) => setTimeout(resolve, 60));
  }
  const [trace] = await settled;
  store.close();

  assert.equal(trace.spans.length, SPANS);
});

Deno.test("late spans settle the trace again, as an update", async () => {
  const store = new TraceStore({ settleMs: 20 });
  const id = traceId();
  const first = nextSettled(store, 1);
  store.add([span(id)]);
  const [initial] = await first;
  const second = nextSettled(store, 1);
  store.add([span(id)]);
  const [update] = await second;
  store.close();

  assert.deepStrictEqual([initial.update, initial.spans.length], [false, 1]);
  assert.deepStrictEqual([update.update, update.spans.length], [true, 2]);
});

// The ops sanitizer fails a test that leaves a timer pending: close() must clear them all,
// including those of traces evicted while waiting to settle.
Deno.test({
  name: "close() cancels pending settle timers; a closed store ignores spans",
  sanitizeOps: true,
  fn() {
    const store = new TraceStore({ maxTraces: 2, settleMs: 60_000 });
    for (let i = 0; i < 5; i++) store.add([span(traceId())]);
    store.close();
    store.add([span(traceId())]);
    assert.equal(store.size, 2);
  },
});

Deno.test("bounds must be positive integers", () => {
  assert.throws(() => new TraceStore({ maxTraces: 0 }), /maxTraces must be a positive integer/);
  assert.throws(
    () => new TraceStore({ maxSpansPerTrace: 1.5 }),
    /maxSpansPerTrace must be a positive integer/,
  );
});
