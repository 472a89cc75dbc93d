/**
 * Why each request was traced, as the middleware tells it: the reason on exported server spans
 * (decoded by a real OTLP receiver), the debug line and the access-log line per request, and the
 * trace fields an app puts in its own log lines.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tracegate, type TracegateEnv, traceLogFields } from "../../middleware/mod.ts";
import { startOtlpReceiver } from "../support/otlp_receiver.ts";
import { serve, type TestServer } from "../support/servers.ts";

interface App extends AsyncDisposable {
  readonly server: TestServer;
  readonly logs: string[];
  readonly access: string[];
}

function startApp(env: Record<string, string>, options: { debug?: boolean } = {}): App {
  const logs: string[] = [];
  const access: string[] = [];
  const app = new Hono<TracegateEnv>();
  app.use(tracegate({
    registerGlobals: false,
    env,
    log: (line) => logs.push(line),
    writeAccessLog: (line) => access.push(line),
    ...options,
  }));
  // An app's own log line, joined to the trace by the helper.
  app.get("/work", (c) => c.json({ ...traceLogFields(c.var.traceContext), msg: "worked" }));
  const server = serve((request, info) => app.fetch(request, info));
  return { server, logs, access, [Symbol.asyncDispose]: () => server.close() };
}

const CALLER = "4bf92f3577b34da6a3ce929d0e0e4736";

Deno.test("decision reasons: every exported server span says why it was kept", async () => {
  await using receiver = await startOtlpReceiver();
  await using alwaysOn = startApp({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
  await using ratio = startApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "1",
  });
  const root = await (await fetch(`${alwaysOn.server.url}/work`)).json();
  const child = await (await fetch(`${alwaysOn.server.url}/work`, {
    headers: { traceparent: `00-${CALLER}-00f067aa0ba902b7-01` },
  })).json();
  const byRatio = await (await fetch(`${ratio.server.url}/work`)).json();
  const ids = [root.trace_id, child.trace_id, byRatio.trace_id];
  assert.equal(child.trace_id, CALLER);
  const spans = await receiver.waitForSpans((all) =>
    ids.every((id) => all.some((span) => span.traceId === id))
  );
  const reasonOf = (id: string) =>
    spans.find((span) => span.traceId === id)!.attributes["tracegate.sampling.reason"];
  assert.deepEqual(ids.map(reasonOf), ["always_on", "parent", "ratio"]);
});

Deno.test("debug and access log: one line each per request, traced or not", async () => {
  await using app = startApp({
    OTEL_TRACES_EXPORTER: "none",
    OTEL_TRACES_SAMPLER: "parentbased_always_off",
    TRACEGATE_ACCESS_LOG: "true",
  }, { debug: true });
  const untraced = await fetch(`${app.server.url}/work?token=secret`);
  const fields = await untraced.json();
  const requestId = untraced.headers.get("x-request-id");
  assert.deepEqual(app.logs, [
    `tracegate: debug: GET /work 200 request_id=${requestId} trace_id=${fields.trace_id}: ` +
    "not traced: no sampled parent; root sampler off",
  ]);
  assert.equal(app.access.length, 1);
  const line = JSON.parse(app.access[0]);
  assert.deepEqual(
    {
      trace_id: line.trace_id,
      span_id: line.span_id,
      trace_flags: line.trace_flags,
      body: line.body,
      method: line["http.request.method"],
      path: line["url.path"],
      status: line["http.response.status_code"],
      requestId: line["tracegate.request.id"],
      reason: line["tracegate.sampling.reason"],
      severity: line.severity_text,
    },
    {
      // The app's own line carries the same trace fields, from the helper.
      trace_id: fields.trace_id,
      span_id: fields.span_id,
      trace_flags: "00",
      body: "GET /work 200",
      method: "GET",
      path: "/work",
      status: 200,
      requestId,
      reason: null,
      severity: "INFO",
    },
  );
  assert.ok(!app.access[0].includes("secret"), "the query is not logged");

  const traced = await fetch(`${app.server.url}/work`, {
    headers: { traceparent: `00-${CALLER}-00f067aa0ba902b7-01` },
  });
  await traced.body?.cancel();
  assert.match(app.logs[1], new RegExp(`trace_id=${CALLER}: traced \\(reason: parent\\)$`));
  assert.equal(JSON.parse(app.access[1])["tracegate.sampling.reason"], "parent");
  assert.equal(JSON.parse(app.access[1]).trace_flags, "01");
});

Deno.test("debug and access log: off by default", async () => {
  await using app = startApp({ OTEL_TRACES_EXPORTER: "none" });
  await (await fetch(`${app.server.url}/work`)).body?.cancel();
  assert.deepEqual([app.logs, app.access], [[], []]);
});
