// A Hono app on Bun, traced by tracegate.
// OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT and the other variables come from the environment.
import { Hono } from "hono";
import { tracegate, type TracegateEnv } from "@tracegate/tracegate/middleware";

const stockUrl = Bun.env.STOCK_URL ?? "http://127.0.0.1:9000";

const app = new Hono<TracegateEnv>();
app.use(tracegate());
app.get("/orders/:id", async (c) => {
  // A CLIENT span, with traceparent, tracestate, baggage and X-Request-ID injected.
  const stock = await c.var.tracedFetch(`${stockUrl}/items/${c.req.param("id")}`);
  return c.json({ requestId: c.var.requestId, stock: await stock.json() });
});

// Bun.serve passes the server to app.fetch: tracegate asks it for the client's address.
const server = Bun.serve({
  fetch: app.fetch,
  hostname: "127.0.0.1",
  port: Number(Bun.env.PORT ?? 3000),
});
console.log(`listening on http://127.0.0.1:${server.port}`);
