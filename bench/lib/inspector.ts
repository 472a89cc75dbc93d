/**
 * A V8 CPU profile taken over the Chrome DevTools protocol, from a runtime that serves its
 * inspector on a WebSocket (`workerd serve --inspector-addr`), for runtimes without Deno's
 * `--cpu-prof`.
 */
import type { CpuProfile } from "./profile.ts";

/**
 * Profiles the isolate behind `webSocketUrl` while `during` runs: `Profiler.start` before it,
 * `Profiler.stop` after it, one sample every `intervalMicros` of the isolate's thread.
 */
export async function profileOverInspector<T>(
  webSocketUrl: string,
  during: () => Promise<T>,
  intervalMicros = 200,
): Promise<{ profile: CpuProfile; result: T }> {
  const socket = new WebSocket(webSocketUrl);
  const opened = Promise.withResolvers<void>();
  socket.onopen = () => opened.resolve();
  socket.onerror = () => opened.reject(new Error(`no inspector at ${webSocketUrl}`));
  const answers = new Map<number, PromiseWithResolvers<unknown>>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data) as { id?: number; result?: unknown; error?: unknown };
    if (message.id === undefined) return; // an event, not an answer
    const waiting = answers.get(message.id);
    answers.delete(message.id);
    if (message.error) waiting?.reject(new Error(JSON.stringify(message.error)));
    else waiting?.resolve(message.result);
  };
  let lastId = 0;
  const call = (method: string, params: Record<string, unknown> = {}) => {
    const id = ++lastId;
    const answer = Promise.withResolvers<unknown>();
    answers.set(id, answer);
    socket.send(JSON.stringify({ id, method, params }));
    return answer.promise;
  };
  try {
    await opened.promise;
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: intervalMicros });
    await call("Profiler.start");
    const result = await during();
    const { profile } = await call("Profiler.stop") as { profile: CpuProfile };
    return { profile, result };
  } finally {
    socket.close();
  }
}
