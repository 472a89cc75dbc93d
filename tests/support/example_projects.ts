/**
 * The projects under examples/, installed as their users install tracegate: a fresh copy of the
 * project, then `npm install` of the tarball `deno task pack` builds (no workspace, no import map).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pack, type Packed } from "../../deploy/pack.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

let packing: Promise<Packed> | undefined;

/** The packages, built once per test process whichever example file asks first. */
export function packed(): Promise<Packed> {
  return packing ??= pack({ quiet: true });
}

/** A fresh copy of examples/`name` with the tarball and the project's dependencies installed. */
export async function installExample(name: string): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: `tracegate-example-${name}-` });
  for await (const entry of Deno.readDir(join(EXAMPLES, name))) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    await copy(join(EXAMPLES, name, entry.name), join(dir, entry.name));
  }
  const { tarball } = await packed();
  await run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", tarball], dir);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

async function copy(from: string, to: string): Promise<void> {
  if ((await Deno.stat(from)).isDirectory) {
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      await copy(join(from, entry.name), join(to, entry.name));
    }
  } else {
    await Deno.copyFile(from, to);
  }
}

export interface Printed {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a non-zero exit throws with everything it printed. */
export async function run(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Printed> {
  const { code, stdout, stderr } = await new Deno.Command(args[0], {
    args: args.slice(1),
    cwd,
    env: { NO_COLOR: "1", WRANGLER_SEND_METRICS: "false", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const printed = { stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  if (code !== 0) {
    throw new Error(`${args.join(" ")} exited with ${code}:\n${printed.stdout}${printed.stderr}`);
  }
  return printed;
}
