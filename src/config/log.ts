import type { ConfigError } from "./env.ts";

/** One clear line per configuration error; the setting falls back to its default. */
export function logConfigErrors(
  errors: readonly ConfigError[],
  log: (line: string) => void,
  consequence = "using the default",
): void {
  for (const error of errors) log(`tracegate: config: ${error.message} (${consequence})`);
}
