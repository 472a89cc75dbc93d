/**
 * Hono hello-world on `Deno.serve`:
 * `deno run -A bench/servers/hello.ts bare|tracegate|hono-otel`. Spans go to OTEL_EXPORTER_OTLP_ENDPOINT. A second listener (not instrumented) answers
 * `GET /count` with the requests the handler has served, so the driver knows exactly how many
 * spans to expect at the sink.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { announce, exitOnSignal } from "./announce.ts";

const mode = Deno.args[0];
const app = new Hono();
const tracer = await instrumentation(mode);
if (tracer.middleware) app.use(tracer.middleware);

let served = 0;
app.get("/", (c) => {
  served++;
  return c.text("Hello, World!");
});

const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
const server = Deno.serve(listen, (request, info) => app.fetch(request, info));
const control = Deno.serve(listen, () => Response.json({ served }));
exitOnSignal(async () => {
  await server.shutdown();
  await control.shutdown();
  await tracer.shutdown();
});
announce(`http://127.0.0.1:${server.addr.port}`, {
  control: `http://127.0.0.1:${control.addr.port}`,
});

interface Instrumentation {
  readonly middleware?: MiddlewareHandler;
  shutdown(): Promise<void>;
}

async function instrumentation(mode: string | undefined): Promise<Instrumentation> {
  switch (mode) {
    case "bare":
      return { shutdown: async () => {} };
    case "tracegate": {
      const { tracegate } = await import("../../middleware/mod.ts");
      return { middleware: tracegate() as MiddlewareHandler, shutdown: async () => {} };
    }
    case "hono-otel": {
      const { honoOtel } = await import("../lib/hono_otel_sdk.ts");
      const { middleware, provider } = honoOtel(Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT"));
      return { middleware, shutdown: () => provider.shutdown() };
    }
    default:
      throw new Error(`unknown mode ${JSON.stringify(mode)}: bare, tracegate, hono-otel`);
  }
}
