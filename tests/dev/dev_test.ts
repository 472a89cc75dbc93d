/**
 * `deno task dev` as a user runs it: the task itself in a subprocess (viewer, demo service and the
 * proxy Worker in workerd), driven with real requests, read through its terminal output and the
 * viewer's API, then stopped with SIGINT.
 */
import assert from "node:assert/strict";
import {
  bannerUrls,
  printedHeader,
  printedTree,
  randomHex,
  READY,
  START_TIMEOUT_MS,
  startDevTask,
  TRACE_TIMEOUT_MS,
  viewerTrace,
} from "../support/dev_task.ts";

interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly args: string;
}

/** Live processes (zombies, already exited, are left out). */
async function processes(): Promise<ProcessInfo[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-A", "-o", "pid=,ppid=,stat=,args="],
  }).output();
  return new TextDecoder().decode(stdout).split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match || match[3].startsWith("Z")) return [];
    return [{ pid: Number(match[1]), ppid: Number(match[2]), args: match[4] }];
  });
}

function descendantsOf(pid: number, all: readonly ProcessInfo[]): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  const parents = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const info of all) {
      if (parents.has(info.ppid) && !parents.has(info.pid)) {
        parents.add(info.pid);
        found.push(info);
        grew = true;
      }
    }
  }
  return found;
}

function isListening(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return true;
    throw error;
  }
}

Deno.test("deno task dev: traces flow through the proxy and the demo to the viewer", async (t) => {
  await using dev = startDevTask({
    // Not a URL: ignored, and said so in the banner; every trace below still reaches the viewer.
    OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318",
  });
  const urls = await dev.waitForOutput(bannerUrls, "ready line", START_TIMEOUT_MS);

  await t.step("the banner names the URLs on the ports given, and ready-to-paste curls", () => {
    assert.deepEqual(urls, {
      viewer: `http://127.0.0.1:${dev.ports.viewer}`,
      proxy: `http://127.0.0.1:${dev.ports.proxy}`,
      demo: `http://127.0.0.1:${dev.ports.demo}`,
    });
    assert.match(
      dev.stdout,
      new RegExp(
        `curl -i -H 'traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01' ${urls.proxy}/orders/42`,
      ),
    );
    assert.ok(
      dev.stdout.includes(`curl -i -H 'x-tracegate-force: dev-token'`),
      "the second curl carries the force header with the local token",
    );
    assert.ok(
      dev.stdout.includes(
        `  OTEL_EXPORTER_OTLP_ENDPOINT: expected an absolute http:// or https:// URL, got ` +
          `"localhost:4318": ignored.\n  The proxy and the demo export to ${urls.viewer}.`,
      ),
      `the banner says the invalid endpoint is ignored and the viewer used:\n${dev.stdout}`,
    );
    assert.match(dev.stdout, /Demo routes, through the proxy:/);
  });

  await t.step(
    "a sampled traceparent to the nested route: the whole chain, rightly parented",
    async () => {
      const traceId = randomHex(16);
      const callerSpan = randomHex(8);
      const response = await fetch(`${urls.proxy}/orders/42`, {
        headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
      });
      assert.equal(response.status, 200);
      assert.deepEqual((await response.json()).inventory, { item: "42", inStock: 7 });

      const tree = await dev.waitForOutput(
        printedTree(traceId, 5),
        "5-span tree",
        TRACE_TIMEOUT_MS,
      );
      const spans = await viewerTrace(urls.viewer, traceId);
      assert.deepEqual(
        spans.map(({ service, kind }) => `${service} ${kind}`),
        [
          "tracegate-proxy SERVER",
          "tracegate-proxy CLIENT",
          "demo-service SERVER",
          "demo-service CLIENT",
          "demo-service SERVER",
        ],
      );
      const [edge, forward, orders, call, inventory] = spans;
      assert.equal(edge.parentSpanId, callerSpan, "the proxy continues the caller's trace");
      assert.equal(forward.parentSpanId, edge.spanId);
      assert.equal(orders.parentSpanId, forward.spanId);
      assert.equal(call.parentSpanId, orders.spanId);
      assert.equal(inventory.parentSpanId, call.spanId);
      assert.equal(orders.attributes["http.route"], "/orders/:id");
      assert.equal(inventory.attributes["http.route"], "/inventory/:id");
      assert.deepEqual(spans.map((span) => span.depth), [0, 1, 2, 3, 4]);

      // The terminal printed the same spans in the same order, each indented under its parent.
      const indents = tree.map((line, index) => {
        const at = line.indexOf(`${spans[index].service}  ${spans[index].name}  `);
        assert.ok(
          at >= 0,
          `line ${index} shows ${spans[index].service} ${spans[index].name}: ${line}`,
        );
        return at;
      });
      assert.match(printedHeader(dev.stdout, traceId), / \/orders\/42 /, "the path in the header");
      for (let index = 1; index < indents.length; index++) {
        assert.ok(
          indents[index] > indents[index - 1],
          `line ${index} is indented deeper:\n${tree.join("\n")}`,
        );
      }
    },
  );

  await t.step(
    "the force header on the failing route: every span of the trace is an error",
    async () => {
      const response = await fetch(`${urls.proxy}/fail`, {
        headers: { "x-tracegate-force": "dev-token" },
      });
      assert.equal(response.status, 500);
      // The exception's message reaches the span below, never the client.
      assert.equal(await response.text(), "Internal Server Error\n");
      const handedBack = /traceparent;desc="00-([0-9a-f]{32})-/.exec(
        response.headers.get("server-timing") ?? "",
      );
      assert.ok(handedBack, "the proxy hands the trace back in Server-Timing");
      const traceId = handedBack[1];

      await dev.waitForOutput(printedTree(traceId, 3), "3-span tree", TRACE_TIMEOUT_MS);
      const spans = await viewerTrace(urls.viewer, traceId);
      assert.deepEqual(
        spans.map(({ service, kind, status }) => `${service} ${kind} ${status.code}`),
        [
          "tracegate-proxy SERVER ERROR",
          "tracegate-proxy CLIENT ERROR",
          "demo-service SERVER ERROR",
        ],
      );
      const thrown = spans[2].events.find((event) => event.name === "exception");
      assert.match(String(thrown?.attributes["exception.message"]), /demo failure/);
    },
  );

  await t.step("baggage crosses the proxy: the demo echoes user.id and records it", async () => {
    const response = await fetch(`${urls.proxy}/whoami`, {
      headers: { "x-tracegate-force": "dev-token", baggage: "user.id=ada" },
    });
    assert.deepEqual(await response.json(), { userId: "ada" });
    const traceId = /traceparent;desc="00-([0-9a-f]{32})-/.exec(
      response.headers.get("server-timing") ?? "",
    )?.[1];
    assert.ok(traceId);
    const tree = await dev.waitForOutput(printedTree(traceId, 3), "3-span tree", TRACE_TIMEOUT_MS);
    const demoLine = tree.find((line) => line.includes("demo-service  GET"));
    assert.match(
      demoLine ?? "",
      / user\.id=ada/,
      `the baggage attribute shows:\n${tree.join("\n")}`,
    );
    const demoSpan = (await viewerTrace(urls.viewer, traceId))
      .find((span) => span.service === "demo-service");
    assert.equal(demoSpan?.attributes["user.id"], "ada");
  });

  await t.step(
    "every request says whether it was traced and why, and leaves an access line",
    async () => {
      const lineWith = (...parts: string[]) => (output: string) =>
        output.split("\n").find((line) => parts.every((part) => line.includes(part)));

      const plain = await fetch(`${urls.proxy}/inventory/42`);
      await plain.body?.cancel();
      const plainId = plain.headers.get("x-request-id")!;
      await dev.waitForAnyOutput(
        lineWith(
          "[proxy] tracegate: debug: GET /inventory/42 200",
          `request_id=${plainId}`,
          "not traced: no sampled parent; no force header; root sampler off",
        ),
        "the proxy's debug line for an untraced request",
        TRACE_TIMEOUT_MS,
      );
      await dev.waitForAnyOutput(
        lineWith(
          "tracegate: debug: GET /inventory/42 200",
          `request_id=${plainId}`,
          "not traced: caller's traceparent not sampled",
        ),
        "the demo's debug line for the same request",
        TRACE_TIMEOUT_MS,
      );

      const wrongToken = "not-the-token-8f3a";
      const wrong = await fetch(`${urls.proxy}/inventory/42`, {
        headers: { "x-tracegate-force": wrongToken },
      });
      await wrong.body?.cancel();
      await dev.waitForAnyOutput(
        lineWith(
          `request_id=${wrong.headers.get("x-request-id")}`,
          "force header present, token mismatch",
        ),
        "the debug line for a wrong force token",
        TRACE_TIMEOUT_MS,
      );
      assert.ok(!dev.transcript().includes(wrongToken), "the token presented is never echoed");

      const forced = await fetch(`${urls.proxy}/orders/42`, {
        headers: { "x-tracegate-force": "dev-token" },
      });
      await forced.body?.cancel();
      const traceId = /traceparent;desc="00-([0-9a-f]{32})-/.exec(
        forced.headers.get("server-timing") ?? "",
      )?.[1];
      assert.ok(traceId);
      const accessLines = async (count: number) => {
        const found = await dev.waitForAnyOutput(
          (output) => {
            const lines = output.split("\n").filter((line) =>
              line.includes(`"trace_id":"${traceId}"`)
            );
            return lines.length >= count ? lines : undefined;
          },
          `${count} access lines of the forced trace`,
          TRACE_TIMEOUT_MS,
        );
        return found.map((line) => JSON.parse(line.slice(line.indexOf("{"))));
      };
      // The proxy's, the demo's /orders/42 and its nested /inventory/42.
      const lines = await accessLines(3);
      const proxyLine = lines.find((line) =>
        line["url.path"] === "/orders/42" && line["tracegate.sampling.reason"] === "force"
      );
      assert.ok(proxyLine, JSON.stringify(lines));
      assert.equal(proxyLine.trace_flags, "01");
      assert.equal(proxyLine["http.response.status_code"], 200);
      assert.equal(proxyLine["http.request.method"], "GET");
      assert.equal(proxyLine["tracegate.request.id"], forced.headers.get("x-request-id"));
      assert.match(proxyLine.timestamp, /^\d{4}-\d\d-\d\dT/);
      assert.ok(proxyLine["http.server.request.duration"] >= 0);
      assert.deepEqual(
        lines.map((line) => line["tracegate.sampling.reason"]).sort(),
        ["force", "parent", "parent"],
      );

      await dev.waitForOutput(printedTree(traceId, 5), "5-span tree", TRACE_TIMEOUT_MS);
      const servers = (await viewerTrace(urls.viewer, traceId)).filter((span) =>
        span.kind === "SERVER"
      );
      assert.deepEqual(
        servers.map((span) => [span.service, span.attributes["tracegate.sampling.reason"]]),
        [["tracegate-proxy", "force"], ["demo-service", "parent"], ["demo-service", "parent"]],
        "every exported server span says why",
      );
    },
  );

  await t.step("SIGINT stops everything: no process left behind, every port free", async () => {
    const running = descendantsOf(dev.pid, await processes());
    const workerd = running.find((info) =>
      /workerd/.test(info.args) && info.args.includes(`127.0.0.1:${dev.ports.proxy}`)
    );
    const main = running.find((info) => info.args.includes("dev/main.ts"));
    assert.ok(
      workerd,
      `workerd serves the proxy port:\n${running.map((info) => info.args).join("\n")}`,
    );
    assert.ok(main, "the task runs dev/main.ts");
    assert.ok([dev.ports.viewer, dev.ports.proxy, dev.ports.demo].every(isListening));

    const status = await dev.stop("SIGINT");
    assert.equal(status.code, 0, dev.transcript());
    assert.match(dev.stdout, /tracegate dev: stopped/);

    const left = (await processes()).filter((info) =>
      running.some((before) => before.pid === info.pid && before.args === info.args) ||
      (/workerd/.test(info.args) && info.args.includes(`127.0.0.1:${dev.ports.proxy}`))
    );
    assert.deepEqual(left, [], "no process of the task remains");
    for (const port of [dev.ports.viewer, dev.ports.proxy, dev.ports.demo]) {
      assert.equal(isListening(port), false, `port ${port} is free again`);
    }
  });
});

Deno.test("deno task dev: a fatal proxy configuration stops the task at start", async () => {
  await using dev = startDevTask({
    TRACEGATE_ROUTES: "garbage without equals",
  });
  // Bounded either way: the task ends, or it gets as far as its ready line (the failure).
  const ready = (stdout: string) => stdout.includes(READY) || undefined;
  const outcome = await dev.waitForOutput(ready, "the ready line", START_TIMEOUT_MS)
    .then(() => "ready", () => "ended");
  assert.equal(outcome, "ended", dev.transcript());
  const status = await dev.exited();
  assert.equal(status.code, 1, dev.transcript());
  assert.match(dev.stderr, /the proxy cannot start:\n\s+TRACEGATE_ROUTES: expected /);
  assert.ok(!dev.stdout.includes(READY), dev.transcript());
  assert.ok(
    !isListening(dev.ports.proxy) && !isListening(dev.ports.viewer),
    "nothing is left listening",
  );
});
