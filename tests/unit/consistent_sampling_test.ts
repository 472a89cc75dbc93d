/**
 * Consistent probability sampling against the OpenTelemetry "TraceState: Probability Sampling"
 * specification: its table of thresholds, its rv/th rules, and the kept fraction of many traces.
 */
import assert from "node:assert/strict";
import { type Context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from "@opentelemetry/api";
import { type Sampler, SamplingDecision } from "@opentelemetry/sdk-trace-base";
import { TraceContextPropagator } from "../../src/propagation/trace_context.ts";
import { W3CTraceState } from "../../src/propagation/tracestate.ts";
import { samplerFromSettings } from "../../src/sampling.ts";
import { ConsistentRatioSampler } from "../../src/sampling/consistent_ratio_sampler.ts";
import {
  encodeThreshold,
  probabilityToThreshold,
  readOtSampling,
  thresholdToProbability,
} from "../../src/sampling/threshold.ts";
import { seededRandom } from "../support/seeded_random.ts";

/** The specification's table: 1-in-N, thresholds at precision 3, 4 and 5. */
const SPEC_TABLE: ReadonlyArray<readonly [number, string, string, string]> = [
  [1, "0", "0", "0"],
  [2, "8", "8", "8"],
  [3, "aab", "aaab", "aaaab"],
  [4, "c", "c", "c"],
  [5, "ccd", "cccd", "ccccd"],
  [8, "e", "e", "e"],
  [10, "e66", "e666", "e6666"],
  [16, "f", "f", "f"],
  [100, "fd71", "fd70a", "fd70a4"],
  [1000, "ffbe7", "ffbe77", "ffbe76d"],
  [10000, "fff972", "fff9724", "fff97247"],
  [100000, "ffff584", "ffff583a", "ffff583a5"],
  [1000000, "ffffef4", "ffffef39", "ffffef391"],
];

Deno.test("consistent sampling: thresholds match the specification's table", () => {
  for (const [n, p3, p4, p5] of SPEC_TABLE) {
    const probability = 1 / n;
    assert.equal(encodeThreshold(probabilityToThreshold(probability, 3)), p3, `1/${n} @3`);
    assert.equal(encodeThreshold(probabilityToThreshold(probability, 4)), p4, `1/${n} @4`);
    assert.equal(encodeThreshold(probabilityToThreshold(probability, 5)), p5, `1/${n} @5`);
    assert.equal(encodeThreshold(probabilityToThreshold(probability)), p4, "4 digits by default");
  }
  // "1% ... with 5 digits of precision would be ≈ 71337018784743424 = 0xfd70a400000000"
  const onePercent = readOtSampling(W3CTraceState.parse("ot=th:fd70a4")).threshold;
  assert.equal(onePercent, 71337018784743424n);
  assert.equal(thresholdToProbability(probabilityToThreshold(1 / 3)), 0.3333282470703125);
});

const TRACE_HEAD = "4bf92f3577b34da6a3";

/** A trace id whose randomness (last 14 hex digits) is `r`. */
const traceWith = (r: string) => `${TRACE_HEAD}${r}`;

function decide(
  sampler: Sampler,
  traceId: string,
  ctx: Context = ROOT_CONTEXT,
) {
  const result = sampler.shouldSample(ctx, traceId, "GET", SpanKind.SERVER, {}, []);
  return {
    sampled: result.decision === SamplingDecision.RECORD_AND_SAMPLED,
    tracestate: result.traceState?.serialize() ?? "",
  };
}

/** The context `TraceContextPropagator` extracts from a caller's headers. */
function fromCaller(traceparent: string, tracestate?: string): Context {
  const headers = new Headers({ traceparent, ...(tracestate ? { tracestate } : {}) });
  return new TraceContextPropagator().extract(ROOT_CONTEXT, headers, {
    get: (carrier, key) => (carrier as Headers).get(key) ?? undefined,
    keys: (carrier) => [...(carrier as Headers).keys()],
  });
}

Deno.test("consistent sampling: R >= T keeps, and the threshold is written as ot=th", () => {
  const half = new ConsistentRatioSampler(0.5);
  assert.deepEqual(decide(half, traceWith("80000000000000")), {
    sampled: true,
    tracestate: "ot=th:8",
  });
  assert.deepEqual(decide(half, traceWith("7fffffffffffff")), { sampled: false, tracestate: "" });
  const third = new ConsistentRatioSampler(1 / 3);
  assert.deepEqual(decide(third, traceWith("aaab0000000000")), {
    sampled: true,
    tracestate: "ot=th:aaab",
  });
  assert.equal(decide(third, traceWith("aaaaffffffffff")).sampled, false);
  assert.deepEqual(decide(new ConsistentRatioSampler(1), traceWith("00000000000000")), {
    sampled: true,
    tracestate: "ot=th:0",
  });
  assert.deepEqual(decide(new ConsistentRatioSampler(0), traceWith("ffffffffffffff")), {
    sampled: false,
    tracestate: "",
  });
});

Deno.test("consistent sampling: an explicit rv wins over the trace id and travels on", () => {
  const thousandth = new ConsistentRatioSampler(1 / 1000);
  const flags = "-00f067aa0ba902b7-03";
  const kept = fromCaller(
    `00-${traceWith("00000000000000")}${flags}`,
    "ot=rv:ffffffffffffff;x:1,other=v",
  );
  assert.deepEqual(decide(thousandth, traceWith("00000000000000"), kept), {
    sampled: true,
    tracestate: "ot=th:ffbe77;rv:ffffffffffffff;x:1,other=v",
  });
  const dropped = fromCaller(`00-${traceWith("ffffffffffffff")}${flags}`, "ot=rv:00000000000000");
  assert.deepEqual(decide(thousandth, traceWith("ffffffffffffff"), dropped), {
    sampled: false,
    tracestate: "ot=rv:00000000000000",
  });
  // An rv that is not exactly 14 hex digits is no randomness: the trace id decides.
  const malformed = fromCaller(`00-${traceWith("ffffffffffffff")}${flags}`, "ot=rv:00");
  assert.equal(decide(thousandth, traceWith("ffffffffffffff"), malformed).sampled, true);
});

Deno.test("consistent sampling: without the random flag or rv, no threshold is claimed", () => {
  const half = new ConsistentRatioSampler(0.5);
  const id = traceWith("c0000000000000");
  const level1 = fromCaller(`00-${id}-00f067aa0ba902b7-00`);
  assert.deepEqual(decide(half, id, level1), { sampled: true, tracestate: "" });
  const level2 = fromCaller(`00-${id}-00f067aa0ba902b7-02`);
  assert.deepEqual(decide(half, id, level2), { sampled: true, tracestate: "ot=th:8" });
});

Deno.test("consistent sampling: parent-based mode keeps a caller's threshold, erases a false one", () => {
  const sampler = samplerFromSettings({ name: "parentbased_traceidratio", ratio: 0.5 });
  const id = traceWith("d0000000000000");
  const consistent = fromCaller(`00-${id}-00f067aa0ba902b7-03`, "ot=th:c;rv:e0000000000000,a=b");
  assert.deepEqual(decide(sampler, id, consistent), {
    sampled: true,
    tracestate: "ot=th:c;rv:e0000000000000,a=b",
  });
  // Sampled, yet its randomness (rv) is below its threshold: the threshold cannot be true.
  const inconsistent = fromCaller(`00-${id}-00f067aa0ba902b7-03`, "ot=th:f;rv:10000000000000,a=b");
  assert.deepEqual(decide(sampler, id, inconsistent), {
    sampled: true,
    tracestate: "ot=rv:10000000000000,a=b",
  });
  // An unsampled caller stays unsampled whatever the ratio would say.
  const unsampled = fromCaller(`00-${traceWith("ffffffffffffff")}-00f067aa0ba902b7-02`, "ot=th:0");
  assert.equal(decide(sampler, traceWith("ffffffffffffff"), unsampled).sampled, false);
  // A root decides by ratio and writes its threshold.
  assert.deepEqual(decide(sampler, id), { sampled: true, tracestate: "ot=th:8" });
  // Children of a local sampled span inherit, they do not re-decide.
  const local = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceWith("00000000000000"),
    spanId: "00f067aa0ba902b7",
    traceFlags: TraceFlags.SAMPLED,
  });
  assert.equal(decide(sampler, traceWith("00000000000000"), local).sampled, true);
});

function randomTraceId(next: () => number): string {
  let id = "";
  for (let i = 0; i < 4; i++) id += Math.floor(next() * 2 ** 32).toString(16).padStart(8, "0");
  return id;
}

Deno.test("consistent sampling: the kept fraction matches the ratio", () => {
  const next = seededRandom(20261202);
  const traces = 20_000;
  for (const ratio of [0.5, 1 / 3, 0.1, 0.01]) {
    const sampler = new ConsistentRatioSampler(ratio);
    let kept = 0;
    for (let i = 0; i < traces; i++) if (decide(sampler, randomTraceId(next)).sampled) kept++;
    // Five standard deviations of a binomial count: a wrong threshold lands far outside.
    const slack = 5 * Math.sqrt(traces * ratio * (1 - ratio));
    assert.ok(
      Math.abs(kept - traces * ratio) < slack,
      `ratio ${ratio}: kept ${kept} of ${traces}, expected ${traces * ratio} ± ${slack.toFixed(0)}`,
    );
  }
});
