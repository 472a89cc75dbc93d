import assert from "node:assert/strict";
import { createContextKey, ROOT_CONTEXT } from "@opentelemetry/api";
import { linked } from "../../src/tracing/linked_context.ts";

const A = createContextKey("a");
const B = createContextKey("b");
const C = createContextKey("c");

Deno.test("a linked context reads, sets and deletes as the API's context does", () => {
  const base = ROOT_CONTEXT.setValue(A, 1).setValue(B, 2);
  const steps = [
    (c: typeof base) => c.setValue(C, 3),
    (c: typeof base) => c.setValue(A, "again"),
    (c: typeof base) => c.deleteValue(B),
    (c: typeof base) => c.setValue(B, undefined),
    (c: typeof base) => c.deleteValue(C),
  ];
  let api = base;
  let ours = linked(base);
  for (const step of steps) {
    const [apiBefore, oursBefore] = [api, ours];
    api = step(api);
    ours = step(ours);
    for (const key of [A, B, C]) {
      assert.equal(ours.getValue(key), api.getValue(key));
      // Immutable, like the API's: the context a step started from is unchanged.
      assert.equal(oursBefore.getValue(key), apiBefore.getValue(key));
    }
  }
  assert.equal(linked(ours), ours);
});
