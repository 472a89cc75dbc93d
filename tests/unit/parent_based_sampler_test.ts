import assert from "node:assert/strict";
import {
  type Context,
  ROOT_CONTEXT,
  type Sampler,
  type SpanContext,
  SpanKind,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler as SdkParentBasedSampler,
  type Sampler as SdkSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { knownValid } from "../../src/propagation/valid_span_context.ts";
import { ParentBasedSampler } from "../../src/sampling/parent_based_sampler.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";

/** Names its decision, so that which delegate answered shows in the result. */
class Marked implements SdkSampler {
  constructor(readonly name: string, readonly decision: SamplingDecision) {}
  shouldSample() {
    return { decision: this.decision, attributes: { delegate: this.name } };
  }
  toString() {
    return `Marked(${this.name})`;
  }
}

function parents(): [string, Context][] {
  const contexts: [string, Context][] = [["no parent", ROOT_CONTEXT]];
  for (const isRemote of [true, false, undefined]) {
    for (const traceFlags of [TraceFlags.NONE, TraceFlags.SAMPLED, 0x03]) {
      const fields: SpanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags, isRemote };
      const name = `remote ${isRemote}, flags ${traceFlags}`;
      contexts.push([`${name}, plain`, trace.setSpanContext(ROOT_CONTEXT, fields)]);
      contexts.push([
        `${name}, known valid`,
        trace.setSpanContext(ROOT_CONTEXT, knownValid(fields)),
      ]);
      for (const invalid of [{ traceId: "0".repeat(32) }, { spanId: "XYZ" }, { traceId: "" }]) {
        contexts.push([
          `${name}, invalid ${JSON.stringify(invalid)}`,
          trace.setSpanContext(ROOT_CONTEXT, { ...fields, ...invalid }),
        ]);
      }
    }
  }
  return contexts;
}

Deno.test("decides as the SDK's ParentBasedSampler, for every kind of parent and delegate", () => {
  const configs: Record<string, SdkSampler>[] = [
    { root: new AlwaysOnSampler() },
    { root: new AlwaysOffSampler() },
    { root: new TraceIdRatioBasedSampler(0.5) },
    {
      root: new Marked("root", SamplingDecision.RECORD),
      remoteParentSampled: new Marked("remote sampled", SamplingDecision.RECORD_AND_SAMPLED),
      remoteParentNotSampled: new Marked("remote not sampled", SamplingDecision.NOT_RECORD),
      localParentSampled: new Marked("local sampled", SamplingDecision.RECORD),
      localParentNotSampled: new Marked("local not sampled", SamplingDecision.NOT_RECORD),
    },
  ];
  for (const config of configs) {
    const ours = new ParentBasedSampler(config as { root: Sampler });
    const sdk = new SdkParentBasedSampler(config as { root: SdkSampler });
    assert.equal(ours.toString(), sdk.toString());
    for (const [name, ctx] of parents()) {
      assert.deepEqual(
        ours.shouldSample(ctx, TRACE_ID, "GET", SpanKind.SERVER, {}, []),
        sdk.shouldSample(ctx, TRACE_ID, "GET", SpanKind.SERVER, {}, []),
        `${sdk}: ${name}`,
      );
    }
  }
});
