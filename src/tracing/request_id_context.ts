import { type Context, createContextKey } from "@opentelemetry/api";

const REQUEST_ID = createContextKey("tracegate.request-id");

/** The request id travels in the Context so outgoing calls anywhere beneath can forward it. */
export function withRequestId(ctx: Context, requestId: string): Context {
  return ctx.setValue(REQUEST_ID, requestId);
}

export function requestIdFrom(ctx: Context): string | undefined {
  return ctx.getValue(REQUEST_ID) as string | undefined;
}
