/**
 * The `examples/testing-*` projects: users' own test suites written with `tracegate/testing`,
 * each installed as its users install it (the npm tarball `deno task pack` builds, into a fresh
 * copy of the project) and run with its own test command — node:test and vitest against the
 * proxy Worker in workerd (Miniflare), Deno.test and node:test against a Hono app with the
 * middleware. Each must pass, and each fails when tracegate stops propagating.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { installExample, run } from "../support/example_projects.ts";

/** This Deno first on PATH, for a project whose test script runs `deno`. */
const withThisDeno = { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH")}` };

Deno.test("example testing-hono-deno: Deno.test against the middleware", async () => {
  await using project = await installExample("testing-hono-deno");
  const { stdout } = await run(["npm", "test"], project.dir, withThisDeno);
  assert.match(stdout, /ok \| 2 passed \| 0 failed/);
});

Deno.test("example testing-hono-node: node:test against the middleware on @hono/node-server", async () => {
  await using project = await installExample("testing-hono-node");
  const { stdout } = await run(["npm", "test"], project.dir);
  assert.match(stdout, /# pass 2\n# fail 0/);
});

Deno.test("example testing-hono-node under Bun: the same node:test file, run by bun test", async () => {
  await using project = await installExample("testing-hono-node");
  await run(
    ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "bun@1.4.4"],
    project.dir,
  );
  const { stderr } = await run(["node_modules/.bin/bun", "test", "test/app.test.js"], project.dir);
  assert.match(stderr, / 2 pass\n 0 fail/);
});

Deno.test("example testing-worker: node:test and vitest against the proxy Worker in workerd", async () => {
  await using project = await installExample("testing-worker");
  // wrangler and Miniflare need Node 22; npm provides it where the machine has an older one.
  const { stdout } = await run(["npx", "-y", "-p", "node@22", "npm", "test"], project.dir);
  assert.match(stdout, /# pass 2\n# fail 0/);
  assert.match(stdout, /Tests {2}1 passed \(1\)/);
});
