/** The per-runtime body-end signals the middleware picks (middleware/runtime/). */
import assert from "node:assert/strict";
import { Hono } from "hono";
import type { BodyOutcome } from "../../src/http/body_end.ts";
import { onBodyEnd, smallBodiesThrough } from "../../src/http/body_end.ts";
import { denoBodyEnd } from "../../middleware/runtime/deno.ts";
import { runtimeBodyEnd } from "../../middleware/runtime/mod.ts";
import { serve } from "../support/servers.ts";

Deno.test("Deno.serve's info is the signal; the body passes untouched", async () => {
  const outcome = Promise.withResolvers<BodyOutcome>();
  let sameResponse = false;
  const app = new Hono();
  app.get("/", (c) => {
    const signal = runtimeBodyEnd(c);
    assert.ok(signal, "no signal for a request served by Deno.serve");
    const original = new Response("hello");
    const sent = onBodyEnd(original, outcome.resolve, signal);
    sameResponse = sent === original;
    return sent;
  });
  await using server = serve((request, info) => app.fetch(request, info));
  assert.equal(await (await fetch(server.url)).text(), "hello");
  assert.deepEqual(await outcome.promise, { kind: "complete" });
  assert.ok(sameResponse, "the body was wrapped");
});

Deno.test("no runtime signal outside a server: the JavaScript wrap is the fallback", async () => {
  const app = new Hono();
  app.get("/", (c) => c.json({ signal: runtimeBodyEnd(c) !== undefined }));
  assert.deepEqual(await (await app.request("/")).json(), { signal: false });
});

Deno.test("a rejected `completed` (the response could not be sent) is a cancel", async () => {
  const outcome = Promise.withResolvers<BodyOutcome>();
  const completed = Promise.reject(new Deno.errors.Interrupted("client went away"));
  onBodyEnd(new Response("x"), outcome.resolve, denoBodyEnd({ completed }));
  assert.deepEqual(await outcome.promise, { kind: "cancelled" });
});

Deno.test("relayed bodies: small ones of known length go native, open-ended ones are wrapped", async () => {
  await using server = serve((request, info) => {
    const small = new URL(request.url).pathname === "/small";
    const response = small
      ? new Response("hello", { headers: { "content-length": "5" } })
      : new Response(ReadableStream.from([new TextEncoder().encode("streamed")]));
    const sent = onBodyEnd(response, () => {}, smallBodiesThrough(denoBodyEnd(info)));
    sent.headers.set("x-native", String(sent === response));
    return sent;
  });
  const small = await fetch(`${server.url}/small`);
  assert.equal(await small.text(), "hello");
  assert.equal(small.headers.get("x-native"), "true");
  const streamed = await fetch(`${server.url}/streamed`);
  assert.equal(await streamed.text(), "streamed");
  assert.equal(streamed.headers.get("x-native"), "false");
});
