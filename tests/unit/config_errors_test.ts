import assert from "node:assert/strict";
import { ConfigError, EnvReader } from "../../src/config/env.ts";
import { readTracingSettings } from "../../src/config/settings.ts";

Deno.test("a configuration error never quotes the credentials in a URL", () => {
  const cases: [received: string, shown: string][] = [
    ["http://svc-admin:Sup3rS3cret@127.0.0.1:9/internal", "http://REDACTED@127.0.0.1:9/internal"],
    ["https://token@api.example/x", "https://REDACTED@api.example/x"],
    [
      "/a=http://u:p@a.test, /b=https://k@b.test/v1",
      "/a=http://REDACTED@a.test, /b=https://REDACTED@b.test/v1",
    ],
    ["http://a.test/path@not-userinfo", "http://a.test/path@not-userinfo"],
    ["plain value", "plain value"],
  ];
  for (const [received, shown] of cases) {
    const error = new ConfigError("TRACEGATE_UPSTREAM", "a URL", received);
    assert.equal(error.message, `TRACEGATE_UPSTREAM: expected a URL, got ${JSON.stringify(shown)}`);
  }
});

Deno.test("a bad OTLP headers variable is named, its value never quoted", () => {
  for (const variable of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"]) {
    const { errors } = readTracingSettings({ [variable]: "authorization=Bearer%ZZs3cret" }, {
      serviceName: "s",
      sampler: "always_on",
    });
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, new RegExp(`^${variable}: `));
    assert.ok(!errors[0].message.includes("s3cret"), errors[0].message);
  }
  // Resource attributes are not secret: their bad value is quoted to help fix it.
  const reader = new EnvReader({ OTEL_RESOURCE_ATTRIBUTES: "novalue" });
  reader.keyValues("OTEL_RESOURCE_ATTRIBUTES");
  assert.match(reader.errors[0].message, /got "novalue"$/);
});
