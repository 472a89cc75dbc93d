/**
 * The viewer's page in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * traces appear by themselves, search filters them, and a trace opens as a waterfall with the
 * right nesting, errors marked, links shown and span details on click.
 *
 * Writes screenshots to test-artifacts/: viewer.png (the sample traces) and dev-waterfall.png (a
 * real `deno task dev` trace of the demo, also written to docs/waterfall.png, the README's picture,
 * when UPDATE_DOCS_SCREENSHOT=1). Fails when Chromium is missing unless TRACEGATE_SKIP_BROWSER=1.
 * Run by `deno task test:browser` (and `.ci/run`, which installs Debian's chromium first), apart
 * from `deno task test`, which must pass on a machine with only Node and npm.
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { startViewer } from "../../viewer/server.ts";
import {
  bannerUrls,
  printedTree,
  randomHex,
  START_TIMEOUT_MS,
  startDevTask,
  TRACE_TIMEOUT_MS,
} from "../support/dev_task.ts";
import {
  CHECKOUT_TRACE,
  countSpans,
  type PlannedSpan,
  recordTraces,
  SAMPLE_TRACES,
  STACK,
} from "../support/viewer_traces.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = new URL("../../", import.meta.url);
const ARTIFACT = new URL("test-artifacts/viewer.png", ROOT);
const DEV_ARTIFACT = new URL("test-artifacts/dev-waterfall.png", ROOT);
const DOCS_SCREENSHOT = new URL("docs/waterfall.png", ROOT);

async function launchChromium(): Promise<BrowserContext & AsyncDisposable> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `the viewer's browser test needs Chromium at ${CHROMIUM}: install it with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does), " +
        "or set TRACEGATE_SKIP_BROWSER=1 to skip this test",
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "tracegate-chromium-" });
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 860 },
  });
  return Object.assign(browser, {
    async [Symbol.asyncDispose]() {
      await browser.close();
      await Deno.remove(profile, { recursive: true });
    },
  });
}

/** The plan's spans in waterfall order: [name, service, depth]. */
function plannedRows(plan: PlannedSpan, depth = 0): [string, string, number][] {
  return [
    [plan.name, plan.service, depth],
    ...(plan.children ?? []).flatMap((child) => plannedRows(child, depth + 1)),
  ];
}

interface Row {
  readonly spanId: string;
  readonly parentId: string;
  readonly depth: number;
  readonly status: string;
  readonly service: string;
  readonly name: string;
}

function waterfallRows(page: Page): Promise<Row[]> {
  return page.locator(".span-row").evaluateAll((rows) =>
    rows.map((row) => {
      const data = (name: string) => row.getAttribute(`data-${name}`) ?? "";
      return {
        spanId: data("span-id"),
        parentId: data("parent-id"),
        depth: Number(data("depth")),
        status: data("status"),
        service: data("service"),
        name: row.querySelector(".span-name")?.textContent ?? "",
      };
    })
  );
}

/**
 * Waits until exactly `count` elements match `selector` (the page re-renders as data arrives). A
 * function, not a string: the viewer's Content-Security-Policy forbids the page to eval strings.
 */
async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(
    ([selector, count]) => {
      // Runs in the page; these tests are type-checked without the DOM library.
      const { document } = globalThis as unknown as {
        document: { querySelectorAll(selector: string): { length: number } };
      };
      return document.querySelectorAll(selector).length === count;
    },
    [selector, count] as const,
  );
}

/** The bar's computed colour as [r, g, b]. */
async function barColour(page: Page, spanId: string): Promise<number[]> {
  const colour = await page.locator(`[data-span-id="${spanId}"] .wf-bar`)
    .evaluate((bar) => bar.ownerDocument.defaultView!.getComputedStyle(bar).backgroundColor);
  return colour.match(/\d+/g)!.slice(0, 3).map(Number);
}

Deno.test({
  name: "the page lists traces as they arrive and opens one as a waterfall",
  ignore: Deno.env.get("TRACEGATE_SKIP_BROWSER") === "1",
  async fn(t) {
    await using browser = await launchChromium();
    await using viewer = await startViewer({ port: 0 });
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(viewer.url);
    await page.getByText("Waiting for traces…").waitFor();

    const ids = await recordTraces(viewer.tracesUrl, SAMPLE_TRACES);
    const checkout = ids.get("checkout")!;
    const cart = ids.get("cart")!;
    const item = page.locator(`[data-trace-id="${checkout.traceId}"]`);

    await t.step("traces appear by themselves, newest first, errors marked", async () => {
      await page.locator(".trace-item").nth(SAMPLE_TRACES.length - 1).waitFor();
      const listed = await page.locator(".trace-item").evaluateAll((items) =>
        items.map((item) => item.getAttribute("data-trace-id"))
      );
      assert.deepStrictEqual(
        listed,
        [...SAMPLE_TRACES].reverse().map((plan) => ids.get(plan.key!)!.traceId),
      );
      assert.equal(await item.getAttribute("data-error"), "");
      assert.equal(await item.locator(".trace-name").textContent(), "GET /checkout");
      assert.equal(await item.locator(".trace-path").count(), 0, "the name already says /checkout");
      assert.equal(await item.locator(".error-mark").textContent(), "2 errors");
      assert.deepStrictEqual(await item.locator(".service-chip").allTextContents(), [
        "frontend",
        "inventory",
        "payments",
      ]);
      assert.equal(await item.locator(".trace-duration").textContent(), "184.0 ms");
    });

    await t.step("the search box filters by request id, then by trace id", async () => {
      await page.locator("#search").fill("req-1c02d4");
      await page.locator(".trace-item").and(page.locator(`[data-trace-id="${cart.traceId}"]`))
        .waitFor();
      await waitForCount(page, ".trace-item", 1);
      await page.locator("#search").fill(checkout.traceId);
      await waitForCount(page, `.trace-item[data-trace-id="${checkout.traceId}"]`, 1);
      await waitForCount(page, ".trace-item", 1);
      await page.locator("#search").fill("");
      await page.locator(".trace-item").nth(SAMPLE_TRACES.length - 1).waitFor();
    });

    await t.step("opening a trace shows one row per span, nested by parent", async () => {
      await item.click();
      await waitForCount(page, ".span-row", countSpans(CHECKOUT_TRACE));
      const rows = await waterfallRows(page);
      assert.deepStrictEqual(
        rows.map((row) => [row.name, row.service, row.depth]),
        plannedRows(CHECKOUT_TRACE),
      );
      assert.deepStrictEqual([rows[0].spanId, rows[0].parentId], [checkout.spanId, ""]);
      rows.forEach((row, index) => {
        if (row.depth === 0) return;
        const parent = rows.slice(0, index).findLast((above) => above.depth === row.depth - 1);
        assert.equal(row.parentId, parent?.spanId, `parent of row ${index} (${row.name})`);
      });
      const failedLookup = rows.find((row) => row.spanId === ids.get("failed-lookup")!.spanId);
      assert.equal(failedLookup?.parentId, ids.get("failed-call")!.spanId);
    });

    await t.step("bars are placed by time; errors are red and marked", async () => {
      const style = (spanId: string) =>
        page.locator(`[data-span-id="${spanId}"] .wf-bar`).getAttribute("style");
      assert.match((await style(checkout.spanId)) ?? "", /left: 0%; width: 100%/);
      const lookup = ids.get("failed-lookup")!.spanId;
      const [left, width] = ((await style(lookup)) ?? "").match(/[\d.]+(?=%)/g)!.map(Number);
      assert.ok(Math.abs(left - (27 / 184) * 100) < 0.01, `left ${left}%`);
      assert.ok(Math.abs(width - (66 / 184) * 100) < 0.01, `width ${width}%`);

      const statuses = (await waterfallRows(page)).map((row) => row.status);
      assert.deepStrictEqual(statuses.filter((status) => status === "error").length, 2);
      const errorRow = page.locator(`[data-span-id="${lookup}"]`);
      assert.equal(await errorRow.getAttribute("data-status"), "error");
      assert.ok(await errorRow.locator(".error-icon").isVisible());
      const [red, green, blue] = await barColour(page, lookup);
      assert.ok(red > 150 && green < 100 && blue < 100, `error bar colour ${[red, green, blue]}`);
      const [okRed] = await barColour(page, checkout.spanId);
      assert.ok(okRed < 150, "a span without error is not red");
    });

    await t.step("span links are shown with the linked trace and span", async () => {
      const link = page.locator(`[data-span-id="${checkout.spanId}"] .link-mark`);
      assert.equal(await link.getAttribute("data-link-trace-id"), cart.traceId);
      assert.match(
        await link.textContent() ?? "",
        new RegExp(`^link → ${cart.traceId.slice(0, 8)}`),
      );
    });

    await t.step("clicking a span shows its attributes, events and resource", async () => {
      await page.locator(`[data-span-id="${checkout.spanId}"]`).click();
      await page.locator("#span-detail .links a").waitFor();
      assert.equal(
        await page.locator("#span-detail .links a").textContent(),
        `trace ${cart.traceId} · span ${cart.spanId}`,
      );

      await page.locator(`[data-span-id="${ids.get("failed-lookup")!.spanId}"]`).click();
      const detail = page.locator("#span-detail");
      await detail.locator("h3", { hasText: "GET /stock/:sku" }).waitFor();
      const attributes = await detail.locator(".span-attributes tr").evaluateAll((rows) =>
        Object.fromEntries(
          rows.map((row) => [
            row.querySelector("th")?.textContent,
            row.querySelector("td")?.textContent,
          ]),
        )
      );
      assert.deepStrictEqual(attributes, {
        "error.type": "TimeoutError",
        "http.request.id": "req-7f3a9c",
        "http.request.method": "GET",
        "http.response.status_code": "503",
        "http.route": "/stock/:sku",
        "url.path": "/stock/sku-42",
      });
      assert.match(await detail.textContent() ?? "", /statusERROR: database timeout/);
      assert.match(await detail.locator(".events").textContent() ?? "", /exception/);
      // The exception is recorded at the span's end: 66 ms into the span (93 ms into the trace).
      assert.equal(await detail.locator(".events .event-time").textContent(), "+66.0 ms");
      const stack = detail.locator(".events td.multiline");
      assert.equal(await stack.textContent(), STACK);
      assert.equal(
        (await stack.innerText()).split("\n").length,
        3,
        "each stack frame on its own line",
      );
      assert.match(await detail.textContent() ?? "", /service\.nameinventory/);
    });

    await Deno.mkdir(new URL(".", ARTIFACT), { recursive: true });
    await page.screenshot({ path: ARTIFACT.pathname });
    assert.deepStrictEqual(pageErrors, []);
  },
});

Deno.test({
  name: "a real `deno task dev` trace of the demo as a waterfall (the README's picture)",
  ignore: Deno.env.get("TRACEGATE_SKIP_BROWSER") === "1",
  async fn() {
    await using dev = startDevTask();
    const urls = await dev.waitForOutput(bannerUrls, "ready line", START_TIMEOUT_MS);
    // What the banner suggests: the failing route and baggage with the force header, then the
    // nested route with a sampled traceparent, the trace the picture shows.
    const forced = { "x-tracegate-force": "dev-token" };
    for (
      const [path, headers] of [["/fail", forced], ["/whoami", {
        ...forced,
        baggage: "user.id=ada",
      }]] as const
    ) {
      await (await fetch(`${urls.proxy}${path}`, { headers })).body?.cancel();
    }
    const traceId = randomHex(16);
    const response = await fetch(`${urls.proxy}/orders/42`, {
      headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    await dev.waitForOutput(printedTree(traceId, 5), "5-span tree", TRACE_TIMEOUT_MS);

    await using browser = await launchChromium();
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${urls.viewer}/#${traceId}`);
    await waitForCount(page, ".span-row", 5);
    await waitForCount(page, ".trace-item", 3);
    // The proxy's span is named for its route table entry (/): the path tells the traces apart.
    assert.deepStrictEqual(await page.locator(".trace-path").allTextContents(), [
      "/orders/42",
      "/whoami",
      "/fail",
    ]);
    const rows = await waterfallRows(page);
    assert.deepStrictEqual(rows.map((row) => [row.service, row.depth]), [
      ["tracegate-proxy", 0],
      ["tracegate-proxy", 1],
      ["demo-service", 2],
      ["demo-service", 3],
      ["demo-service", 4],
    ]);
    await page.locator(`[data-span-id="${rows[2].spanId}"]`).click();
    await page.locator("#span-detail h3", { hasText: "GET /orders/:id" }).waitFor();
    // A span without events or links shows neither section, and no stray text for them.
    assert.doesNotMatch(await page.locator("#span-detail").textContent() ?? "", /false/);

    await Deno.mkdir(new URL(".", DEV_ARTIFACT), { recursive: true });
    await page.screenshot({ path: DEV_ARTIFACT.pathname });
    if (Deno.env.get("UPDATE_DOCS_SCREENSHOT") === "1") {
      await Deno.mkdir(new URL(".", DOCS_SCREENSHOT), { recursive: true });
      await Deno.copyFile(DEV_ARTIFACT, DOCS_SCREENSHOT);
    }
    assert.deepStrictEqual(pageErrors, []);
  },
});
