/**
 * The `examples/testing-*` projects: users' own test suites written with `tracegate/testing`,
 * each installed as its users install it (the npm tarball `deno task pack` builds, into a fresh
 * copy of the project) and run with its own test command — node:test and vitest against the
 * proxy Worker in workerd (Miniflare), Deno.test and node:test against a Hono app with the
 * middleware. Each must pass, and each fails when tracegate stops propagating.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pack } from "../../deploy/pack.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

const tarball = pack({ quiet: true }).then((packed) => packed.tarball);

async function installExample(name: string): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: `tracegate-example-${name}-` });
  for await (const entry of Deno.readDir(join(EXAMPLES, name))) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    await copy(join(EXAMPLES, name, entry.name), join(dir, entry.name));
  }
  await run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", await tarball], dir);
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

async function copy(from: string, to: string): Promise<void> {
  if ((await Deno.stat(from)).isDirectory) {
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      await copy(join(from, entry.name), join(to, entry.name));
    }
  } else {
    await Deno.copyFile(from, to);
  }
}

async function run(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(args[0], {
    args: args.slice(1),
    cwd,
    env: { NO_COLOR: "1", WRANGLER_SEND_METRICS: "false", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const printed = { stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  if (code !== 0) {
    throw new Error(`${args.join(" ")} exited with ${code}:\n${printed.stdout}${printed.stderr}`);
  }
  return printed;
}

/** This Deno first on PATH, for a project whose test script runs `deno`. */
const withThisDeno = { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH")}` };

Deno.test("example testing-hono-deno: Deno.test against the middleware", async () => {
  await using dir = await installExample("testing-hono-deno");
  const { stdout } = await run(["npm", "test"], dir, withThisDeno);
  assert.match(stdout, /ok \| 2 passed \| 0 failed/);
});

Deno.test("example testing-hono-node: node:test against the middleware on @hono/node-server", async () => {
  await using dir = await installExample("testing-hono-node");
  const { stdout } = await run(["npm", "test"], dir);
  assert.match(stdout, /# pass 2\n# fail 0/);
});

Deno.test("example testing-hono-node under Bun: the same node:test file, run by bun test", async () => {
  await using dir = await installExample("testing-hono-node");
  await run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "bun@1.4.4"], dir);
  const { stderr } = await run(["node_modules/.bin/bun", "test", "test/app.test.js"], dir);
  assert.match(stderr, / 2 pass\n 0 fail/);
});

Deno.test("example testing-worker: node:test and vitest against the proxy Worker in workerd", async () => {
  await using dir = await installExample("testing-worker");
  // wrangler and Miniflare need Node 22; npm provides it where the machine has an older one.
  const { stdout } = await run(["npx", "-y", "-p", "node@22", "npm", "test"], dir);
  assert.match(stdout, /# pass 2\n# fail 0/);
  assert.match(stdout, /Tests {2}1 passed \(1\)/);
});
