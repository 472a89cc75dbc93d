/** The per-runtime body-end signals the middleware picks (middleware/runtime/). */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Context, Hono } from "hono";
import type { BodyOutcome } from "../../src/http/body_end.ts";
import { onBodyEnd, smallBodiesThrough } from "../../src/http/body_end.ts";
import { denoBodyEnd } from "../../middleware/runtime/deno.ts";
import { runtimeBodyEnd } from "../../middleware/runtime/mod.ts";
import { nodeServer } from "../../middleware/runtime/node.ts";
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

Deno.test("Node's ServerResponse is the signal: sent is complete, a client leaving mid-body a cancel", async () => {
  const outcomes = new Map<string, PromiseWithResolvers<BodyOutcome>>(
    ["/sent", "/left"].map((path) => [path, Promise.withResolvers<BodyOutcome>()]),
  );
  const server = createServer((request, outgoing) => {
    const signal = nodeServer({ env: { incoming: request, outgoing } } as unknown as Context);
    assert.ok(signal, "no signal for a response written by node:http");
    const original = new Response("hello");
    assert.equal(onBodyEnd(original, outcomes.get(request.url!)!.resolve, signal), original);
    // What @hono/node-server does with the response: write it to `outgoing`.
    if (request.url === "/sent") outgoing.end("hello");
    else outgoing.write("part of it");
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  try {
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/sent`)).text(), "hello");
    assert.deepEqual(await outcomes.get("/sent")!.promise, { kind: "complete" });

    const leaving = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/left`, { signal: leaving.signal });
    await response.body!.getReader().read();
    leaving.abort();
    assert.deepEqual(await outcomes.get("/left")!.promise, { kind: "cancelled" });
  } finally {
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  }
});
