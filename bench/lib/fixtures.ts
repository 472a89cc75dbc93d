/** Header values shared by the micro benchmarks and the load runs. */

export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
export const PARENT_ID = "00f067aa0ba902b7";
export const SAMPLED_TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
export const UNSAMPLED_TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-00`;

export const TRACESTATE =
  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,tenant@vendor=opaque-value,dd=s:1";
export const BAGGAGE =
  "user.id=42,session=abc%20def;ttl=60,tenant=acme,region=eu-west-1,feature.flags=a%2Cb%2Cc";

/** What a typical traced request carries, for the span and middleware benchmarks. */
export const REQUEST_HEADERS: Readonly<Record<string, string>> = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
  "x-request-id": "req-0123456789abcdef",
  "x-tenant": "acme",
  traceparent: SAMPLED_TRACEPARENT,
  tracestate: TRACESTATE,
  baggage: BAGGAGE,
};
