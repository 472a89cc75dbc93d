"""A CLI calling a service through the proxy: `client.py URL`. It starts the trace (with a trace
state entry of its own and a `user.id` baggage entry), calls URL with the context injected, and
prints one JSON line: its trace and span ids and the response body."""
import json
import sys

import httpx
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, TraceState

from tracing import setup_tracing


class SampledWithVendorState(Sampler):
    """Samples every span; a root span gets the trace state entry `cli=1`, children keep theirs."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None):
        parent = trace.get_current_span(parent_context).get_span_context()
        state = parent.trace_state if parent.is_valid else TraceState([("cli", "1")])
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

    def get_description(self) -> str:
        return "SampledWithVendorState"


provider = setup_tracing(SampledWithVendorState())
tracer = trace.get_tracer("tracegate-peers-cli")
url = sys.argv[1]
token = context.attach(baggage.set_baggage("user.id", "ada"))
try:
    with tracer.start_as_current_span("run job") as run:
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as call:
            call.set_attribute("url.full", url)
            headers: dict[str, str] = {}
            propagate.inject(headers)
            response = httpx.get(url, headers=headers, timeout=10)
            call.set_attribute("http.response.status_code", response.status_code)
        print(json.dumps({
            "traceId": format(run.get_span_context().trace_id, "032x"),
            "runSpanId": format(run.get_span_context().span_id, "016x"),
            "callSpanId": format(call.get_span_context().span_id, "016x"),
            "status": response.status_code,
            "body": response.json(),
        }), flush=True)
finally:
    context.detach(token)
    provider.shutdown()
