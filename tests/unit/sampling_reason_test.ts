/** The sampling reason: what the samplers add to a decision, and the debug line that explains one. */
import assert from "node:assert/strict";
import { ROOT_CONTEXT, type SpanContext, SpanKind, TraceFlags } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { AlwaysOnSampler, type Sampler, SamplingDecision } from "@opentelemetry/sdk-trace-base";
import { type DecisionFacts, describeDecision, ReasonSampler } from "../../src/sampling/reason.ts";

const span = (flags: TraceFlags): SpanContext => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: flags,
});
const off = { name: "parentbased_always_off", ratio: 1 } as const;
const untraced = { span: span(TraceFlags.NONE), sampler: off } satisfies DecisionFacts;

Deno.test("decision explained: traced, and each reason a request is not", () => {
  const table: [DecisionFacts, string][] = [
    [{ ...untraced, span: span(TraceFlags.SAMPLED), reason: "force" }, "traced (reason: force)"],
    [
      { ...untraced, force: "absent" },
      "not traced: no sampled parent; no force header; root sampler off",
    ],
    [
      { ...untraced, force: "token mismatch" },
      "not traced: no sampled parent; force header present, token mismatch; root sampler off",
    ],
    [
      { ...untraced, parent: span(TraceFlags.NONE), force: "absent" },
      "not traced: caller's traceparent not sampled; no force header",
    ],
    [
      { ...untraced, parent: span(TraceFlags.SAMPLED), force: "absent" },
      "not traced: no force header; over TRACEGATE_MAX_TRACES_PER_SECOND",
    ],
    [
      { ...untraced, force: "valid" },
      "not traced: no sampled parent; over TRACEGATE_MAX_TRACES_PER_SECOND",
    ],
    [
      { ...untraced, sampler: { name: "parentbased_traceidratio", ratio: 0.1 } },
      "not traced: no sampled parent; not in the ratio 0.1 (or over TRACEGATE_MAX_TRACES_PER_SECOND)",
    ],
    [
      { ...untraced, ignoredPath: true, force: "valid" },
      "not traced: path in TRACEGATE_IGNORE_PATHS",
    ],
  ];
  for (const [facts, expected] of table) assert.equal(describeDecision(facts), expected);
});

Deno.test("the reason is added to the sampler's decision, its attributes and trace state kept", () => {
  const traceState = new TraceState("vendor=value");
  const withAttributes: Sampler = {
    shouldSample: () => ({
      decision: SamplingDecision.RECORD_AND_SAMPLED,
      attributes: { "sampler.own": 1 },
      traceState,
    }),
    toString: () => "withAttributes",
  };
  const decide = (sampler: Sampler) =>
    new ReasonSampler(sampler, { name: "always_on", ratio: 1 })
      .shouldSample(
        ROOT_CONTEXT,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "GET",
        SpanKind.SERVER,
        {},
        [],
      );
  const kept = decide(withAttributes);
  assert.equal(kept.decision, SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(kept.traceState, traceState);
  assert.deepEqual(kept.attributes, { "sampler.own": 1, "tracegate.sampling.reason": "always_on" });
  assert.deepEqual(decide(new AlwaysOnSampler()).attributes, {
    "tracegate.sampling.reason": "always_on",
  });
});
