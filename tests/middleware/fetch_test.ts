/**
 * The standalone traced fetch (`middleware/fetch.ts`) for code outside Hono, such as a CLI: each
 * call is a CLIENT span under the span active when it is made, ended when its body is done.
 */
import assert from "node:assert/strict";
import type { Span } from "@opentelemetry/api";
import { ensureContextManager } from "../../middleware/context_manager.ts";
import { tracedFetch } from "../../middleware/fetch.ts";
import { tracegate, type TracegateEnv } from "../../middleware/mod.ts";
import { Hono } from "hono";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { closedPort, echoServer, serve } from "../support/servers.ts";
import { testTracing } from "../support/tracing.ts";
import { ATTR_BODY_UNREAD } from "../../src/tracing/unread_bodies.ts";

// What a CLI does once at start-up so that `startActiveSpan` reaches the calls made inside it.
ensureContextManager();

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function setup() {
  const receiver = await startOtlpReceiver();
  const tracing = testTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    TRACEGATE_SENSITIVE_QUERY_PARAMS: "token",
  });
  const echo = echoServer();
  return {
    receiver,
    tracing,
    echo,
    async [Symbol.asyncDispose]() {
      await echo.close();
      await tracing[Symbol.asyncDispose]();
      await receiver.close();
    },
  };
}

const clientTo = (suffix: string) => (span: DecodedSpan) =>
  span.kind === "CLIENT" && String(span.attributes["url.full"]).endsWith(suffix);

Deno.test("traced fetch: each call is a CLIENT span under the active span", async () => {
  await using env = await setup();
  const { receiver, tracing, echo } = env;
  const send = tracedFetch(tracing);

  let root!: Span;
  const echoed: { headers: Record<string, string> }[] = [];
  await tracing.tracer.startActiveSpan("cli run", async (span) => {
    root = span;
    for (const n of [1, 2, 3]) echoed.push(await (await send(`${echo.url}/n/${n}`)).json());
    span.end();
  });
  await tracing.flush();

  const { traceId, spanId: rootId } = root.spanContext();
  const spans = await receiver.waitForSpans((all) =>
    [1, 2, 3].every((n) => all.some(clientTo(`/n/${n}`)))
  );
  const clients = [1, 2, 3].map((n) => spans.find(clientTo(`/n/${n}`))!);
  assert.equal(new Set(clients.map((client) => client.spanId)).size, 3);
  clients.forEach((client, index) => {
    assert.equal(client.traceId, traceId);
    assert.equal(client.parentSpanId, rootId);
    assert.equal(client.name, "GET");
    assert.equal(client.attributes["http.response.status_code"], 200);
    assert.match(
      echoed[index].headers.traceparent,
      new RegExp(`^00-${traceId}-${client.spanId}-0[13]$`),
    );
  });
});

Deno.test("traced fetch: url.full without credentials or sensitive values", async () => {
  await using env = await setup();
  const { receiver, tracing, echo } = env;
  const send = tracedFetch(tracing);
  const response = await send(
    `http://user:pass@127.0.0.1:${echo.port}/secret?sig=abc&token=t0k&plain=1#fragment`,
  );
  // Redaction is for telemetry only: the request itself goes out as written.
  assert.equal((await response.json()).query, "?sig=abc&token=t0k&plain=1");
  await tracing.flush();
  const spans = await receiver.waitForSpans((all) => all.some((s) => s.kind === "CLIENT"));
  assert.equal(
    spans.find((s) => s.kind === "CLIENT")!.attributes["url.full"],
    `http://REDACTED:REDACTED@127.0.0.1:${echo.port}/secret?sig=REDACTED&token=REDACTED&plain=1`,
  );
});

Deno.test("traced fetch: ERROR on 4xx, 5xx and network failure; the failure is re-thrown", async () => {
  await using env = await setup();
  const { receiver, tracing } = env;
  await using statuses = serve((request) =>
    new Response("status\n", { status: Number(new URL(request.url).pathname.slice(1)) })
  );
  const thrown: unknown[] = [];
  const send = tracedFetch(tracing, async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      thrown.push(error);
      throw error;
    }
  });

  for (const status of [404, 503]) {
    const response = await send(`${statuses.url}/${status}`);
    assert.equal(response.status, status);
    await response.body?.cancel();
  }
  const unreachable = `http://127.0.0.1:${closedPort()}/down`;
  await assert.rejects(send(unreachable), (error) => error === thrown[0]);
  assert.equal(thrown.length, 1);
  await tracing.flush();

  const spans = await receiver.waitForSpans((all) =>
    ["/404", "/503", "/down"].every((path) => all.some(clientTo(path)))
  );
  for (const status of [404, 503]) {
    const span = spans.find(clientTo(`/${status}`))!;
    assert.equal(span.status.code, "ERROR");
    assert.equal(span.attributes["error.type"], String(status));
    assert.equal(span.attributes["http.response.status_code"], status);
  }
  const failed = spans.find(clientTo("/down"))!;
  const error = thrown[0] as Error;
  assert.equal(failed.status.code, "ERROR");
  assert.equal(failed.attributes["error.type"], error.name);
  assert.equal(failed.attributes["http.response.status_code"], undefined);
  const exception = failed.events.find((event) => event.name === "exception");
  assert.equal(exception?.attributes["exception.message"], error.message);
});

Deno.test("traced fetch: the span ends when the body is consumed or cancelled", async () => {
  await using env = await setup();
  const { receiver, tracing, echo } = env;
  const gate = Promise.withResolvers<void>();
  await using held = serve(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("first;"));
          await gate.promise;
          controller.enqueue(encoder.encode("last"));
          controller.close();
        },
      }),
    )
  );
  const send = tracedFetch(tracing);
  try {
    const readLater = (await send(`${held.url}/read`)).body!.getReader();
    assert.equal(decoder.decode((await readLater.read()).value), "first;");

    const cancelled = (await send(`${held.url}/cancel`)).body!.getReader();
    assert.equal(decoder.decode((await cancelled.read()).value), "first;");
    await cancelled.cancel();

    // A call made and read after the held one: once it is exported, the held one would be too
    // had its span ended.
    await (await send(`${echo.url}/marker`)).body?.cancel();
    await tracing.exportEnded(); // not flush(): that would end the held call as unread
    const spans = await receiver.waitForSpans((all) =>
      all.some(clientTo("/marker")) && all.some(clientTo("/cancel"))
    );
    assert.equal(spans.filter(clientTo("/read")).length, 0, "ended before its body was read");

    gate.resolve();
    let rest = "";
    for (let chunk = await readLater.read(); !chunk.done; chunk = await readLater.read()) {
      rest += decoder.decode(chunk.value);
    }
    assert.equal(rest, "last");
    await tracing.exportEnded();
    const after = await receiver.waitForSpans((all) => all.some(clientTo("/read")));
    const read = after.find(clientTo("/read"))!;
    const marker = after.find(clientTo("/marker"))!;
    assert.ok(read.endTimeUnixNano > marker.endTimeUnixNano);
    assert.equal(read.status.code, "UNSET");
  } finally {
    gate.resolve();
  }
});

Deno.test("traced fetch: a body never read ends its span, marked, at flush or shutdown", async () => {
  await using env = await setup();
  const { receiver, tracing, echo } = env;
  const send = tracedFetch(tracing);
  // The README's CLI pattern without reading the response.
  await tracing.tracer.startActiveSpan("sync", async (span) => {
    await send(`${echo.url}/unread-at-flush`);
    span.end();
  });
  await tracing.flush();
  const spans = await receiver.waitForSpans((all) => all.some(clientTo("/unread-at-flush")));
  const unread = spans.find(clientTo("/unread-at-flush"))!;
  assert.equal(unread.attributes[ATTR_BODY_UNREAD], true);
  assert.equal(unread.parentSpanId, spans.find((span) => span.name === "sync")!.spanId);

  await send(`${echo.url}/unread-at-shutdown`);
  const read = await send(`${echo.url}/read`);
  await read.json();
  await tracing.shutdown();
  const all = await receiver.waitForSpans((all) =>
    all.some(clientTo("/unread-at-shutdown")) && all.some(clientTo("/read"))
  );
  assert.equal(all.find(clientTo("/unread-at-shutdown"))!.attributes[ATTR_BODY_UNREAD], true);
  assert.equal(all.find(clientTo("/read"))!.attributes[ATTR_BODY_UNREAD], undefined);
});

Deno.test("traced fetch: a body the handler never reads ends its span with the request", async () => {
  await using env = await setup();
  const { receiver, tracing, echo } = env;
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({ tracing, registerGlobals: false }));
  app.get("/ping", async (c) => {
    const upstream = await c.var.tracedFetch(`${echo.url}/unread-in-handler`);
    return c.text(`upstream answered ${upstream.status}`);
  });
  await using server = serve((request) => app.fetch(request));
  const response = await fetch(`${server.url}/ping`);
  assert.equal(await response.text(), "upstream answered 200");
  // No flush: the request's end alone must end the call's span.
  const spans = await receiver.waitForSpans((all) =>
    all.some(clientTo("/unread-in-handler")) && all.some((span) => span.kind === "SERVER")
  );
  const client = spans.find(clientTo("/unread-in-handler"))!;
  const serverSpan = spans.find((span) => span.kind === "SERVER")!;
  assert.equal(client.attributes[ATTR_BODY_UNREAD], true);
  assert.equal(client.parentSpanId, serverSpan.spanId);
});
