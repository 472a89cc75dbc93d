"""An executor service (FastAPI, instrumented by opentelemetry-instrumentation-fastapi): GET
/execute/{job} answers with the trace context and baggage it was called with. Listens on a free
port on 127.0.0.1 and prints `executor listening on http://127.0.0.1:PORT`; SIGTERM stops it once its
spans are flushed."""
import asyncio
import socket
import sys
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from opentelemetry import baggage, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from tracing import setup_tracing

provider = setup_tracing()


@asynccontextmanager
async def lifespan(_app: FastAPI):
    yield
    # uvicorn ends the process with the SIGTERM it caught once it has shut down: flush before.
    provider.shutdown()


app = FastAPI(lifespan=lifespan)


@app.get("/execute/{job}")
def execute(job: str, request: Request):
    span = trace.get_current_span()
    user = baggage.get_baggage("user.id")
    if user is not None:
        span.set_attribute("user.id", str(user))
    context = span.get_span_context()
    return {
        "job": job,
        "traceparent": request.headers.get("traceparent"),
        "tracestate": request.headers.get("tracestate"),
        "baggage": request.headers.get("baggage"),
        "userId": user,
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "spanTraceState": context.trace_state.to_header(),
    }


# Only the SERVER span: the ASGI send/receive spans say nothing about propagation.
FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])


async def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    print(f"executor listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    await server.serve(sockets=[sock])


asyncio.run(main())
