/**
 * Traced calls whose response body has not ended. A body nobody reads never ends, and neither
 * would its CLIENT span: such spans are ended, marked, when the request that made them ends, or at
 * `flush()`/`shutdown()` at the latest.
 */
import { type Context, createContextKey } from "@opentelemetry/api";

/** Set (true) on a CLIENT span ended before its response body was read to the end. */
export const ATTR_BODY_UNREAD = "tracegate.http.response.body_unread";

const KEY = createContextKey("tracegate.unread-bodies");

export class UnreadBodies {
  #open: Set<() => void> | undefined;

  /** Holds `endUnread` until released (the body ended after all) or `endAll()`. */
  hold(endUnread: () => void): () => void {
    (this.#open ??= new Set()).add(endUnread);
    return () => this.#open?.delete(endUnread);
  }

  endAll(): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    for (const endUnread of open) endUnread();
  }
}

/** Calls made in `ctx` whose bodies are still open are ended with the request `bodies` belongs to. */
export function withUnreadBodies(ctx: Context, bodies: UnreadBodies): Context {
  return ctx.setValue(KEY, bodies);
}

export function unreadBodiesIn(ctx: Context): UnreadBodies | undefined {
  return ctx.getValue(KEY) as UnreadBodies | undefined;
}
