/**
 * workerd answers a WebSocket upgrade with a Response carrying the socket as `webSocket`; such a
 * response cannot be rebuilt by the Response constructor without it. Absent on other runtimes.
 */
export function webSocketOf(response: Response): unknown {
  return (response as Response & { webSocket?: unknown }).webSocket ?? undefined;
}
