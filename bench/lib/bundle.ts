/**
 * Worker bundle size as `wrangler deploy` builds it (`--dry-run --outdir`, with esbuild's
 * `--metafile`): wrangler's own gzip figure, and the minified bytes each package contributes.
 */
import { gzipSync } from "node:zlib";
import { dirname, join, relative, resolve } from "node:path";
import { wranglerDryRun } from "../../dev/worker_build.ts";

export interface BundleContributor {
  readonly name: string;
  readonly bytes: number;
}

export interface BundleReport {
  readonly config: string;
  /** As wrangler prints it: "Total Upload: … KiB / gzip: … KiB". */
  readonly uploadKiB: number;
  readonly gzipKiB: number;
  /** The main module, gzip level 9, measured here. */
  readonly gzip9Bytes: number;
  /** By package (npm) or folder (repository), largest first. */
  readonly contributors: readonly BundleContributor[];
}

export async function measureBundle(root: string, config: string): Promise<BundleReport> {
  const configPath = join(root, config);
  // esbuild's metafile paths are relative to the directory of the wrangler.toml.
  const fromConfig = (path: string) => resolve(dirname(configPath), path);
  const outdir = await Deno.makeTempDir({ prefix: "tracegate-bundle-" });
  try {
    const metafile = join(outdir, "bundle-meta.json");
    const printed = await wranglerDryRun(configPath, outdir, {
      extraArgs: ["--metafile", metafile],
    });
    const sizes = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(printed);
    if (!sizes) throw new Error(`no upload size in wrangler's output:\n${printed}`);
    const meta = JSON.parse(await Deno.readTextFile(metafile)) as Metafile;
    const [outputPath, output] = Object.entries(meta.outputs).find(([path]) =>
      path.endsWith(".js")
    )!;
    const code = await Deno.readFile(fromConfig(outputPath));
    return {
      config,
      uploadKiB: Number(sizes[1]),
      gzipKiB: Number(sizes[2]),
      gzip9Bytes: gzipSync(code, { level: 9 }).byteLength,
      contributors: contributors(output.inputs, (path) => relative(root, fromConfig(path))),
    };
  } finally {
    await Deno.remove(outdir, { recursive: true });
  }
}

interface Metafile {
  readonly outputs: Record<string, { readonly inputs: Record<string, { bytesInOutput: number }> }>;
}

function contributors(
  inputs: Record<string, { bytesInOutput: number }>,
  fromRoot: (path: string) => string,
): BundleContributor[] {
  const totals = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const name = packageOf(fromRoot(path));
    totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * `pkg@version` for npm files (and `pkg@version (CommonJS build)` when esbuild took the
 * package's CommonJS entry, which it cannot tree-shake), the first two folders for the rest.
 */
function packageOf(path: string): string {
  const npm = /node_modules\/\.deno\/([^/]+)\/node_modules\/(?:@[^/]+\/)?[^/]+\/(.*)$/.exec(path);
  if (npm) {
    const name = npm[1].replace(/^@([^+]+)\+/, "@$1/");
    const commonJs = /^build\/src\//.test(npm[2]) || npm[2].endsWith(".cjs");
    return commonJs ? `${name} (CommonJS build)` : name;
  }
  return path.split("/").slice(0, path.startsWith("src/") ? 2 : 1).join("/");
}
