/**
 * The tracegate propagation proxy: a Hono app that forwards to configured upstreams, traces per
 * header-driven sampling and exports over OTLP/HTTP. `proxy/worker.ts` and `proxy/deno.ts` are
 * ready entries; this module is for embedding it.
 *
 * @module
 */
export {
  createProxy,
  createProxyApp,
  createProxyFrom,
  type Proxy,
  type ProxyOptions,
  type ProxyRequestInfo,
} from "./app.ts";
export { type ProxyConfig, type ProxySettings, readProxyConfig } from "./config.ts";
export { EdgeSampler } from "./sampling.ts";
