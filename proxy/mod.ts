/**
 * The tracegate propagation proxy: a Hono app that forwards to configured upstreams, traces per
 * header-driven sampling and exports over OTLP/HTTP. `proxy/worker.ts` and `proxy/deno.ts` are
 * ready entries; this module is for embedding it. Configuration comes from the `TRACEGATE_*`
 * and `OTEL_*` variables (see the README's table).
 *
 * @example The proxy in your own Deno server
 * ```ts
 * import { createProxy, createProxyApp } from "@tracegate/tracegate/proxy";
 *
 * const proxy = createProxy({
 *   TRACEGATE_UPSTREAM: "http://127.0.0.1:3000",
 *   OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
 * });
 * const app = createProxyApp(() => proxy, () => ({}));
 * Deno.serve({ hostname: "127.0.0.1", port: 8787 }, app.fetch);
 * ```
 *
 * @module
 */
export {
  createProxy,
  createProxyFrom,
  type Proxy,
  type ProxyOptions,
  type ProxyRequestInfo,
} from "./app.ts";
export { createProxyApp } from "./hono_app.ts";
export { type ProxyConfig, type ProxySettings, readProxyConfig } from "./config.ts";
export { EdgeSampler } from "./sampling.ts";
