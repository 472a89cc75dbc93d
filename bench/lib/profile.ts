/**
 * Reads a V8 `.cpuprofile` (`deno run --cpu-prof`, or the inspector's `Profiler.stop`) and sums
 * self time by function and by area.
 */

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time the isolate was busy, in ms. */
  readonly busyMs: number;
  readonly functions: readonly SelfTime[];
  readonly areas: readonly SelfTime[];
  /** tracegate's own functions by inclusive time (self plus what they call). */
  readonly ownInclusive: readonly SelfTime[];
}

const IDLE = "(idle)";

/**
 * Where a frame's code comes from: for a bundle, the module it was bundled from. Returns the
 * frame as it is when it knows better.
 */
export type FrameSource = (frame: ProfileNode["callFrame"]) => ProfileNode["callFrame"];

export function summariseProfile(
  profile: CpuProfile,
  top = 12,
  source: FrameSource = (frame) => frame,
): ProfileSummary {
  const byId = new Map(
    profile.nodes.map((node) => [node.id, { ...node, callFrame: source(node.callFrame) }]),
  );
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const ownInclusive = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i - 1's node;
    // the average interval makes the difference immaterial over thousands of samples.
    const micros = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === IDLE) return;
    busy += micros;
    const name = functionLabel(node);
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    // Each own function on the sampled stack once, however deep it recurses.
    const onStack = new Set<string>();
    for (let at: ProfileNode | undefined = node; at; at = byId.get(parentOf.get(at.id) ?? -1)) {
      if (isOwn(at.callFrame.url)) onStack.add(functionLabel(at));
    }
    for (const name of onStack) ownInclusive.set(name, (ownInclusive.get(name) ?? 0) + micros);
  });
  const ranked = (totals: Map<string, number>, count: number) =>
    [...totals].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, micros]) => ({
      name,
      share: busy === 0 ? 0 : micros / busy,
    }));
  return {
    busyMs: busy / 1000,
    functions: ranked(functions, top),
    areas: ranked(areas, 8),
    ownInclusive: ranked(ownInclusive, top),
  };
}

function isOwn(url: string): boolean {
  return /^(src|middleware|proxy)\//.test(shortUrl(url));
}

function functionLabel({ callFrame }: ProfileNode): string {
  const name = callFrame.functionName || "(anonymous)";
  if (callFrame.url === "") return name;
  if (callFrame.lineNumber < 0) return `${name} ${shortUrl(callFrame.url)}`;
  return `${name} ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`;
}

/** Repository files relative to the root; npm packages as `name@version/path`. */
function shortUrl(url: string): string {
  const npm = /node_modules\/\.deno\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (npm) return `${npm[1]}/${npm[2]}`;
  const root = new URL("../../", import.meta.url).href;
  return url.startsWith(root) ? url.slice(root.length) : url;
}

function areaOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "native (V8 builtins)";
  if (url.startsWith("node-internal:")) return "workerd node compat (node-internal:)";
  const npm = /node_modules\/\.deno\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return npm[1].startsWith("@opentelemetry/") ? "@opentelemetry/*" : npm[1];
  if (url.startsWith("ext:") || url.startsWith("node:")) {
    return url.includes("node") ? "Deno node compat (ext:deno_node)" : "Deno runtime (ext:)";
  }
  if (isOwn(url)) return "tracegate (src/, middleware/, proxy/)";
  return shortUrl(url).split("/").slice(0, 2).join("/");
}

/**
 * For a bundle esbuild wrote without minifying (`wrangler deploy --dry-run --minify=false`): each
 * frame in `bundleUrl` is given the path of the module it was bundled from, read from the
 * `// path` comment esbuild puts above every module, and no line number (a bundle's lines are
 * not the module's). Names survive an unminified build, so a profile reads by source.
 */
export function bundledModules(bundleUrl: string, bundle: string): FrameSource {
  const starts: { line: number; path: string }[] = [];
  bundle.split("\n").forEach((text, line) => {
    const match = /^\/\/ ((?:node_modules|src|middleware|proxy)\/\S+\.[cm]?[jt]s)$/.exec(text);
    if (match) starts.push({ line, path: match[1] });
  });
  return (frame) => {
    if (frame.url !== bundleUrl) return frame;
    let found: string | undefined;
    for (const start of starts) {
      if (start.line > frame.lineNumber) break;
      found = start.path;
    }
    return found === undefined ? frame : { ...frame, url: found, lineNumber: -1 };
  };
}
