import assert from "node:assert/strict";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import {
  generateRequestId,
  isValidRequestId,
  MAX_REQUEST_ID_LENGTH,
  resolveRequestId,
} from "../../src/http/request_id.ts";

const CANDIDATES = [
  "abc",
  "A-Z_a-z0-9",
  "base64==",
  "0af7651916cd43dd8448eb211c80319c",
  "x".repeat(MAX_REQUEST_ID_LENGTH),
  "x".repeat(MAX_REQUEST_ID_LENGTH + 1),
  "has space",
  "dot.ted",
  "slash/ed",
  "colon:ed",
  "plus+ed",
  "semi;colon",
  "ünïcödé",
  "tab\tbed",
  'quote"d',
];

Deno.test("isValidRequestId agrees with hono/request-id on which incoming ids are kept", async () => {
  const app = new Hono<{ Variables: { requestId: string } }>();
  app.use(requestId({ generator: () => "generated" }));
  app.get("/", (c) => c.text(c.get("requestId")));
  for (const candidate of CANDIDATES) {
    const response = await app.request("/", { headers: { "X-Request-Id": candidate } });
    const keptByHono = (await response.text()) === candidate;
    assert.equal(isValidRequestId(candidate), keptByHono, JSON.stringify(candidate));
  }
});

Deno.test("isValidRequestId: non-empty, at most 255 characters of [A-Za-z0-9_=-]", () => {
  assert.equal(isValidRequestId(""), false);
  assert.equal(isValidRequestId("a"), true);
  assert.equal(isValidRequestId("a=b-c_d"), true);
  assert.equal(isValidRequestId("y".repeat(255)), true);
  assert.equal(isValidRequestId("y".repeat(256)), false);
  assert.equal(isValidRequestId("a.b"), false);
});

Deno.test("generateRequestId makes distinct valid UUIDs", () => {
  const first = generateRequestId();
  const second = generateRequestId();
  assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(first, second);
  assert.equal(isValidRequestId(first), true);
});

Deno.test("resolveRequestId keeps a valid incoming id and replaces a missing or invalid one", () => {
  assert.equal(resolveRequestId("incoming-1"), "incoming-1");
  const generated = resolveRequestId(null);
  assert.equal(isValidRequestId(generated), true);
  assert.notEqual(resolveRequestId("bad id"), "bad id");

  const policy = { validate: (value: string) => value.startsWith("ok"), generate: () => "fresh" };
  assert.equal(resolveRequestId("ok!", policy), "ok!");
  assert.equal(resolveRequestId("abc", policy), "fresh");
  assert.equal(resolveRequestId(null, policy), "fresh");
});
