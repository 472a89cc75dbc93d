/**
 * WebSocket forwarding for the Deno entry. Deno's `fetch` cannot make an HTTP upgrade, so the
 * proxy bridges one instead: it opens its own WebSocket to the upstream (sending the forwarded
 * headers, trace context included), then upgrades the client's connection with
 * `Deno.upgradeWebSocket` and relays messages and closes both ways.
 *
 * The upstream is connected first, so a failed upstream is a 502 or 504 rather than an accepted
 * WebSocket closed at once; the flip side is that the upstream's refusal (its status and body)
 * does not reach the client, which also gets a 502.
 */

/** Handshake headers the WebSocket client writes itself, for its own connection. */
const HANDSHAKE_HEADERS = [
  "host",
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
];

/**
 * A `fetch` for one upgrade request: called with the request prepared for the upstream, it
 * connects to the upstream and answers with the upgrade of `inbound`. Rejects, like `fetch`, when
 * the upstream cannot be reached or the request's signal aborts first.
 */
export function webSocketBridge(inbound: Request): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const upstream = await connect(request, request.signal);
    try {
      const { socket, response } = Deno.upgradeWebSocket(inbound, {
        protocol: upstream.protocol || undefined,
      });
      relay(socket, upstream);
      return response;
    } catch (error) {
      upstream.close();
      throw error;
    }
  };
}

function connect(request: Request, signal: AbortSignal | undefined): Promise<WebSocket> {
  const url = new URL(request.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const headers = new Headers(request.headers);
  for (const name of HANDSHAKE_HEADERS) headers.delete(name);
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "").split(",")
    .map((protocol) => protocol.trim()).filter((protocol) => protocol !== "");

  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const socket = new WebSocket(url, { protocols, headers });
    socket.binaryType = "arraybuffer";
    const abort = () => {
      socket.close();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
    socket.onopen = () => {
      signal?.removeEventListener("abort", abort);
      resolve(socket);
    };
    socket.onerror = (event) => {
      signal?.removeEventListener("abort", abort);
      const message = event instanceof ErrorEvent ? event.message : "connection failed";
      reject(new Error(`WebSocket to ${url.origin} failed: ${message}`));
    };
  });
}

/** Relays messages and the close both ways; what the upstream sends first waits for the client. */
function relay(client: WebSocket, upstream: WebSocket): void {
  client.binaryType = "arraybuffer";
  const waiting: (() => void)[] = [];
  const toClient = (action: () => void) => {
    if (client.readyState === WebSocket.CONNECTING) waiting.push(action);
    else action();
  };
  client.onopen = () => {
    for (const action of waiting.splice(0)) action();
  };
  client.onmessage = (event) => sendIfOpen(upstream, event.data);
  client.onclose = (event) => closeLike(upstream, event);
  upstream.onmessage = (event) => toClient(() => sendIfOpen(client, event.data));
  upstream.onclose = (event) => toClient(() => closeLike(client, event));
}

function sendIfOpen(socket: WebSocket, data: string | ArrayBuffer): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(data);
}

/**
 * Closes `socket` with the code and reason of the other side's close, when an endpoint may send
 * that code (1000 or 3000-4999); otherwise without a code.
 */
function closeLike(socket: WebSocket, event: CloseEvent): void {
  if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) return;
  const sendable = event.code === 1000 || (event.code >= 3000 && event.code <= 4999);
  if (sendable) socket.close(event.code, event.reason);
  else socket.close();
}
