/** The debug line's explanation of a decision, for each way a request is or is not traced. */
import assert from "node:assert/strict";
import { type SpanContext, TraceFlags } from "@opentelemetry/api";
import { type DecisionFacts, describeDecision } from "../../src/sampling/reason.ts";

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
