// The tracegate proxy as a Worker: configuration from the Worker's vars and secrets, spans
// exported in waitUntil after each response.
import { createProxy, createProxyApp } from "@tracegate/tracegate/proxy";

let proxy;

export default createProxyApp(
  (c) => (proxy ??= createProxy(c.env)),
  (c) => ({
    waitUntil: (work) => c.executionCtx.waitUntil(work),
    clientAddress: c.req.header("cf-connecting-ip"),
  }),
);
