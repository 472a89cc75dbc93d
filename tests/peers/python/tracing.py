"""The OpenTelemetry Python SDK set up as the seeds' services set it up: OTLP over HTTP
(protobuf) to OTEL_EXPORTER_OTLP_ENDPOINT, W3C trace context and baggage propagation (the SDK's
defaults), a batch processor flushed at exit."""
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def setup_tracing(sampler=None) -> TracerProvider:
    # Resource() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create(), sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
