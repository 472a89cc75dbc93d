/** What the figures were measured on: the machine, and the versions of everything compared. */

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly loadAverage: string;
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const release = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: memKiB / 1024 / 1024,
    os: `${/^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1] ?? Deno.build.os}, Linux ` +
      Deno.osRelease(),
    loadAverage: await loadAverage(),
  };
}

/** The 1-, 5- and 15-minute load averages, as /proc/loadavg has them. */
export async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

/** Installed versions, read from the packages themselves. */
export async function versions(root: string): Promise<Record<string, string>> {
  const pkg = async (path: string) => {
    try {
      return (JSON.parse(await Deno.readTextFile(`${root}/node_modules/${path}/package.json`)) as {
        version: string;
      }).version;
    } catch {
      return "not installed";
    }
  };
  const miniflare = await Deno.realPath(`${root}/node_modules/miniflare`);
  const workerd = JSON.parse(
    await Deno.readTextFile(`${miniflare}/../workerd/package.json`),
  ) as { version: string };
  return {
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    hono: await pkg("hono"),
    "@opentelemetry/api": await pkg("@opentelemetry/api"),
    "@opentelemetry/sdk-trace-base": await pkg("@opentelemetry/sdk-trace-base"),
    "@opentelemetry/exporter-trace-otlp-http": await pkg("@opentelemetry/exporter-trace-otlp-http"),
    wrangler: await pkg("wrangler"),
    miniflare: await pkg("miniflare"),
    workerd: workerd.version,
    "@hono/otel": await pkg("@hono/otel"),
    "@microlabs/otel-cf-workers": await pkg("@microlabs/otel-cf-workers"),
  };
}
