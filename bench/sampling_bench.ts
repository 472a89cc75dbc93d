/** The sampling decision: the proxy's EdgeSampler and the standard samplers it wraps. */
import { type Context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { EdgeSampler, withRequestFacts } from "../proxy/sampling.ts";
import { samplerFromSettings } from "../src/sampling.ts";
import { PARENT_ID, TRACE_ID } from "./lib/fixtures.ts";

const NEW_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

function remoteParent(flags: number): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID,
    spanId: PARENT_ID,
    traceFlags: flags,
    isRemote: true,
  });
}

const sampledParent = withRequestFacts(remoteParent(1), { forced: false, ignored: false });
const unsampledParent = withRequestFacts(remoteParent(0), { forced: false, ignored: false });
const noParent = withRequestFacts(ROOT_CONTEXT, { forced: false, ignored: false });
const forced = withRequestFacts(ROOT_CONTEXT, { forced: true, ignored: false });

const edge = new EdgeSampler(samplerFromSettings({ name: "parentbased_always_off", ratio: 1 }), {
  recordForTail: true,
});
const capped = new EdgeSampler(samplerFromSettings({ name: "parentbased_always_off", ratio: 1 }), {
  recordForTail: true,
  maxTracesPerSecond: 1e9,
});

function decide(sampler: EdgeSampler | ReturnType<typeof samplerFromSettings>, ctx: Context) {
  sampler.shouldSample(ctx, NEW_TRACE_ID, "GET", SpanKind.SERVER, {}, []);
}

const group = "EdgeSampler (proxy)";
Deno.bench("sampled remote parent", { group, baseline: true }, () => decide(edge, sampledParent));
Deno.bench(
  "unsampled remote parent (record for tail)",
  { group },
  () => decide(edge, unsampledParent),
);
Deno.bench("no parent, root off", { group }, () => decide(edge, noParent));
Deno.bench("force header", { group }, () => decide(edge, forced));
Deno.bench("sampled remote parent, rate cap on", { group }, () => decide(capped, sampledParent));

const standard = "standard samplers (src/sampling.ts)";
const parentBasedOn = samplerFromSettings({ name: "parentbased_always_on", ratio: 1 });
const ratio = samplerFromSettings({ name: "parentbased_traceidratio", ratio: 0.1 });
Deno.bench(
  "parentbased_always_on, sampled parent",
  { group: standard, baseline: true },
  () => decide(parentBasedOn, sampledParent),
);
Deno.bench(
  "parentbased_always_on, no parent",
  { group: standard },
  () => decide(parentBasedOn, noParent),
);
Deno.bench(
  "parentbased_traceidratio 0.1, no parent",
  { group: standard },
  () => decide(ratio, noParent),
);
