/**
 * The example projects under examples/, each installed the way its users install tracegate: the
 * npm tarball `deno task pack` builds goes into a fresh copy of the project with `npm install`
 * (no workspace, no import map), then the app runs on its runtime — Node (@hono/node-server),
 * Bun (the `bun` npm package's binary), Deno, and workerd (built by plain `wrangler deploy
 * --dry-run`, run by Miniflare). One request with a sampled traceparent must come back with the
 * trace and request id handed back, and its SERVER and CLIENT spans must arrive, decoded, at a
 * real OTLP receiver, with the upstream seeing the CLIENT span as its parent.
 *
 * Run by `deno task test:examples` (npm downloads; .ci/run runs it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { runWorker } from "../../dev/worker_build.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp_receiver.ts";
import { echoServer } from "../support/servers.ts";
import { installExample, packed, run } from "../support/example_projects.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const INBOUND_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INBOUND_SPAN = "00f067aa0ba902b7";
const REQUEST_ID = "example-request-1";
/** The Worker's gzip size that `wrangler deploy` would upload, at most. */
const WORKER_GZIP_LIMIT_KIB = 50;

const DENO_JSON = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
/** The modules the deno.json exports reach: the library; nothing else may ship. */
async function libraryModules(): Promise<Set<string>> {
  const modules = new Set<string>();
  for (const entry of Object.values(DENO_JSON.exports as Record<string, string>)) {
    const info = JSON.parse((await run([Deno.execPath(), "info", "--json", entry], ROOT)).stdout);
    for (const { specifier } of info.modules as { specifier: string }[]) {
      const root = new URL(`file://${ROOT}`).href;
      if (specifier.startsWith(root)) modules.add(specifier.slice(root.length));
    }
  }
  return modules;
}
const OTHER_FILES = ["README.md", "deno.json", "package.json"];

Deno.test("package: JSR and npm ship the library only, with one entry per deno.json export", async () => {
  const { tarball, jsrFiles } = await packed();
  const library = await libraryModules();
  const isLibraryFile = (file: string) =>
    OTHER_FILES.includes(file) || library.has(file.replace(/(\.d\.ts|\.js)$/, ".ts"));
  assert.ok(jsrFiles.includes("middleware/mod.ts"), jsrFiles.join("\n"));
  assert.deepEqual(jsrFiles.filter((file) => !isLibraryFile(file)), []);

  const listing = (await run(["tar", "-tzf", tarball], ROOT)).stdout;
  const npmFiles = listing.trim().split("\n").map((line) => line.replace(/^package\//, ""));
  assert.ok(npmFiles.includes("middleware/mod.js") && npmFiles.includes("middleware/mod.d.ts"));
  assert.deepEqual(npmFiles.filter((file) => !isLibraryFile(file)), []);

  const manifest = JSON.parse(
    (await run(["tar", "-xzOf", tarball, "package/package.json"], ROOT)).stdout,
  );
  assert.deepEqual(Object.keys(manifest.exports), Object.keys(DENO_JSON.exports));
  assert.equal(manifest.version, DENO_JSON.version);
  assert.equal(manifest.sideEffects, false);
  assert.deepEqual(Object.keys(manifest.peerDependencies), ["hono"]);
  assert.ok(manifest.dependencies["@opentelemetry/api"]);
  assert.equal(manifest.dependencies.hono, undefined);
});

interface App extends AsyncDisposable {
  readonly url: string;
}

/** Starts the example's server and resolves once it prints `listening on <url>`. */
async function startApp(args: string[], cwd: string, env: Record<string, string>): Promise<App> {
  const child = new Deno.Command(args[0], {
    args: args.slice(1),
    cwd,
    env: { PORT: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>, onLine?: (line: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output.push(text);
      onLine?.(output.join(""));
    }
  };
  const listening = Promise.withResolvers<string>();
  const stderrDone = collect(child.stderr);
  const stdoutDone = collect(child.stdout, (all) => {
    const match = all.match(/listening on (http:\/\/\S+)/);
    if (match) listening.resolve(match[1]);
  });
  child.status.then((status) =>
    listening.reject(new Error(`exited (${status.code}) before listening:\n${output.join("")}`))
  );
  const url = await listening.promise;
  return {
    url,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await Promise.all([stdoutDone, stderrDone]);
    },
  };
}

/** The checks every example must pass, whatever runs it. */
async function assertTracedRequest(
  app: { url: string },
  receiver: OtlpReceiver,
  options: { service: string; clientAddress?: string },
): Promise<void> {
  const response = await fetch(`${app.url}/orders/42`, {
    headers: {
      traceparent: `00-${INBOUND_TRACE}-${INBOUND_SPAN}-01`,
      "x-request-id": REQUEST_ID,
    },
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(response.headers.get("x-request-id"), REQUEST_ID);
  assert.equal(body.requestId, REQUEST_ID);

  const spans = await receiver.waitForSpans(
    (all) => all.some((s) => s.kind === "SERVER") && all.some((s) => s.kind === "CLIENT"),
    { timeoutMs: 10_000 },
  );
  const server = spans.find((s) => s.kind === "SERVER")!;
  const client = spans.find((s) => s.kind === "CLIENT")!;
  assert.equal(server.traceId, INBOUND_TRACE);
  assert.equal(server.parentSpanId, INBOUND_SPAN);
  assert.equal(server.name, "GET /orders/:id");
  assert.equal(server.resourceAttributes["service.name"], options.service);
  assert.equal(server.attributes["http.response.status_code"], 200);
  if (options.clientAddress) {
    assert.equal(server.attributes["client.address"], options.clientAddress);
  }
  assert.equal(client.traceId, INBOUND_TRACE);
  assert.equal(client.parentSpanId, server.spanId);
  assert.match(String(client.attributes["url.full"]), /\/items\/42$/);

  // Handed back: the SERVER span; sent on: the CLIENT span as the upstream's parent.
  assert.equal(
    response.headers.get("server-timing"),
    `traceparent;desc="00-${INBOUND_TRACE}-${server.spanId}-01"`,
  );
  assert.equal(body.stock.path, "/items/42");
  assert.equal(body.stock.headers.traceparent, `00-${INBOUND_TRACE}-${client.spanId}-01`);
  assert.equal(body.stock.headers["x-request-id"], REQUEST_ID);
}

/**
 * Installs examples/`name`, runs `command` in it (after `prepare`) as a server exporting to a
 * real receiver, and checks one traced request through it.
 */
async function checkServerExample(
  name: string,
  command: (dir: string) => string[],
  prepare?: (dir: string) => Promise<unknown>,
): Promise<void> {
  await using receiver = await startOtlpReceiver();
  await using stock = echoServer();
  await using project = await installExample(name);
  await prepare?.(project.dir);
  const service = `orders-${name}`;
  await using app = await startApp(command(project.dir), project.dir, {
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    STOCK_URL: stock.url,
  });
  await assertTracedRequest(app, receiver, { service, clientAddress: "127.0.0.1" });
}

Deno.test("example node: @hono/node-server app, installed from the tarball", () =>
  checkServerExample("node", () => ["node", "main.js"]));

Deno.test("example bun: Bun.serve app, installed from the tarball", () =>
  checkServerExample("bun", (dir) => [join(dir, "node_modules/.bin/bun"), "main.ts"]));

Deno.test("example deno: Deno.serve app, installed from the tarball, type-checked", () =>
  checkServerExample(
    "deno",
    () => [Deno.execPath(), "run", "--allow-net", "--allow-env", "main.ts"],
    // The package's .d.ts files are what a TypeScript user compiles against.
    (dir) => run([Deno.execPath(), "check", "main.ts"], dir),
  ));

Deno.test("example worker: plain wrangler build, small, run in workerd", async () => {
  await using receiver = await startOtlpReceiver();
  await using stock = echoServer();
  await using project = await installExample("worker");
  const { dir } = project;
  // wrangler 4 needs Node >= 22; Deno runs the project's own wrangler on any machine.
  const { stdout, stderr } = await run(
    [
      Deno.execPath(),
      "run",
      "-A",
      "node_modules/wrangler/bin/wrangler.js",
      "deploy",
      "--dry-run",
      "--outdir",
      "dist",
    ],
    dir,
  );
  const printed = stdout + stderr;
  const gzip = Number(printed.match(/gzip: ([\d.]+) KiB/)?.[1]);
  assert.ok(gzip > 0 && gzip <= WORKER_GZIP_LIMIT_KIB, `Worker is ${gzip} KiB gzip:\n${printed}`);
  const config = parse(await Deno.readTextFile(join(dir, "wrangler.toml")));
  await using worker = await runWorker({
    outdir: join(dir, "dist"),
    scriptPath: join(dir, "dist", "index.js"),
    compatibilityDate: String(config.compatibility_date),
    compatibilityFlags: config.compatibility_flags as string[],
    vars: {},
  }, {
    bindings: {
      OTEL_SERVICE_NAME: "orders-worker",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      STOCK_URL: stock.url,
    },
  });
  await assertTracedRequest({ url: worker.url.origin }, receiver, { service: "orders-worker" });
});
