// A Hono app on Cloudflare Workers, traced by tracegate. Configuration comes from the Worker's
// vars and secrets (wrangler.toml); spans are exported in waitUntil after each response.
import { Hono } from "hono";
import { tracegate, type TracegateVariables } from "@tracegate/tracegate/middleware";

type Env = { Bindings: { STOCK_URL: string }; Variables: TracegateVariables };

const app = new Hono<Env>();
app.use(tracegate());
app.get("/orders/:id", async (c) => {
  // A CLIENT span, with traceparent, tracestate, baggage and X-Request-ID injected.
  const stock = await c.var.tracedFetch(`${c.env.STOCK_URL}/items/${c.req.param("id")}`);
  return c.json({ requestId: c.var.requestId, stock: await stock.json() });
});

export default app;
