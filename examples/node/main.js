// A Hono app on Node.js (@hono/node-server), traced by tracegate.
// OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT and the other variables come from the environment.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { tracegate } from "@tracegate/tracegate/middleware";

const stockUrl = process.env.STOCK_URL ?? "http://127.0.0.1:9000";

const app = new Hono();
app.use(tracegate());
app.get("/orders/:id", async (c) => {
  // A CLIENT span, with traceparent, tracestate, baggage and X-Request-ID injected.
  const stock = await c.var.tracedFetch(`${stockUrl}/items/${c.req.param("id")}`);
  return c.json({ requestId: c.var.requestId, stock: await stock.json() });
});

serve(
  { fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT ?? 3000) },
  (info) => console.log(`listening on http://127.0.0.1:${info.port}`),
);
