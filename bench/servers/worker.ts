/**
 * A Worker built as `wrangler deploy` builds it, run in workerd through Miniflare or, with
 * BENCH_BARE_WORKERD=1, on the bare `workerd` binary (bench/lib/workerd.ts):
 * `deno run -A bench/servers/worker.ts <wrangler.toml, relative to the repository root>`, with its
 * vars as a JSON object in BENCH_BINDINGS.
 */
import { buildWorker, startWorker } from "../../tests/support/worker.ts";
import { startBareWorkerd } from "../lib/workerd.ts";
import { announce, exitOnSignal } from "./announce.ts";

const bindings = JSON.parse(Deno.env.get("BENCH_BINDINGS") ?? "{}") as Record<string, string>;
const built = await buildWorker(Deno.args[0]);
if (Deno.env.get("BENCH_BARE_WORKERD") === "1") {
  const worker = await startBareWorkerd(built, bindings);
  exitOnSignal(() => worker.close());
  announce(worker.url);
} else {
  const worker = await startWorker(built, bindings);
  exitOnSignal(() => worker.close());
  announce(worker.url.href.replace(/\/$/, ""));
}
