import assert from "node:assert/strict";
import {
  type Context,
  context,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";
import {
  carriesForceToken,
  EdgeSampler,
  isIgnoredPath,
  withRequestFacts,
} from "../../proxy/sampling.ts";
import { createProxy, type Proxy } from "../../proxy/app.ts";
import { tailReason } from "../../src/sampling/tail.ts";
import { DeferredSpan } from "../../src/tracing/deferred_span.ts";
import { W3CTraceState } from "../../src/propagation/tracestate.ts";
import { samplerFromSettings } from "../../src/sampling.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const root = new ParentBasedSampler({ root: new AlwaysOffSampler() });

function decide(sampler: EdgeSampler, ctx = ROOT_CONTEXT) {
  return sampler.shouldSample(ctx, TRACE, "GET", SpanKind.SERVER, {}, []).decision;
}

function remoteParent(flags: TraceFlags) {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE,
    spanId: "00f067aa0ba902b7",
    traceFlags: flags,
    isRemote: true,
  });
}

Deno.test("edge sampling: the request decides, the policy bounds it", () => {
  const sampler = new EdgeSampler(root, { recordForTail: true });
  const forced = { forced: true, ignored: false };
  const plain = { forced: false, ignored: false };
  assert.equal(
    decide(sampler, remoteParent(TraceFlags.SAMPLED)),
    SamplingDecision.RECORD_AND_SAMPLED,
  );
  assert.equal(decide(sampler, remoteParent(TraceFlags.NONE)), SamplingDecision.RECORD);
  assert.equal(decide(sampler, withRequestFacts(ROOT_CONTEXT, plain)), SamplingDecision.RECORD);
  assert.equal(
    decide(sampler, withRequestFacts(ROOT_CONTEXT, forced)),
    SamplingDecision.RECORD_AND_SAMPLED,
  );
  assert.equal(
    decide(
      sampler,
      withRequestFacts(remoteParent(TraceFlags.SAMPLED), { forced: true, ignored: true }),
    ),
    SamplingDecision.NOT_RECORD,
  );
  const noTail = new EdgeSampler(root, { recordForTail: false });
  assert.equal(decide(noTail, remoteParent(TraceFlags.NONE)), SamplingDecision.NOT_RECORD);
});

Deno.test("edge sampling: the cap allows its rate per second, then refills", () => {
  let now = 1_000_000;
  const sampler = new EdgeSampler(root, {
    recordForTail: true,
    maxTracesPerSecond: 2,
    now: () => now,
  });
  const sampled = remoteParent(TraceFlags.SAMPLED);
  assert.equal(decide(sampler, sampled), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(decide(sampler, sampled), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(decide(sampler, sampled), SamplingDecision.NOT_RECORD);
  now += 500; // half a second refills one
  assert.equal(decide(sampler, sampled), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(decide(sampler, sampled), SamplingDecision.NOT_RECORD);
});

Deno.test("edge sampling: children follow the proxy's own span", () => {
  const sampler = new EdgeSampler(root, { recordForTail: true });
  const local = (flags: TraceFlags) =>
    trace.setSpanContext(context.active(), {
      traceId: TRACE,
      spanId: "00f067aa0ba902b7",
      traceFlags: flags,
    });
  assert.equal(decide(sampler, local(TraceFlags.SAMPLED)), SamplingDecision.RECORD_AND_SAMPLED);
  // A wrapped span context does not record: its children neither.
  assert.equal(decide(sampler, local(TraceFlags.NONE)), SamplingDecision.NOT_RECORD);

  // A record-only server span (kept only if a tail rule says so): its children record too, so the
  // whole local trace is there when the rule keeps it.
  const provider = new BasicTracerProvider({ sampler });
  const server = provider.getTracer("edge-test").startSpan(
    "GET",
    { kind: SpanKind.SERVER },
    withRequestFacts(ROOT_CONTEXT, { forced: false, ignored: false }),
  );
  assert.equal(server.isRecording(), true);
  assert.equal(server.spanContext().traceFlags & TraceFlags.SAMPLED, 0);
  assert.equal(decide(sampler, trace.setSpan(ROOT_CONTEXT, server)), SamplingDecision.RECORD);
  server.end();
});

Deno.test("edge sampling: force token compared whole", async () => {
  assert.equal(await carriesForceToken("s3cret", "s3cret"), true);
  assert.equal(await carriesForceToken("s3cre", "s3cret"), false);
  assert.equal(await carriesForceToken("s3cret-and-more", "s3cret"), false);
  assert.equal(await carriesForceToken("", "s3cret"), false);
  assert.equal(await carriesForceToken(null, "s3cret"), false);
  assert.equal(await carriesForceToken("anything", undefined), false);
});

Deno.test("edge sampling: ignored paths and tail reasons", () => {
  assert.equal(isIgnoredPath("/health", ["/health", "/internal/*"]), true);
  assert.equal(isIgnoredPath("/healthz", ["/health"]), false);
  assert.equal(isIgnoredPath("/internal/metrics", ["/internal/*"]), true);
  const rules = { errors: true, slowerThanMs: 1000 };
  const ok = { status: 200, upstreamFailed: false, threw: false, durationMs: 5 };
  assert.equal(tailReason(rules, ok), undefined);
  assert.equal(tailReason(rules, { ...ok, status: 503 }), "error");
  assert.equal(tailReason(rules, { ...ok, threw: true }), "error");
  assert.equal(tailReason(rules, { ...ok, status: 502, upstreamFailed: true }), "upstream_failure");
  assert.equal(tailReason(rules, { ...ok, durationMs: 1500 }), "slow");
  assert.equal(tailReason({ errors: false }, { ...ok, status: 500 }), undefined);
});

Deno.test("edge sampling: only the ratio's own decision carries its threshold", () => {
  const ratio = new EdgeSampler(
    samplerFromSettings({ name: "parentbased_traceidratio", ratio: 1 }),
    { recordForTail: true },
  );
  const traceState = (ctx: Context) =>
    ratio.shouldSample(ctx, TRACE, "GET", SpanKind.SERVER, {}, []).traceState?.serialize();
  assert.equal(
    traceState(withRequestFacts(ROOT_CONTEXT, { forced: false, ignored: false })),
    "ot=th:0",
  );
  const callerWithThreshold = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE,
    spanId: "00f067aa0ba902b7",
    traceFlags: TraceFlags.NONE,
    isRemote: true,
    traceState: W3CTraceState.parse("ot=th:8;rv:ffffffffffffff,a=b"),
  });
  // Kept for a tail rule, or forced: no probability, so no threshold (the rest stays).
  assert.equal(traceState(callerWithThreshold), "ot=rv:ffffffffffffff,a=b");
  const forced = withRequestFacts(callerWithThreshold, { forced: true, ignored: false });
  assert.equal(traceState(forced), "ot=rv:ffffffffffffff,a=b");
});

Deno.test("the proxy records a request not head-sampled only once a tail rule may keep it", async () => {
  const env = { TRACEGATE_UPSTREAM: "http://127.0.0.1:9", OTEL_TRACES_EXPORTER: "none" };
  const start = (proxy: Proxy) =>
    proxy.tracing.startSpan("GET", SpanKind.SERVER, remoteParent(TraceFlags.NONE));
  // The tail rule for errors is on by default: a span the ids can be recorded from later.
  const withTail = createProxy(env, { log: () => {} });
  const deferred = start(withTail);
  assert.ok(deferred instanceof DeferredSpan);
  assert.equal(deferred.isRecording(), false);
  // Sampled requests are recorded from their start.
  const sampled = withTail.tracing.startSpan(
    "GET",
    SpanKind.SERVER,
    remoteParent(TraceFlags.SAMPLED),
  );
  assert.equal(sampled.isRecording(), true);
  sampled.end();
  // No tail rule: nothing to defer either.
  const noTail = createProxy({ ...env, TRACEGATE_TAIL_ERRORS: "false" }, { log: () => {} });
  assert.ok(!(start(noTail) instanceof DeferredSpan));
  await withTail.shutdown();
  await noTail.shutdown();
});
