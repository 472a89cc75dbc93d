/** A tracing setup owned by one test, built from an environment as the middleware builds it. */
import type { EnvSource } from "../../src/config/env.ts";
import type { Tracing } from "../../src/tracing/setup.ts";
import { tracingFromOptions } from "../../middleware/options.ts";

export interface TestTracing extends Tracing, AsyncDisposable {
  /** Every line tracegate logged (configuration errors, drop reports). */
  readonly logs: readonly string[];
}

/** Shut down on dispose: what is queued is exported (or given up on) and the exporter closed. */
export function testTracing(env: EnvSource): TestTracing {
  const logs: string[] = [];
  const tracing = tracingFromOptions({ log: (line) => logs.push(line) }, env);
  return { ...tracing, logs, [Symbol.asyncDispose]: () => tracing.shutdown() };
}
