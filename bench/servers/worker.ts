/**
 * A Worker in workerd (through Miniflare), built as `wrangler deploy` builds it:
 * `deno run -A bench/servers/worker.ts <wrangler.toml, relative to the repository root>`, with its
 * vars as a JSON object in BENCH_BINDINGS.
 */
import { buildWorker, startWorker } from "../../tests/support/worker.ts";
import { announce, exitOnSignal } from "./announce.ts";

const bindings = JSON.parse(Deno.env.get("BENCH_BINDINGS") ?? "{}") as Record<string, string>;
const worker = await startWorker(await buildWorker(Deno.args[0]), bindings);
exitOnSignal(() => worker.close());
announce(worker.url.href.replace(/\/$/, ""));
