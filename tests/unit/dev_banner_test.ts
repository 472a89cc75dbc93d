/** What `deno task dev` prints: the demo routes say where they are reached. */
import assert from "node:assert/strict";
import { banner } from "../../dev/banner.ts";
import { DEMO_ROUTES } from "../../dev/demo.ts";

const urls = {
  viewer: "http://127.0.0.1:4318",
  proxy: "http://127.0.0.1:8787",
  demo: "http://127.0.0.1:8788",
};
const bindings = { OTEL_EXPORTER_OTLP_ENDPOINT: urls.viewer, TRACEGATE_FORCE_TOKEN: "dev-token" };

Deno.test("dev banner: in front of the demo, its routes are tried through the proxy", () => {
  const text = banner(urls, { ...bindings, TRACEGATE_UPSTREAM: urls.demo });
  assert.match(text, /Demo routes, through the proxy:\n {4}\/orders\/42/);
  assert.match(text, /curl -i -H 'traceparent: [^']+' http:\/\/127\.0\.0\.1:8787\/orders\/42/);
});

Deno.test("dev banner: in front of another upstream, the demo's routes are the demo's own", () => {
  const text = banner(urls, { ...bindings, TRACEGATE_UPSTREAM: "http://127.0.0.1:9000" });
  assert.match(text, /in front of http:\/\/127\.0\.0\.1:9000/);
  assert.doesNotMatch(text, /through the proxy/);
  assert.match(text, /Demo routes, at http:\/\/127\.0\.0\.1:8788 directly:/);
  for (const route of Object.keys(DEMO_ROUTES)) assert.ok(text.includes(`    ${route} `));
  assert.doesNotMatch(text, /8787\/orders\/42/, "no curl sends a demo route to the other upstream");
});
