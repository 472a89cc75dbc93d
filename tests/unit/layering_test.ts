/**
 * `src/` is the runtime-neutral core: it imports neither Hono nor runtime-specific modules and
 * touches no runtime global (`Deno`, `Bun`, `process`, `caches`); whatever a runtime provides is
 * passed in by `middleware/` and `proxy/`. Checked on the syntax tree (Deno's lint plugin API),
 * so comments and strings that name a runtime do not count, and property names (`info.process`)
 * are not globals.
 */
import assert from "node:assert/strict";

const RUNTIME_GLOBALS = new Set(["Deno", "Bun", "process", "caches"]);
/** Hono, and modules only some runtimes have (`node:*` builtins, Workers' `cloudflare:*`). */
const FORBIDDEN_IMPORT = /^(npm:)?hono($|\/|@)|^(node|cloudflare|bun):/;

const layering: Deno.lint.Plugin = {
  name: "layering",
  rules: {
    "runtime-neutral": {
      create(context) {
        const checkSource = (node: Deno.lint.StringLiteral | null | undefined) => {
          if (node && FORBIDDEN_IMPORT.test(node.value)) {
            context.report({ node, message: `imports ${node.value}` });
          }
        };
        return {
          ImportDeclaration: (node) => checkSource(node.source),
          ExportNamedDeclaration: (node) => checkSource(node.source),
          ExportAllDeclaration: (node) => checkSource(node.source),
          ImportExpression(node) {
            if (node.source.type === "Literal" && typeof node.source.value === "string") {
              checkSource(node.source as Deno.lint.StringLiteral);
            }
          },
          Identifier(node) {
            if (!RUNTIME_GLOBALS.has(node.name)) return;
            const parent = node.parent;
            const isPropertyName = (parent.type === "MemberExpression" &&
              parent.property === node && !parent.computed) ||
              (parent.type === "Property" && parent.key === node && !parent.computed);
            if (!isPropertyName) context.report({ node, message: `uses the global ${node.name}` });
          },
        };
      },
    },
  },
};

function findings(fileName: string, source: string): string[] {
  return Deno.lint.runPlugin(layering, fileName, source).map((d) =>
    `${fileName}:${d.range[0]}: ${d.message}`
  );
}

Deno.test("layering: nothing in src/ imports hono or touches a runtime global", async () => {
  const root = new URL("../../src/", import.meta.url);
  const found: string[] = [];
  let files = 0;
  for await (const entry of walkTs(root)) {
    files++;
    found.push(...findings(entry.pathname, await Deno.readTextFile(entry)));
  }
  assert.ok(files > 20, `only ${files} files found under src/`);
  assert.deepEqual(found, []);
});

Deno.test("layering: the check sees each kind of breach, and not comments or property names", () => {
  const breaches = [
    `import { Hono } from "hono";`,
    `import { env } from "hono/adapter";`,
    `export { cors } from "npm:hono@4/cors";`,
    `const { AsyncLocalStorage } = await import("node:async_hooks");`,
    `const home = Deno.env.get("HOME");`,
    `const cache = await caches.open("x");`,
    `const env = process.env;`,
    `const ip = Bun.version;`,
    `type Addr = Deno.NetAddr;`,
  ];
  for (const source of breaches) assert.equal(findings("a.ts", source).length, 1, source);
  const fine = `// Deno and process are named here; "caches" too
    const info = { process: 1, Deno: 2 };
    const x = info.process + info.Deno;
    import { trace } from "@opentelemetry/api";`;
  assert.deepEqual(findings("a.ts", fine), []);
});

async function* walkTs(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walkTs(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}
