import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";

let installed = false;

/**
 * Makes `context.active()` follow async work, so spans started anywhere in a handler nest under
 * the request's span. Keeps a context manager already registered (Deno's own with OTEL_DENO=true).
 * On Workers this needs the `nodejs_compat` flag (AsyncLocalStorage).
 */
export function ensureContextManager(): void {
  if (installed) return;
  installed = true;
  const manager = new AsyncLocalStorageContextManager();
  if (context.setGlobalContextManager(manager.enable())) return;
  manager.disable();
}
