/**
 * The viewer against a hostile web page: requests that DNS rebinding sends to it carry a foreign
 * `Host` and are refused; what it serves forbids framing, sniffing and foreign scripts.
 */
import assert from "node:assert/strict";
import { startViewer } from "../../viewer/server.ts";
import { rawHttp } from "../support/raw_client.ts";

Deno.test("viewer: only loopback host names are answered (DNS rebinding)", async (t) => {
  await using viewer = await startViewer({ port: 0 });
  const port = Number(new URL(viewer.url).port);
  const answered = [
    "127.0.0.1",
    "127.0.0.1:" + port,
    "localhost:" + port,
    "LOCALHOST",
    "[::1]:" + port,
    "127.1.2.3",
    "app.localhost",
  ];
  const refused = [
    "attacker.example:" + port,
    "attacker.example",
    "127.0.0.1.attacker.example",
    "localhost.attacker.example",
    "10.0.0.1:" + port,
    "[::2]",
    "",
  ];
  for (const target of ["/api/traces", "/"]) {
    await t.step(target, async () => {
      for (const host of answered) {
        const response = await rawHttp(port, { target, host });
        assert.equal(response.status, 200, `${host}: ${response.body}`);
      }
      for (const host of refused) {
        const response = await rawHttp(port, { target, host });
        assert.equal(response.status, 421, `${host}: ${response.body}`);
        assert.ok(!response.body.includes("traces"), response.body);
      }
    });
  }
  await t.step("an export addressed to another host is refused too", async () => {
    const response = await rawHttp(port, {
      method: "POST",
      target: "/v1/traces",
      host: "attacker.example",
    });
    assert.equal(response.status, 421);
    assert.equal(viewer.store.size, 0);
  });
});

Deno.test("viewer: the UI and the API carry CSP, nosniff and frame protection", async () => {
  await using viewer = await startViewer({ port: 0 });
  for (const path of ["/", "/app.js", "/api/traces"]) {
    const response = await fetch(`${viewer.url}${path}`);
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(response.headers.get("x-frame-options"), "DENY", path);
  }
});
