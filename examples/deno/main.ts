// A Hono app on Deno, traced by tracegate.
// OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT and the other variables come from the environment.
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "@tracegate/tracegate/middleware";

const stockUrl = Deno.env.get("STOCK_URL") ?? "http://127.0.0.1:9000";

const app = new Hono<TracegateEnv>();
app.use(tracegate());
app.get("/orders/:id", async (c) => {
  // A CLIENT span, with traceparent, tracestate, baggage and X-Request-ID injected.
  const stock = await c.var.tracedFetch(`${stockUrl}/items/${c.req.param("id")}`);
  return c.json({ requestId: c.var.requestId, stock: await stock.json() });
});

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
}, app.fetch);
