/**
 * Tail rules in the middleware, as at the proxy: a request that was not head-sampled is exported
 * when it fails (5xx or a throw) or is slow, with its reason; one that went well is not.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv, type TracingBuildOptions } from "../../middleware/mod.ts";
import type { SpanEnding } from "../../src/sampling/tail.ts";
import type { ServerSpan } from "../../src/tracing/server.ts";
import type { DecodedSpan } from "../../viewer/otlp/spans.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve, type TestServer } from "../support/servers.ts";

const REASON = "tracegate.sampling.reason";
const SAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** An app that samples no root: only a sampled caller or a tail rule gets a span exported. */
function startApp(receiver: OtlpReceiver, options: TracingBuildOptions = {}): TestServer {
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    registerGlobals: false,
    ...options,
    env: {
      OTEL_TRACES_SAMPLER: "parentbased_always_off",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...options.env,
    },
  }));
  app.onError((_, c) => c.text("generic error", 500));
  app.get("/ok", (c) => c.text("fine"));
  app.get("/marker", (c) => c.text("sampled"));
  app.get("/unavailable", (c) => c.text("down", 503));
  app.get("/throws", () => {
    throw new Error("handler failed");
  });
  app.get("/slow", async (c) => {
    // The behaviour under test, not a synchronisation: this request is slower than the rule.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return c.text("late");
  });
  return serve((request, info) => app.fetch(request, info));
}

async function call(server: TestServer, path: string, headers?: HeadersInit): Promise<number> {
  const response = await fetch(`${server.url}${path}`, { headers });
  await response.body?.cancel();
  return response.status;
}

const withPath = (path: string) => (span: DecodedSpan) => span.attributes["url.path"] === path;

Deno.test("middleware tail rules: unsampled failures are kept with their reason, the rest not", async () => {
  await using receiver = await startOtlpReceiver();
  await using server = startApp(receiver, { env: { TRACEGATE_TAIL_ERRORS: "true" } });

  assert.equal(await call(server, "/ok"), 200);
  assert.equal(await call(server, "/unavailable"), 503);
  assert.equal(await call(server, "/throws"), 500);
  // Sent last and sampled by its caller: once it arrives, anything kept before it has too.
  assert.equal(await call(server, "/marker", { traceparent: SAMPLED_PARENT }), 200);

  const spans = await receiver.waitForSpans((all) =>
    ["/unavailable", "/throws", "/marker"].every((path) => all.some(withPath(path)))
  );
  const unavailable = spans.find(withPath("/unavailable"))!;
  assert.equal(unavailable.attributes[REASON], "error");
  // Recorded, not sampled: the route and the socket peer, read only for a recording span, are there.
  assert.equal(unavailable.name, "GET /unavailable");
  assert.equal(unavailable.attributes["http.route"], "/unavailable");
  assert.equal(unavailable.attributes["client.address"], "127.0.0.1");
  const thrown = spans.find(withPath("/throws"))!;
  assert.equal(thrown.attributes[REASON], "error");
  assert.equal(thrown.attributes["http.response.status_code"], 500);
  assert.equal(spans.find(withPath("/marker"))!.attributes[REASON], "parent");
  assert.equal(spans.filter(withPath("/ok")).length, 0, "an unsampled 200 is not exported");
});

Deno.test("middleware tail rules: the slowness rule from the options keeps a slow request", async () => {
  await using receiver = await startOtlpReceiver();
  await using server = startApp(receiver, { tail: { slowerThanMs: 50 } });

  assert.equal(await call(server, "/slow"), 200);
  assert.equal(await call(server, "/unavailable"), 503);
  assert.equal(await call(server, "/marker", { traceparent: SAMPLED_PARENT }), 200);

  const spans = await receiver.waitForSpans((all) =>
    ["/slow", "/marker"].every((path) => all.some(withPath(path)))
  );
  assert.equal(spans.find(withPath("/slow"))!.attributes[REASON], "slow");
  // The errors rule is off unless asked for (the variable's default in the middleware).
  assert.equal(spans.filter(withPath("/unavailable")).length, 0);
});

/** Never called: `deno check` fails on any `@ts-expect-error` below that stops being an error. */
export function serverSpanEndingsCompileAsMeant(server: ServerSpan, ending: SpanEnding): void {
  const response = new Response("ok");
  // @ts-expect-error waiting for the body means nothing to a span the tail rules end now
  server.finish(response, { ending: { kind: "now" }, waitUntil: () => {} });
  // @ts-expect-error an ending is required: the tail rules decide it
  server.finish(response, {});

  // What is meant compiles: any ending alone, and the body's options with one that waits for it.
  server.finish(response, { ending });
  server.finish(response, { ending: { kind: "withBody" }, waitUntil: () => {} });
}
