// A Hono app traced by tracegate: `/orders/:id` asks the stock service, through the traced fetch.
import { Hono } from "hono";
import type { EnvSource } from "@tracegate/tracegate";
import { tracegate, type TracegateEnv } from "@tracegate/tracegate/middleware";

export interface AppOptions {
  readonly stockUrl: string;
  /** Overrides the environment (OTEL_*, TRACEGATE_*); tests point it at a receiver. */
  readonly env?: EnvSource;
}

export function createApp({ stockUrl, env }: AppOptions): Hono<TracegateEnv> {
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ env }));
  app.get("/orders/:id", async (c) => {
    const stock = await c.var.tracedFetch(`${stockUrl}/items/${c.req.param("id")}`);
    return c.json({ id: c.req.param("id"), stock: await stock.json() });
  });
  return app;
}
