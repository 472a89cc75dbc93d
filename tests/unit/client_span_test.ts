/**
 * `ClientSpan` on the parts of a request (header pairs, the proxy's upstream call) writes what it
 * writes into a built Request's `Headers` (delete the propagator's fields, inject, set the request
 * id): the pairs form is hand-written to spare Deno's per-field validation, so it is compared
 * with the Headers form, which the Fetch API implements.
 */
import assert from "node:assert/strict";
import { context, propagation, type Span, trace } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { readTracingSettings } from "../../src/config/settings.ts";
import { ClientSpan } from "../../src/tracing/client.ts";
import { withRequestId } from "../../src/tracing/request_id.ts";
import { createTracing } from "../../src/tracing/setup.ts";
import { knownValid } from "../../src/propagation/valid_span_context.ts";

const NO_EXPORT: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

/** Inbound fields a forwarded request may carry: stale trace headers in any case, and others. */
const FORWARDED: [string, string][] = [
  ["Traceparent", "00-00000000000000000000000000000000-0000000000000000-00"],
  ["tracestate", "stale=1"],
  ["BAGGAGE", "stale=1"],
  ["X-Request-ID", "inbound-id"],
  ["b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"],
  ["X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"],
  ["x-b3-sampled", "1"],
  ["accept", "text/plain"],
  ["X-Kept", "yes"],
];

for (const propagators of ["tracecontext,baggage", "tracecontext,baggage,b3,b3multi", "b3multi"]) {
  Deno.test(`ClientSpan: header pairs get what a Request's Headers get (${propagators})`, async () => {
    const { settings } = readTracingSettings({ OTEL_PROPAGATORS: propagators }, {
      serviceName: "test",
      sampler: "parentbased_always_on",
    });
    const tracing = createTracing(settings, { exporter: NO_EXPORT, log: () => {} });
    const parent = withRequestId(
      propagation.setBaggage(
        trace.setSpanContext(
          context.active(),
          knownValid({
            traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
            spanId: "00f067aa0ba902b7",
            traceFlags: 1,
            isRemote: true,
          }),
        ),
        propagation.createBaggage({ user: { value: "alice" } }),
      ),
      "own-id",
    );
    const url = "http://upstream.test/x";
    const pairs = new ClientSpan(tracing, parent, {
      method: "GET",
      url,
      headers: FORWARDED.map(([name, value]): [string, string] => [name, value]),
    });
    const built = new ClientSpan(tracing, parent, new Request(url, { headers: FORWARDED }));
    // The two spans differ only in their ids.
    const written = (headers: HeadersInit, span: Span) =>
      [...new Headers(headers)].map(([name, value]) => [
        name,
        value.replaceAll(span.spanContext().spanId, "<span id>"),
      ]);
    assert.deepEqual(
      written(pairs.request.headers, pairs.span),
      written(built.request.headers, built.span),
    );
    // The pairs carry each field once: a later `new Headers` would join repeated ones.
    const names = pairs.request.headers.map(([name]) => name.toLowerCase());
    assert.equal(new Set(names).size, names.length);
    pairs.end();
    built.end();
    await tracing.shutdown();
  });
}
