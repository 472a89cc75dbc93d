/** Header codecs: W3C traceparent, tracestate and baggage, valid and invalid input. */
import { ROOT_CONTEXT } from "@opentelemetry/api";
import {
  createPropagator,
  formatTraceparent,
  headersGetter,
  headersSetter,
  parseBaggage,
  parseTraceparent,
  serializeBaggage,
  W3CTraceState,
} from "../src/propagation/mod.ts";
import { BAGGAGE, PARENT_ID, SAMPLED_TRACEPARENT, TRACE_ID, TRACESTATE } from "./lib/fixtures.ts";

const group = "traceparent";
Deno.bench("parse valid", { group, baseline: true }, () => {
  parseTraceparent(SAMPLED_TRACEPARENT);
});
Deno.bench("parse invalid (upper-case hex)", { group }, () => {
  parseTraceparent(SAMPLED_TRACEPARENT.toUpperCase());
});
Deno.bench("parse invalid (all-zero trace id)", { group }, () => {
  parseTraceparent(`00-${"0".repeat(32)}-${PARENT_ID}-01`);
});
Deno.bench("format", { group }, () => {
  formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, flags: 1 });
});

const state = W3CTraceState.parse(TRACESTATE)!;
Deno.bench("parse valid (4 members)", { group: "tracestate", baseline: true }, () => {
  W3CTraceState.parse(TRACESTATE);
});
Deno.bench("parse invalid (duplicate key)", { group: "tracestate" }, () => {
  W3CTraceState.parse(`${TRACESTATE},congo=again`);
});
Deno.bench("set + serialize", { group: "tracestate" }, () => {
  state.set("tg", "x1").serialize();
});

const baggage = parseBaggage(BAGGAGE)!;
Deno.bench("parse valid (5 members)", { group: "baggage", baseline: true }, () => {
  parseBaggage(BAGGAGE);
});
Deno.bench("parse invalid (bad key, bad escape)", { group: "baggage" }, () => {
  parseBaggage("bad key=1,ok=%ZZ");
});
Deno.bench("serialize", { group: "baggage" }, () => {
  serializeBaggage(baggage);
});

const propagator = createPropagator(["tracecontext", "baggage"]);
const inbound = new Headers({
  traceparent: SAMPLED_TRACEPARENT,
  tracestate: TRACESTATE,
  baggage: BAGGAGE,
});
const extracted = propagator.extract(ROOT_CONTEXT, inbound, headersGetter);
Deno.bench(
  "extract from Headers",
  { group: "propagator (tracecontext,baggage)", baseline: true },
  () => {
    propagator.extract(ROOT_CONTEXT, inbound, headersGetter);
  },
);
Deno.bench("inject into Headers", { group: "propagator (tracecontext,baggage)" }, () => {
  propagator.inject(extracted, new Headers(), headersSetter);
});
