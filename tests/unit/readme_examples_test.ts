/**
 * The README's quick starts are the example projects the tests run (tests/examples): each code
 * block after an `<!-- examples/<path> -->` marker must be that file, verbatim.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", ROOT));
const MARKED_BLOCK = /<!-- (examples\/[\w./-]+) -->\s*```\w*\n([\s\S]*?)```/g;

Deno.test("README: every quick start is an example project's file, verbatim", async () => {
  const blocks = [...README.matchAll(MARKED_BLOCK)];
  for (const path of ["node/main.js", "bun/main.ts", "deno/main.ts", "worker/src/index.ts"]) {
    assert.ok(blocks.some(([, marked]) => marked === `examples/${path}`), `no block for ${path}`);
  }
  for (const [, path, code] of blocks) {
    assert.equal(code, await Deno.readTextFile(new URL(path, ROOT)), `README block for ${path}`);
  }
});
