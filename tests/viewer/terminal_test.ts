/**
 * Finished traces printed as trees: the rendering of a known trace recorded by real SDK providers,
 * and `deno task viewer` (viewer/main.ts) as a process: URL, trees, clean stop on Ctrl-C.
 */
import assert from "node:assert/strict";
import { startViewer } from "../../viewer/server.ts";
import type { SettledTrace } from "../../viewer/store.ts";
import { renderTrace } from "../../viewer/terminal.ts";
import {
  CHECKOUT_TRACE,
  countSpans,
  EARLIER_TRACES,
  recordTraces,
} from "../support/viewer_traces.ts";

const CHECKOUT_TREE = [
  "frontend  GET /checkout  184.0 ms  UNSET  http.request.method=GET http.route=/checkout " +
  "http.response.status_code=200 http.request.id=req-7f3a9c",
  "├─ frontend  load cart  18.0 ms  UNSET",
  "├─ frontend  GET  72.0 ms  ERROR  http.request.method=GET " +
  "url.full=http://inventory.internal/stock/sku-42 http.response.status_code=503 " +
  "http.request.id=req-7f3a9c error.type=503",
  "│  └─ inventory  GET /stock/:sku  66.0 ms  ERROR: database timeout  " +
  "http.request.method=GET http.route=/stock/:sku http.response.status_code=503 " +
  "http.request.id=req-7f3a9c error.type=TimeoutError",
  "│     └─ inventory  SELECT stock  61.0 ms  UNSET",
  "├─ frontend  GET  32.0 ms  UNSET  http.request.method=GET " +
  "url.full=http://inventory.internal/stock/sku-42 http.response.status_code=200 " +
  "http.request.id=req-7f3a9c",
  "│  └─ inventory  GET /stock/:sku  28.0 ms  UNSET  http.request.method=GET " +
  "http.route=/stock/:sku http.response.status_code=200 http.request.id=req-7f3a9c",
  "│     └─ inventory  SELECT stock  23.0 ms  UNSET",
  "└─ frontend  POST  47.0 ms  UNSET  http.request.method=POST " +
  "url.full=http://payments.internal/charges http.response.status_code=201 " +
  "http.request.id=req-7f3a9c",
  "   └─ payments  POST /charges  42.0 ms  UNSET  http.request.method=POST http.route=/charges " +
  "http.response.status_code=201 http.request.id=req-7f3a9c tracegate.sampling.reason=slow",
];

const ESC = "\x1b";
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, "g");

/** A viewer that hands over the checkout trace once it has settled whole. */
async function settledCheckout(): Promise<{ trace: SettledTrace; traceId: string }> {
  let resolve!: (trace: SettledTrace) => void;
  const whole = new Promise<SettledTrace>((done) => resolve = done);
  await using viewer = await startViewer({
    port: 0,
    onTraceSettled(trace) {
      if (trace.spans.length === countSpans(CHECKOUT_TRACE)) resolve(trace);
    },
  });
  const ids = await recordTraces(viewer.tracesUrl, [EARLIER_TRACES[0], CHECKOUT_TRACE]);
  return { trace: await whole, traceId: ids.get("checkout")!.traceId };
}

Deno.test("a finished trace renders as a tree: service, name, duration, status, key attributes", async (t) => {
  const { trace, traceId } = await settledCheckout();
  const plain = renderTrace(trace);

  await t.step("plain text, children indented under their parents", () => {
    assert.equal(
      plain,
      [`trace ${traceId}  GET /checkout  10 spans · 184.0 ms · 2 errors`, ...CHECKOUT_TREE]
        .join("\n") + "\n",
    );
  });

  await t.step("in colour: the same text, errors in red, one colour per service", () => {
    const coloured = renderTrace(trace, { color: true });
    assert.equal(coloured.replace(ANSI, ""), plain);
    assert.ok(coloured.includes(`${ESC}[1;31mERROR: database timeout${ESC}[0m`));
    const serviceColours = new Map<string, Set<string>>();
    for (
      const [, code, service] of coloured.matchAll(
        new RegExp(`${ESC}\\[(\\d+)m(frontend|inventory)${ESC}`, "g"),
      )
    ) {
      serviceColours.set(service, (serviceColours.get(service) ?? new Set()).add(code));
    }
    assert.deepStrictEqual([...serviceColours.keys()].sort(), ["frontend", "inventory"]);
    for (const codes of serviceColours.values()) assert.equal(codes.size, 1);
  });

  await t.step("a trace settling again says it was updated", () => {
    const [header] = renderTrace(trace, { update: true }).split("\n");
    assert.match(header, / · updated with late spans$/);
  });
});

/** Reads `stdout` into `output` until `done` holds for it; rejects on EOF or timeout. */
async function readUntil(
  stdout: ReadableStreamDefaultReader<string>,
  output: { text: string },
  done: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out; output:\n${output.text}`)), timeoutMs);
  });
  try {
    while (!done(output.text)) {
      const chunk = await Promise.race([stdout.read(), timeout]);
      if (chunk.done) throw new Error(`stdout ended; output:\n${output.text}`);
      output.text += chunk.value;
    }
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("`deno task viewer` prints its URL and each finished trace, and stops on SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "viewer/main.ts"],
    cwd: new URL("../..", import.meta.url),
    env: { TRACEGATE_VIEWER_PORT: "0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const output = { text: "" };
  try {
    await readUntil(stdout, output, (text) => /tracegate viewer: http:\S+\n/.test(text));
    const url = /tracegate viewer: (http:\S+)/.exec(output.text)![1];
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const ids = await recordTraces(`${url}/v1/traces`, [EARLIER_TRACES[0], CHECKOUT_TRACE]);
    const traceId = ids.get("checkout")!.traceId;
    await readUntil(stdout, output, (text) => text.includes(CHECKOUT_TREE.at(-1)!));

    const header = `trace ${traceId}  GET /checkout  10 spans · 184.0 ms · 2 errors`;
    assert.ok(output.text.includes([header, ...CHECKOUT_TREE].join("\n")), output.text);
    assert.ok(output.text.includes(`trace ${ids.get("cart")!.traceId}  POST /cart/items`));
  } finally {
    child.kill("SIGINT");
    await stdout.cancel();
  }
  const status = await child.status;
  assert.deepStrictEqual([status.success, status.signal], [true, null]);
});
