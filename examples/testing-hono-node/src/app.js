// A Hono app traced by tracegate: `/orders/:id` asks the stock service, through the traced fetch.
import { Hono } from "hono";
import { tracegate } from "@tracegate/tracegate/middleware";

/** `env` overrides the process environment (OTEL_*, TRACEGATE_*); tests point it at a receiver. */
export function createApp({ stockUrl, env }) {
  const app = new Hono();
  app.use(tracegate({ env }));
  app.get("/orders/:id", async (c) => {
    const stock = await c.var.tracedFetch(`${stockUrl}/items/${c.req.param("id")}`);
    return c.json({ id: c.req.param("id"), stock: await stock.json() });
  });
  return app;
}
