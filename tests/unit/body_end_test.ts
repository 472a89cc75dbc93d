import assert from "node:assert/strict";
import { type BodyOutcome, contentLength, onBodyEnd } from "../../src/http/body_end.ts";

const CHUNK_SIZE = 64 * 1024;

/** Fails the test instead of hanging when `promise` never settles. */
async function within<T>(promise: Promise<T>, label: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records every call of the `done` callback and resolves on the first. */
function outcomeRecorder() {
  const calls: BodyOutcome[] = [];
  const first = Promise.withResolvers<BodyOutcome>();
  const done = (outcome: BodyOutcome) => {
    calls.push(outcome);
    first.resolve(outcome);
  };
  return { calls, first: first.promise, done };
}

function serve(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return { server, base: `http://127.0.0.1:${server.addr.port}` };
}

async function readAtLeast(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  minimum: number,
): Promise<number> {
  let received = 0;
  while (received < minimum) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
  }
  return received;
}

Deno.test("done fires after the last byte of a large streamed body, not at the headers", async () => {
  const chunkCount = 64;
  const releaseLastChunk = Promise.withResolvers<void>();
  const recorder = outcomeRecorder();
  let sent = 0;
  const { server, base } = serve(() => {
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === chunkCount - 1) await releaseLastChunk.promise;
        if (sent === chunkCount) return controller.close();
        controller.enqueue(new Uint8Array(CHUNK_SIZE).fill(sent % 251));
        sent++;
      },
    }, { highWaterMark: 0 });
    return onBodyEnd(
      new Response(body, { status: 201, headers: { "x-kept": "yes" } }),
      recorder.done,
    );
  });
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    const response = await fetch(base);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-kept"), "yes");
    reader = response.body!.getReader();

    // Everything but the last chunk reached the client while the source was still open:
    // the body streams, and done has not fired.
    const early = await readAtLeast(reader, (chunkCount - 1) * CHUNK_SIZE);
    assert.equal(early, (chunkCount - 1) * CHUNK_SIZE);
    assert.equal(recorder.calls.length, 0);

    releaseLastChunk.resolve();
    const rest = await readAtLeast(reader, Infinity);
    const outcome = await within(recorder.first, "done");
    assert.deepEqual(outcome, { kind: "complete", bytes: chunkCount * CHUNK_SIZE });
    assert.equal(early + rest, chunkCount * CHUNK_SIZE);
  } finally {
    // Let a failed run end: the server waits for its stalled response otherwise.
    releaseLastChunk.resolve();
    await reader?.cancel();
    await server.shutdown();
  }
  assert.equal(recorder.calls.length, 1);
});

Deno.test("done reports 'cancelled' when the client goes away mid-body, and the source is cancelled", async () => {
  const recorder = outcomeRecorder();
  const sourceCancelled = Promise.withResolvers<void>();
  const maxChunks = 100_000; // far more than socket buffers hold: the body cannot finish first
  const { server, base } = serve(() => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === maxChunks) return controller.close();
        controller.enqueue(new Uint8Array(CHUNK_SIZE));
      },
      cancel() {
        sourceCancelled.resolve();
      },
    }, { highWaterMark: 0 });
    return onBodyEnd(new Response(body), recorder.done);
  });
  try {
    const response = await fetch(base);
    const reader = response.body!.getReader();
    const received = await readAtLeast(reader, 2 * CHUNK_SIZE);
    assert.ok(received >= 2 * CHUNK_SIZE);
    await reader.cancel();

    const outcome = await within(recorder.first, "done");
    assert.equal(outcome.kind, "cancelled");
    assert.ok(outcome.bytes! >= received, `${outcome.bytes} < ${received}`);
    assert.ok(outcome.bytes! < maxChunks * CHUNK_SIZE);
    await within(sourceCancelled.promise, "source cancel");
  } finally {
    await server.shutdown();
  }
  assert.equal(recorder.calls.length, 1);
});

Deno.test("done reports 'error' with the source's error when the body fails mid-stream", async () => {
  const recorder = outcomeRecorder();
  const failure = new Error("upstream broke");
  const { server, base } = serve(() => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ < 3) controller.enqueue(new Uint8Array(CHUNK_SIZE));
        else controller.error(failure);
      },
    }, { highWaterMark: 0 });
    return onBodyEnd(new Response(body), recorder.done);
  });
  try {
    const response = await fetch(base);
    // Deno.serve also logs the body error to the console.
    await assert.rejects(response.arrayBuffer());
    const outcome = await within(recorder.first, "done");
    assert.deepEqual(outcome, { kind: "error", error: failure, bytes: 3 * CHUNK_SIZE });
  } finally {
    await server.shutdown();
  }
  assert.equal(recorder.calls.length, 1);
});

Deno.test("Content-Length, status text and headers survive the wrapping", async () => {
  const payload = new TextEncoder().encode("x".repeat(100_000));
  const recorder = outcomeRecorder();
  const original = new Response(payload, {
    status: 202,
    statusText: "Accepted For Later",
    headers: { "content-length": String(payload.byteLength), "x-one": "1" },
  });
  const wrapped = onBodyEnd(original, recorder.done);
  assert.equal(wrapped.status, 202);
  assert.equal(wrapped.statusText, "Accepted For Later");
  assert.equal(wrapped.headers.get("x-one"), "1");

  const { server, base } = serve(() => wrapped);
  try {
    const response = await fetch(base);
    assert.equal(response.headers.get("content-length"), String(payload.byteLength));
    assert.equal((await response.arrayBuffer()).byteLength, payload.byteLength);
    assert.deepEqual(await within(recorder.first, "done"), {
      kind: "complete",
      bytes: payload.byteLength,
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("a response without a body is returned as is, with done called at once", () => {
  for (const status of [204, 304, 200]) {
    const recorder = outcomeRecorder();
    const response = new Response(null, { status });
    assert.equal(onBodyEnd(response, recorder.done), response);
    assert.deepEqual(recorder.calls, [{ kind: "complete", bytes: 0 }]);
  }
});

Deno.test("a response carrying a webSocket (Cloudflare's 101 shape) is returned as is", () => {
  const recorder = outcomeRecorder();
  // Workers' upgrade Response exposes the socket as `webSocket`; Deno cannot build a 101 one.
  const response = new Response("unused");
  Object.defineProperty(response, "webSocket", { value: {} });
  assert.equal(onBodyEnd(response, recorder.done), response);
  assert.deepEqual(recorder.calls, [{ kind: "complete", bytes: 0 }]);
});

Deno.test("a Deno WebSocket upgrade passes through untouched", async () => {
  const recorder = outcomeRecorder();
  const { server, base } = serve((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(`echo ${event.data}`);
    return onBodyEnd(response, recorder.done);
  });
  try {
    const client = new WebSocket(base.replace("http", "ws"));
    const reply = Promise.withResolvers<string>();
    const closed = Promise.withResolvers<void>();
    client.onopen = () => client.send("hi");
    client.onmessage = (event) => reply.resolve(String(event.data));
    client.onerror = () => reply.reject(new Error("websocket failed"));
    client.onclose = () => closed.resolve();
    assert.equal(await within(reply.promise, "echo"), "echo hi");
    client.close();
    await within(closed.promise, "close");
    assert.deepEqual(recorder.calls, [{ kind: "complete", bytes: 0 }]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("an exception thrown by done does not break the body", async (t) => {
  const throwing = () => {
    throw new Error("observer bug");
  };
  await t.step("a response without a body is still returned", () => {
    const response = new Response(null, { status: 204 });
    assert.equal(onBodyEnd(response, throwing), response);
  });
  await t.step("a consumer that stops reading still cancels the source", async () => {
    const sourceCancelled = Promise.withResolvers<unknown>();
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(8)),
      cancel: (reason) => sourceCancelled.resolve(reason),
    }, { highWaterMark: 0 });
    const reader = onBodyEnd(new Response(body), throwing).body!.getReader();
    await reader.read();
    await reader.cancel("gone");
    assert.equal(await within(sourceCancelled.promise, "source cancel"), "gone");
  });
  await t.step("a body read whole still arrives whole", async () => {
    assert.equal(await onBodyEnd(new Response("payload"), throwing).text(), "payload");
  });
});

Deno.test("a runtime's own signal gets the response without its body being read", () => {
  // Reading `body` turns Deno's static body (a string) into a stream, off the native body path.
  const response = new Response("hello");
  let bodyReads = 0;
  const prototypeBody = Object.getOwnPropertyDescriptor(Response.prototype, "body")!;
  Object.defineProperty(response, "body", {
    get() {
      bodyReads++;
      return prototypeBody.get!.call(response);
    },
  });
  const outcomes: BodyOutcome[] = [];
  const sent = onBodyEnd(response, (outcome) => outcomes.push(outcome), (given, done) => {
    done({ kind: "complete" });
    return given;
  });
  assert.equal(sent, response);
  assert.deepEqual(outcomes, [{ kind: "complete" }]);
  assert.equal(bodyReads, 0);
});

Deno.test("a Content-Length is digits only, and at most 15 of them; anything else is unknown", () => {
  assert.equal(contentLength("0"), 0);
  assert.equal(contentLength("65536"), 65536);
  assert.equal(contentLength("007"), 7);
  assert.equal(contentLength("9".repeat(15)), 999_999_999_999_999);
  for (const value of [null, "", " 5", "5 ", "+5", "-1", "1e3", "0x10", "5.0", "9".repeat(16)]) {
    assert.equal(contentLength(value), undefined, JSON.stringify(value));
  }
});
