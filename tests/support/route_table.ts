/** A proxy route table read from settings as the proxy reads it, for tests that forward. */
import assert from "node:assert/strict";
import { EnvReader } from "../../src/config/env.ts";
import { parseRoutes, type RouteTable } from "../../proxy/routes.ts";

/** The table `env` configures; fails the test if the configuration has any error. */
export function routeTable(env: Record<string, string>): RouteTable {
  const reader = new EnvReader(env);
  const routes = parseRoutes(reader);
  assert.deepEqual(reader.errors, []);
  assert.ok(routes);
  return routes;
}
