/**
 * A built Worker on the bare `workerd` binary (the `workerd` npm package Miniflare also runs), with
 * no Miniflare entry Worker in front: one socket on 127.0.0.1, the Worker's vars as text bindings,
 * outbound fetches allowed to loopback (workerd's default network refuses private addresses).
 */
import workerdPackage from "workerd";
import type { BuiltWorker } from "../../dev/worker_build.ts";

/** The workerd configuration (Cap'n Proto text) for `built`, listening on `port`. */
export function workerdConfig(
  built: BuiltWorker,
  bindings: Record<string, string>,
  port: number,
): string {
  const text = (value: string) => JSON.stringify(value); // a Cap'n Proto text literal
  // Embedded paths are relative to the configuration, written beside the bundle.
  const entry = built.scriptPath.replace(/^.*\//, "");
  const vars = { ...built.vars, ...bindings };
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = ${text(entry)}, esModule = embed ${text(entry)})],
  compatibilityDate = ${text(built.compatibilityDate)},
  compatibilityFlags = [${built.compatibilityFlags.map(text).join(", ")}],
  bindings = [${
    Object.entries(vars).map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`)
      .join(", ")
  }],
  globalOutbound = "loopback",
);
`;
}

// The package is CommonJS with an ES-module-style `default`: the binary's path.
const workerdBinary: string = (workerdPackage as unknown as { default?: string }).default ??
  workerdPackage;

export interface BareWorkerd {
  readonly url: string;
  /** The DevTools protocol WebSocket of the Worker's isolate, when started with `inspector`. */
  readonly inspectorUrl?: string;
  close(): Promise<void>;
}

export interface BareWorkerdOptions {
  /** Serves workerd's inspector on a free port of 127.0.0.1 (to take a CPU profile). */
  readonly inspector?: boolean;
}

/** Writes the configuration beside the bundle and runs `workerd serve` on a free port. */
export async function startBareWorkerd(
  built: BuiltWorker,
  bindings: Record<string, string>,
  options: BareWorkerdOptions = {},
): Promise<BareWorkerd> {
  const port = freePort();
  const inspectorPort = options.inspector ? freePort() : undefined;
  const configPath = `${built.outdir}/workerd.capnp`;
  await Deno.writeTextFile(configPath, workerdConfig(built, bindings, port));
  const inspecting = inspectorPort === undefined
    ? []
    : [`--inspector-addr=127.0.0.1:${inspectorPort}`];
  const child = new Deno.Command(workerdBinary, {
    args: ["serve", configPath, "--experimental", ...inspecting],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await untilAccepting(port, child.status);
  return {
    url,
    // The service is named "main" in the configuration; workerd serves its isolate there.
    inspectorUrl: inspectorPort === undefined ? undefined : `ws://127.0.0.1:${inspectorPort}/main`,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** A port free now (bound, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function untilAccepting(port: number, exited: Promise<Deno.CommandStatus>): Promise<void> {
  let gone = false;
  exited.then(() => (gone = true));
  for (let attempt = 0; attempt < 200 && !gone; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`workerd did not accept connections on 127.0.0.1:${port}`);
}
