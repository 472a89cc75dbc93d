/**
 * The Worker entry calls the proxy directly; Hono reaches its bundle only through a runtime
 * import, and esbuild keeps Hono's request classes even unused (~1.7 KiB gzip, issue 8's bundle
 * bar). Type-only imports are erased and do not count.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

interface DenoInfo {
  readonly modules: readonly {
    specifier: string;
    dependencies?: readonly { specifier: string; code?: { specifier?: string } }[];
  }[];
}

/** Modules `entry` reaches through runtime (non-type) imports. */
async function runtimeGraph(entry: string): Promise<Set<string>> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const graph: DenoInfo = JSON.parse(new TextDecoder().decode(stdout));
  const byName = new Map(graph.modules.map((module) => [module.specifier, module]));
  const reached = new Set<string>();
  const pending = [new URL(entry, ROOT).href];
  for (let specifier = pending.pop(); specifier !== undefined; specifier = pending.pop()) {
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    for (const dependency of byName.get(specifier)?.dependencies ?? []) {
      if (dependency.code?.specifier) pending.push(dependency.code.specifier);
    }
  }
  return reached;
}

Deno.test("the Worker entry imports no Hono at runtime", async () => {
  const reached = await runtimeGraph("proxy/worker.ts");
  assert.ok(reached.size > 10, `only ${reached.size} modules reached: the walk is broken`);
  assert.deepEqual([...reached].filter((specifier) => specifier.includes("hono")), []);
});
