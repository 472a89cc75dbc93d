/**
 * `task dev` installs deno.lock whole (nodeModulesDir "auto" installs every package a lockfile
 * holds, imported or not), so deno.lock may hold only what dev and the library need. Tests and
 * benchmarks run with deno.test.jsonc: deno.json's imports plus their own, in their own lockfile.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

async function readJson(path: string): Promise<Record<string, unknown>> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  // JSONC as deno.test.jsonc writes it: comments on lines of their own.
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
}

interface DenoInfo {
  readonly modules: readonly {
    specifier: string;
    error?: string;
    dependencies?: readonly { code?: { error?: string }; type?: { error?: string } }[];
  }[];
  readonly npmPackages: Readonly<
    Record<string, { name: string; version: string; dependencies: string[] }>
  >;
}

/** `deno info --json` of `entry` under deno.json, as `task dev` resolves it. */
async function info(entry: string): Promise<DenoInfo> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, `deno info ${entry} failed:\n${decoder.decode(stderr)}`);
  return JSON.parse(decoder.decode(stdout));
}

/** The ids (`name@version…`) of the npm packages a module graph imports itself. */
function importedPackages(graph: DenoInfo): string[] {
  const ids = new Map(
    Object.entries(graph.npmPackages).map(([id, { name, version }]) => [`${name}@${version}`, id]),
  );
  return graph.modules.flatMap(({ specifier }) => {
    const nameVersion = /^npm:\/((?:@[^/]+\/)?[^/@]+@[^/]+)/.exec(specifier)?.[1];
    return nameVersion === undefined ? [] : [ids.get(nameVersion)!];
  });
}

/** `roots` and every package they depend on (optional ones included, as Deno installs them). */
function withDependencies(graph: DenoInfo, roots: Iterable<string>): Set<string> {
  const reached = new Set<string>();
  const pending = [...roots];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    if (reached.has(id)) continue;
    reached.add(id);
    pending.push(...graph.npmPackages[id].dependencies);
  }
  return reached;
}

Deno.test("deno.lock holds only what task dev and the library need", async () => {
  const denoJson = await readJson("deno.json");
  const entries = ["dev/main.ts", ...Object.values(denoJson.exports as Record<string, string>)];
  const graphs = await Promise.all(entries.map(info));
  for (const [index, graph] of graphs.entries()) {
    const errors = graph.modules.flatMap((module) => [
      module.error,
      ...(module.dependencies ?? []).flatMap((dependency) => [
        dependency.code?.error,
        dependency.type?.error,
      ]),
    ]).filter((error) => error !== undefined);
    assert.deepEqual(errors, [], `${entries[index]} does not resolve with deno.json alone`);
  }
  // task dev also runs wrangler (`deno run npm:wrangler`) to build the proxy Worker.
  const lock = await readJson("deno.lock") as {
    specifiers: Record<string, string>;
    npm: Record<string, unknown>;
  };
  const wranglerVersion = lock.specifiers[(denoJson.imports as Record<string, string>).wrangler];
  const [graph] = graphs;
  const wrangler = `wrangler@${wranglerVersion}`;
  assert.ok(graph.npmPackages[wrangler], `deno.lock has no ${wrangler}`);
  const needed = withDependencies(graph, [wrangler, ...graphs.flatMap(importedPackages)]);
  const extra = Object.keys(lock.npm).filter((id) => !needed.has(id));
  assert.deepEqual(
    extra,
    [],
    "task dev would download packages that neither it nor the library imports: " +
      "move their imports from deno.json to deno.test.jsonc",
  );
});

Deno.test("deno.test.jsonc is deno.json's imports and install settings plus its own", async () => {
  const denoJson = await readJson("deno.json");
  const testJson = await readJson("deno.test.jsonc");
  const imports = testJson.imports as Record<string, string>;
  for (const [name, target] of Object.entries(denoJson.imports as Record<string, string>)) {
    assert.equal(imports[name], target, `deno.test.jsonc imports ${name} as deno.json does`);
  }
  assert.equal(testJson.nodeModulesDir, denoJson.nodeModulesDir);
  assert.deepEqual(testJson.allowScripts, denoJson.allowScripts);
  assert.deepEqual(testJson.exclude, denoJson.exclude);
});
