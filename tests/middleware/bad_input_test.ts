/**
 * Hostile and malformed input: bad trace headers, oversized and non-ASCII values, repeated
 * header lines, a bad request id, bad configuration. Each request must still be answered, its
 * span be valid, and only valid context go onward: the app calls an echo server through
 * `c.var.tracedFetch`, and the test reads what the echo server received. Requests go out over a
 * raw socket, since `fetch` would merge repeated lines and refuse non-ASCII values; those with
 * headers past what Deno.serve takes (it answers 400 from 64 KB on) go straight to `app.fetch`,
 * as a runtime with a higher limit would hand them over.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  type MiddlewareOptions,
  tracegate,
  type TracegateEnv,
  type TracingBuildOptions,
} from "../../middleware/mod.ts";
import { createSpanExporter } from "../../src/export/exporter.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { rawHttp } from "../support/raw_client.ts";
import { echoServer, serve } from "../support/servers.ts";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const CALLER = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/;
const GENERATED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

type HeaderLines = readonly (readonly [string, string])[];

/** What one request through the app gave: its answer, what went onward, and its two spans. */
interface Outcome {
  readonly status: number;
  readonly headers: Headers;
  readonly requestId: string;
  /** The headers the echo server received from the app's traced call. */
  readonly onward: Record<string, string>;
  readonly server: DecodedSpan;
  readonly client: DecodedSpan;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

interface Harness extends AsyncDisposable {
  /** Sends GET /fanout with exactly these header lines and waits for the request's spans. */
  call(headers: HeaderLines): Promise<Outcome>;
  /** The same, handed to `app.fetch` without an HTTP server in between. */
  callInProcess(headers: HeaderLines): Promise<Outcome>;
}

function startHarness(
  receiver: OtlpReceiver,
  options: TracingBuildOptions & MiddlewareOptions = {},
): Harness {
  const echo = echoServer();
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    registerGlobals: false,
    ...options,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...options.env },
  }));
  app.get("/fanout", async (c) => {
    const response = await c.var.tracedFetch(`${echo.url}/onward`);
    const { headers } = await response.json();
    return c.json({ requestId: c.var.requestId, onward: headers });
  });
  const server = serve((request, info) => app.fetch(request, info));
  const inProcess = async (headers: HeaderLines): Promise<Answer> => {
    const request = new Request(`${server.url}/fanout`, {
      headers: headers.map(([name, value]) => [name, value]),
    });
    const response = await app.fetch(request);
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  return {
    call: (headers) => outcomeOf(rawHttp(server.port, { target: "/fanout", headers }), receiver),
    callInProcess: (headers) => outcomeOf(inProcess(headers), receiver),
    async [Symbol.asyncDispose]() {
      await server.close();
      await echo.close();
    },
  };
}

async function outcomeOf(answer: Promise<Answer>, receiver: OtlpReceiver): Promise<Outcome> {
  const response = await answer;
  assert.equal(response.status, 200, response.body);
  const { requestId, onward } = JSON.parse(response.body);
  const ofRequest = (kind: string) => (span: DecodedSpan) =>
    span.kind === kind && span.attributes["tracegate.request.id"] === requestId;
  const spans = await receiver.waitForSpans((all) =>
    all.some(ofRequest("SERVER")) && all.some(ofRequest("CLIENT"))
  );
  const outcome: Outcome = {
    status: response.status,
    headers: response.headers,
    requestId,
    onward,
    server: spans.find(ofRequest("SERVER"))!,
    client: spans.find(ofRequest("CLIENT"))!,
  };
  assertSound(outcome);
  return outcome;
}

/** What holds whatever came in: a valid span, its id echoed, only valid context onward. */
function assertSound({ headers, requestId, onward, server, client }: Outcome): void {
  assert.match(server.traceId, /^[0-9a-f]{32}$/);
  assert.match(server.spanId, /^[0-9a-f]{16}$/);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.traceId, server.traceId);
  assert.equal(headers.get("x-request-id"), requestId);
  assert.equal(onward["x-request-id"], requestId);
  for (const [name, value] of Object.entries(onward)) {
    assert.match(value, PRINTABLE_ASCII, `${name} went onward with a non-ASCII value`);
  }
  if (onward.traceparent !== undefined) {
    assert.match(onward.traceparent, TRACEPARENT);
    assert.equal(onward.traceparent.slice(3, 52), `${server.traceId}-${client.spanId}`);
  }
}

/** The inbound context was refused: a new trace, and nothing of the caller's onward. */
function assertNewTrace(outcome: Outcome): void {
  assert.equal(outcome.server.parentSpanId, "");
  assert.notEqual(outcome.server.traceId, CALLER_TRACE);
  assert.match(outcome.onward.traceparent, TRACEPARENT);
  assert.equal(outcome.onward.tracestate, undefined);
}

function assertContinued(outcome: Outcome): void {
  assert.equal(outcome.server.traceId, CALLER_TRACE);
  assert.equal(outcome.server.parentSpanId, CALLER_SPAN);
}

function assertReplacedId(outcome: Outcome, sent: string): void {
  assert.notEqual(outcome.requestId, sent);
  assert.match(outcome.requestId, GENERATED_ID);
}

/** Comma-separated `key=value` members, added until the value reaches `bytes`. */
function longList(bytes: number, member: (index: number) => string): string {
  const members: string[] = [];
  for (let length = 0, index = 0; length < bytes; index++) {
    members.push(member(index));
    length += members[index].length + 1;
  }
  return members.join(",");
}

Deno.test("bad input: malformed traceparents start a new trace", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using app = startHarness(receiver);
  const cases: Record<string, HeaderLines> = {
    "upper-case hex": [["traceparent", CALLER.toUpperCase()]],
    "version ff": [["traceparent", `ff-${CALLER_TRACE}-${CALLER_SPAN}-01`]],
    "all-zero trace id": [["traceparent", `00-${"0".repeat(32)}-${CALLER_SPAN}-01`]],
    "all-zero parent id": [["traceparent", `00-${CALLER_TRACE}-${"0".repeat(16)}-01`]],
    "two header lines": [
      ["traceparent", CALLER],
      ["traceparent", `00-${"1".repeat(32)}-${"2".repeat(16)}-01`],
    ],
    "two values on one line": [["traceparent", `${CALLER}, ${CALLER}`]],
    "non-ASCII": [["traceparent", `00-${CALLER_TRACE}-${CALLER_SPAN.slice(0, 15)}é-01`]],
  };
  for (const [name, headers] of Object.entries(cases)) {
    await t.step(name, async () => {
      assertNewTrace(await app.call([...headers, ["tracestate", "vendor=abc"]]));
    });
  }
});

Deno.test("bad input: oversized and non-ASCII trace state and baggage", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using app = startHarness(receiver);

  await t.step("a 100 KB tracestate", async () => {
    const tracestate = longList(100 * 1024, (i) => `k${i}=v${i}`);
    const outcome = await app.callInProcess([["traceparent", CALLER], ["tracestate", tracestate]]);
    assertContinued(outcome);
    const inbound = new Set(tracestate.split(","));
    for (const state of [outcome.onward.tracestate ?? "", outcome.server.traceState]) {
      const members = state === "" ? [] : state.split(",");
      assert.ok(members.length <= 32 && state.length <= 512, `tracestate kept too long: ${state}`);
      for (const member of members) assert.ok(inbound.has(member), member);
    }
  });

  await t.step("a 100 KB baggage", async () => {
    const baggage = longList(100 * 1024, (i) => `key${i}=${"v".repeat(40)}`);
    const outcome = await app.callInProcess([["baggage", baggage]]);
    const onward = outcome.onward.baggage;
    assert.ok(onward.length <= 8192, `${onward.length} bytes of baggage went onward`);
    const members = onward.split(",");
    assert.ok(members.length > 0 && members.length <= 180);
    const inbound = new Set(baggage.split(","));
    for (const member of members) assert.ok(inbound.has(member), member);
  });

  await t.step("non-ASCII tracestate and baggage members", async () => {
    const outcome = await app.call([
      ["traceparent", CALLER],
      ["tracestate", "vendor=café,other=1"],
      ["baggage", "user=café,plain=1"],
    ]);
    assertContinued(outcome);
    // An invalid member voids the whole tracestate, but only itself in baggage.
    assert.equal(outcome.onward.tracestate, undefined);
    assert.equal(outcome.server.traceState, "");
    assert.equal(outcome.onward.baggage, "plain=1");
  });

  await t.step("repeated lines of list headers are one list", async () => {
    const outcome = await app.call([
      ["traceparent", CALLER],
      ["tracestate", "a=1"],
      ["tracestate", "b=2"],
      ["baggage", "k1=v1"],
      ["baggage", "k2=v2"],
    ]);
    assertContinued(outcome);
    assert.equal(outcome.onward.tracestate, "a=1,b=2");
    assert.equal(outcome.onward.baggage, "k1=v1,k2=v2");
  });
});

Deno.test("bad input: a bad X-Request-ID is replaced, echoed and forwarded", async (t) => {
  await using receiver = await startOtlpReceiver();
  await using app = startHarness(receiver);
  const cases: Record<string, HeaderLines> = {
    "10 KB long": [["x-request-id", "a".repeat(10 * 1024)]],
    "non-ASCII": [["x-request-id", "réquest-1"]],
    "two header lines": [["x-request-id", "first"], ["x-request-id", "second"]],
  };
  for (const [name, headers] of Object.entries(cases)) {
    await t.step(name, async () => {
      const outcome = await app.call(headers);
      for (const [, sent] of headers) assertReplacedId(outcome, sent);
      assert.equal(outcome.server.attributes["tracegate.request.id"], outcome.requestId);
    });
  }
});

Deno.test("bad input: each bad variable is logged once; requests flow with its default", async () => {
  await using receiver = await startOtlpReceiver();
  const logs: string[] = [];
  await using app = startHarness(receiver, {
    env: {
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "abc",
      OTEL_EXPORTER_OTLP_ENDPOINT: "not a url",
      OTEL_PROPAGATORS: "bogus",
      TRACEGATE_SERVER_TIMING: "maybe",
    },
    // The endpoint's default (localhost:4318) is not the test's to send to: the spans go to the
    // receiver through an exporter passed in, while the variable is still read and checked.
    exporter: createSpanExporter({
      kind: "otlp",
      tracesUrl: receiver.tracesUrl,
      protocol: "http/protobuf",
      compression: "none",
      headers: {},
      timeoutMs: 5000,
    }),
    log: (line) => logs.push(line),
  });

  for (let i = 0; i < 3; i++) {
    // Default propagators: the caller's trace and baggage are continued and go onward. Default
    // ratio 1: every root trace is sampled.
    const continued = await app.call([["traceparent", CALLER], ["baggage", "k=v"]]);
    assertContinued(continued);
    assert.equal(continued.onward.baggage, "k=v");
    const root = await app.call([]);
    assert.equal(root.server.parentSpanId, "");
    // Server-Timing on by default.
    assert.match(root.headers.get("server-timing") ?? "", /traceparent;desc="00-/);
  }

  const expected = [
    /OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, got "abc"/,
    /OTEL_EXPORTER_OTLP_ENDPOINT: expected an absolute http:\/\/ or https:\/\/ URL, got "not a url"/,
    /OTEL_PROPAGATORS: expected a comma-separated list of tracecontext, baggage, b3, b3multi, none/,
    /TRACEGATE_SERVER_TIMING: expected true or false, got "maybe"/,
  ];
  assert.equal(logs.length, expected.length, logs.join("\n"));
  for (const pattern of expected) {
    assert.equal(logs.filter((line) => pattern.test(line)).length, 1, `${pattern}: ${logs}`);
  }
});

Deno.test("bad input: propagators chosen by OTEL_PROPAGATORS, options first", async (t) => {
  await using receiver = await startOtlpReceiver();
  const OTHER_TRACE = "a".repeat(32);

  await t.step("b3: a single b3 header in, b3 onward", async () => {
    await using app = startHarness(receiver, { env: { OTEL_PROPAGATORS: "b3" } });
    const outcome = await app.call([["b3", `${CALLER_TRACE}-${CALLER_SPAN}-1`]]);
    assertContinued(outcome);
    assert.equal(outcome.onward.b3, `${CALLER_TRACE}-${outcome.client.spanId}-1`);
    assert.equal(outcome.onward.traceparent, undefined);
  });

  await t.step("b3multi: X-B3-* headers in and onward", async () => {
    await using app = startHarness(receiver, { env: { OTEL_PROPAGATORS: "b3multi" } });
    const outcome = await app.call([
      ["x-b3-traceid", CALLER_TRACE],
      ["x-b3-spanid", CALLER_SPAN],
      ["x-b3-sampled", "1"],
    ]);
    assertContinued(outcome);
    assert.equal(outcome.onward["x-b3-traceid"], CALLER_TRACE);
    assert.equal(outcome.onward["x-b3-spanid"], outcome.client.spanId);
    assert.equal(outcome.onward["x-b3-sampled"], "1");
    assert.equal(outcome.onward.b3, undefined);
    assert.equal(outcome.onward.traceparent, undefined);
  });

  await t.step("none: no context in, none onward", async () => {
    await using app = startHarness(receiver, { env: { OTEL_PROPAGATORS: "none" } });
    const outcome = await app.call([
      ["traceparent", CALLER],
      ["b3", `${CALLER_TRACE}-${CALLER_SPAN}-1`],
      ["baggage", "k=v"],
    ]);
    assert.equal(outcome.server.parentSpanId, "");
    assert.notEqual(outcome.server.traceId, CALLER_TRACE);
    for (const field of ["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid"]) {
      assert.equal(outcome.onward[field], undefined, `${field} went onward`);
    }
  });

  await t.step("options win over the environment", async () => {
    await using app = startHarness(receiver, {
      env: { OTEL_PROPAGATORS: "b3", TRACEGATE_SERVER_TIMING: "false" },
      propagators: ["tracecontext"],
      serverTiming: true,
    });
    const outcome = await app.call([
      ["traceparent", CALLER],
      ["b3", `${OTHER_TRACE}-${CALLER_SPAN}-1`],
    ]);
    assertContinued(outcome);
    assert.match(outcome.onward.traceparent, new RegExp(`^00-${CALLER_TRACE}-`));
    assert.equal(outcome.onward.b3, undefined);
    assert.match(outcome.headers.get("server-timing") ?? "", /traceparent;desc=/);
  });
});
