/**
 * Where the request id lives once chosen (src/http/request_id.ts chooses it): in the Context, so
 * outgoing calls anywhere beneath can forward it, and on server and client spans.
 */
import { type Context, createContextKey } from "@opentelemetry/api";

/**
 * The attribute holding the request id (`X-Request-ID` by default) on server and client spans.
 * In tracegate's own namespace: the semantic conventions define no request id, and `http.*` is
 * theirs to define.
 */
export const ATTR_REQUEST_ID = "tracegate.request.id";

/** The name tracegate 0.1 used; the viewer still reads it from spans older versions export. */
export const ATTR_REQUEST_ID_BEFORE_0_2 = "http.request.id";

const REQUEST_ID = createContextKey("tracegate.request-id");

export function withRequestId(ctx: Context, requestId: string): Context {
  return ctx.setValue(REQUEST_ID, requestId);
}

export function requestIdFrom(ctx: Context): string | undefined {
  return ctx.getValue(REQUEST_ID) as string | undefined;
}
