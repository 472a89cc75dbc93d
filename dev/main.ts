/**
 * `deno task dev`: the local trace viewer, a demo service traced by the middleware, and the proxy
 * Worker (the `wrangler deploy` build, in workerd) in front of it, exporting to the viewer. Each
 * finished trace is printed as a tree. SIGINT/SIGTERM stop all of it, workerd included.
 */
import { readProxyConfig } from "../proxy/config.ts";
import { EnvReader } from "../src/config/env.ts";
import { logConfigErrors } from "../src/config/log.ts";
import { startViewer } from "../viewer/server.ts";
import { renderTrace } from "../viewer/terminal.ts";
import { banner } from "./banner.ts";
import {
  DEV_LOGGING,
  hasOwnCollector,
  invalidCollectorSettings,
  proxyBindings,
  readDevPorts,
} from "./config.ts";
import { DEMO_BAGGAGE_ATTRIBUTES, startDemo } from "./demo.ts";
import { onStopSignal, withoutSignalExits } from "./signals.ts";
import { buildWorker, runWorker } from "./worker_build.ts";

const env = Deno.env.toObject();
/** Everything started, closed in reverse order: proxy, build directory, demo, viewer last. */
const resources = new AsyncDisposableStack();
const aborting = new AbortController();

/** Starts each piece, registering it for shutdown as soon as it runs; stops early when aborted. */
async function start(signal: AbortSignal): Promise<void> {
  const { ports, errors } = readDevPorts(env);
  logConfigErrors(errors, console.error);
  const color = Deno.stdout.isTerminal() && env.NO_COLOR === undefined;
  // Baggage recorded as attributes (the demo's and the proxy's) shows in the printed trees.
  const alsoShow = [
    ...new Set([
      ...DEMO_BAGGAGE_ATTRIBUTES,
      ...new EnvReader(env).list("TRACEGATE_BAGGAGE_ATTRIBUTES"),
    ]),
  ];

  const viewer = await startViewer({
    hostname: "127.0.0.1",
    port: ports.viewer,
    log: console.error,
    onTraceSettled: (trace) =>
      console.log(renderTrace(trace, { color, update: trace.update, alsoShow })),
  }).catch(explainPortInUse("viewer", "TRACEGATE_DEV_VIEWER_PORT", ports.viewer));
  resources.defer(() => viewer.close());

  const collector = hasOwnCollector(env) ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: viewer.url };
  const demoEnv = { ...DEV_LOGGING, ...env, ...collector };
  const demo = await Promise.try(startDemo, { port: ports.demo, env: demoEnv })
    .catch(explainPortInUse("demo", "TRACEGATE_DEV_DEMO_PORT", ports.demo));
  resources.defer(() => demo.close());
  signal.throwIfAborted();

  console.log("tracegate dev: building the proxy Worker as `wrangler deploy` does...");
  const built = await buildWorker("wrangler.toml", { signal });
  resources.defer(() => Deno.remove(built.outdir, { recursive: true }));
  signal.throwIfAborted();

  const bindings = proxyBindings(built.vars, env, { upstream: demo.url, collector: viewer.url });
  // The Worker would answer 500 to every request: stop now, saying why.
  const { fatal } = readProxyConfig(bindings);
  if (fatal.length > 0) {
    throw new Error(
      `the proxy cannot start:\n${fatal.map((error) => `  ${error.message}`).join("\n")}`,
    );
  }
  const proxy = await withoutSignalExits(() =>
    runWorker(built, {
      bindings,
      port: ports.proxy,
      onOutput: prefixLines("[proxy] ", (line) => console.log(line)),
    })
  ).catch(explainPortInUse("proxy", "TRACEGATE_DEV_PROXY_PORT", ports.proxy));
  resources.defer(() => proxy.close());
  signal.throwIfAborted();

  const urls = { viewer: viewer.url, proxy: proxy.url.origin, demo: demo.url };
  console.log(banner(urls, bindings, invalidCollectorSettings(env)));
}

/** Turns "address in use" into a message naming the variable that moves the piece elsewhere. */
function explainPortInUse(what: string, variable: string, port: number) {
  return (error: unknown): never => {
    const inUse = error instanceof Deno.errors.AddrInUse ||
      (error as { code?: unknown }).code === "ERR_ADDRESS_IN_USE";
    if (!inUse) throw error;
    throw new Error(
      `the ${what} cannot listen on 127.0.0.1:${port}, which is in use: ` +
        `set ${variable} to another port (0: any free port)`,
    );
  };
}

/** Splits streamed text into lines, each written with `prefix` once complete. */
function prefixLines(prefix: string, write: (line: string) => void): (text: string) => void {
  let pending = "";
  return (text) => {
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) write(prefix + line);
  };
}

let stopping: Promise<never> | undefined;
/** Lets startup reach a stopping point, then closes everything and exits with `code`. */
function stop(started: Promise<void>, code: number): Promise<never> {
  return stopping ??= (async () => {
    console.log("\ntracegate dev: stopping...");
    aborting.abort();
    await started.catch(() => {});
    try {
      await resources.disposeAsync();
    } catch (error) {
      console.error(`tracegate dev: stopping: ${error instanceof Error ? error.message : error}`);
      code ||= 1;
    }
    console.log("tracegate dev: stopped");
    Deno.exit(code);
  })();
}

const started = start(aborting.signal);
onStopSignal(() => stop(started, 0));
started.catch((error) => {
  if (aborting.signal.aborted) return;
  console.error(`tracegate dev: ${error instanceof Error ? error.message : error}`);
  stop(started, 1);
});
