/**
 * A collector in front of a real receiver that holds every export until `release()`, then hands
 * it on and answers with the receiver's answer: a slow or hanging collector, on 127.0.0.1.
 */
import type { OtlpReceiver } from "./otlp_receiver.ts";
import { serve } from "./servers.ts";

export interface HoldingCollector extends AsyncDisposable {
  readonly tracesUrl: string;
  /** Settles when the first export is in. */
  readonly arrived: Promise<void>;
  /** Exports that have arrived so far. */
  readonly held: number;
  /** Settles once `count` exports have arrived. */
  heldAtLeast(count: number): Promise<void>;
  release(): void;
}

export function holdingCollector(receiver: OtlpReceiver): HoldingCollector {
  const arrived = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  let held = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const server = serve(async (request) => {
    const body = await request.arrayBuffer();
    held++;
    arrived.resolve();
    for (const waiter of waiting) if (held >= waiter.count) waiter.resolve();
    await gate.promise;
    const headers = new Headers();
    for (const name of ["content-type", "content-encoding"]) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    return fetch(receiver.tracesUrl, { method: "POST", headers, body });
  });
  return {
    tracesUrl: `${server.url}/v1/traces`,
    arrived: arrived.promise,
    get held() {
      return held;
    },
    heldAtLeast(count) {
      const { promise, resolve } = Promise.withResolvers<void>();
      if (held >= count) resolve();
      else waiting.push({ count, resolve });
      return promise;
    },
    release: () => gate.resolve(),
    async [Symbol.asyncDispose]() {
      gate.resolve();
      await server.close();
    },
  };
}
