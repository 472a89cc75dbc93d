/** How every bench server tells the driver where it listens, and how it stops. */

/** The line the driver waits for; `extra` names further URLs (a control port). */
export function announce(url: string, extra: Record<string, string> = {}): void {
  const fields = Object.entries(extra).map(([name, value]) => ` ${name}=${value}`).join("");
  console.log(`listening ${url}${fields}`);
}

/** SIGTERM/SIGINT: run `stop`, then exit 0 (so `--cpu-prof` writes its profile). */
export function exitOnSignal(stop: () => Promise<void> | void = () => {}): void {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await stop();
    } finally {
      Deno.exit(0);
    }
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, handler);
}
