/**
 * `deno task pack`: builds both packages from the one source tree and prints the npm tarball's
 * path as its last line.
 *
 * - JSR: `deno publish --dry-run` checks what `deno publish` would upload (deno.json `publish`
 *   include list: the library only) and that the public API has no slow types; the `@example`
 *   code in each entry point's `@module` documentation must type-check.
 * - npm: `tsc` (the TypeScript release Deno itself type-checks with) compiles the modules the
 *   deno.json `exports` reach into ESM JavaScript and `.d.ts`, one file per module, so bundlers
 *   tree-shake what an app does not use; `rewriteRelativeImportExtensions` turns the `.ts`
 *   specifiers Deno needs into `.js`. tsc rather than a bundler (tsup, esbuild): nothing to
 *   bundle — each runtime's bundler or module loader resolves the dependencies itself, and a
 *   per-module build keeps `sideEffects: false` meaningful. `package.json` is generated from
 *   deno.json (name, version, license, exports, dependency versions), so nothing is kept twice.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, "dist", "npm");
const TYPESCRIPT = "npm:typescript@6.0.3";
/** Packages the app brings itself: one Hono per app, whichever version it chose. */
const PEERS = new Set(["hono"]);

interface DenoJson {
  name: string;
  version: string;
  license: string;
  description?: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}

const meta: DenoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));

/** Runs a command; resolves with its stdout and stderr, throws with them if it fails. */
async function run(args: string[], cwd = ROOT): Promise<{ stdout: string; stderr: string }> {
  const command = new Deno.Command(args[0], {
    args: args.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const output = await command.output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout);
  const stderr = decoder.decode(output.stderr);
  if (!output.success) {
    throw new Error(`${args.join(" ")} exited with ${output.code}:\n${stdout}${stderr}`);
  }
  return { stdout, stderr };
}

/** `./src/mod.ts` → `src/mod` (the module's path without its extension). */
const stem = (path: string) => path.replace(/^\.\//, "").replace(/\.ts$/, "");

/** The version range deno.json pins for an npm package (`npm:name@range` or `npm:/name@range/`). */
function versionOf(name: string): string {
  const target = meta.imports[name];
  const match = target?.match(/^npm:\/?(@?[^@]+)@([^/]+)\/?$/);
  if (!match || match[1] !== name) {
    throw new Error(`deno.json imports has no npm version for ${name}`);
  }
  return match[2];
}

async function buildNpm(): Promise<string> {
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  await Deno.mkdir(OUT, { recursive: true });
  const tsconfig = join(OUT, "..", "tsconfig.npm.json");
  await Deno.writeTextFile(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "ESNext",
        moduleResolution: "Bundler",
        rewriteRelativeImportExtensions: true,
        resolveJsonModule: true,
        declaration: true,
        strict: true,
        skipLibCheck: true,
        lib: ["ES2023", "ESNext.Disposable", "DOM", "DOM.Iterable"],
        types: [],
        rootDir: ROOT,
        outDir: OUT,
      },
      files: Object.values(meta.exports).map((path) => join(ROOT, path)),
    }),
  );
  // Outside the project's lockfile and node_modules: only packing needs TypeScript.
  await run([
    "deno",
    "run",
    "-A",
    "--no-lock",
    "--node-modules-dir=none",
    `${TYPESCRIPT}/tsc`,
    "-p",
    tsconfig,
  ]);
  await Deno.remove(tsconfig);

  const dependencies: Record<string, string> = {};
  const peerDependencies: Record<string, string> = {};
  for await (const file of walk(OUT)) {
    if (!file.endsWith(".js")) continue;
    let code = await Deno.readTextFile(file);
    // The tracer version is read from deno.json; the package carries the value, not the file.
    code = code.replace(
      /import (\w+) from "[./]+deno\.json" with \{ type: "json" \};/,
      (_, binding) => `const ${binding} = { version: ${JSON.stringify(meta.version)} };`,
    );
    await Deno.writeTextFile(file, code);
    // Import and export statements start their line (documentation examples do not).
    for (
      const [, specifier] of code.matchAll(/^(?:import|export)\s[^;]*?from\s*"([^".][^"]*)"/gm)
    ) {
      const name = specifier.startsWith("@")
        ? specifier.split("/").slice(0, 2).join("/")
        : specifier.split("/")[0];
      if (name.startsWith("node:")) continue;
      const version = versionOf(name);
      if (PEERS.has(name)) peerDependencies[name] = version;
      else dependencies[name] = version;
    }
  }
  await Deno.remove(join(OUT, "deno.json")).catch(() => {});

  const exports: Record<string, { types: string; default: string }> = {};
  for (const [entry, path] of Object.entries(meta.exports)) {
    exports[entry] = { types: `./${stem(path)}.d.ts`, default: `./${stem(path)}.js` };
  }
  const packageJson = {
    name: meta.name,
    version: meta.version,
    description: meta.description,
    license: meta.license,
    type: "module",
    sideEffects: false,
    exports,
    dependencies: sorted(dependencies),
    peerDependencies: sorted(peerDependencies),
    engines: { node: ">=20" },
  };
  await Deno.writeTextFile(join(OUT, "package.json"), JSON.stringify(packageJson, null, 2) + "\n");
  await Deno.copyFile(join(ROOT, "README.md"), join(OUT, "README.md"));

  const packed = await run(["npm", "pack", "--json", "--pack-destination", dirname(OUT)], OUT);
  const [{ filename }] = JSON.parse(packed.stdout) as { filename: string }[];
  return join(dirname(OUT), filename);
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else yield path;
  }
}

export interface Packed {
  /** The npm tarball's absolute path. */
  readonly tarball: string;
  /** The files `deno publish` would upload, relative to the repository root. */
  readonly jsrFiles: readonly string[];
}

/** Builds both packages. */
export async function pack(options: { quiet?: boolean } = {}): Promise<Packed> {
  const say = options.quiet ? () => {} : (line: string) => console.error(line);
  say("== JSR: deno publish --dry-run");
  const published = await run(["deno", "publish", "--dry-run", "--allow-dirty"]);
  say(published.stdout + published.stderr);
  const rootUrl = new URL("../", import.meta.url).href;
  const jsrFiles = [...(published.stdout + published.stderr).matchAll(/(file:\/\/\S+)/g)]
    .map(([url]) => url.slice(rootUrl.length));
  say("== JSR: the examples in each entry point's documentation type-check");
  await run(["deno", "check", "--doc", ...Object.values(meta.exports)]);
  say("== npm: tsc, package.json, npm pack");
  const tarball = await buildNpm();
  say(`npm tarball: ${(await Deno.stat(tarball)).size} bytes`);
  return { tarball, jsrFiles };
}

if (import.meta.main) console.log((await pack()).tarball);
