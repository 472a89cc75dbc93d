/**
 * The Server-Timing hand-back entry written on a response's headers. Deno validates a header value
 * character by character, and how the value string was built changes what that costs: a joined
 * string is flat, a concatenated one is a tree of its parts.
 */
import { handBackHeaders } from "../src/http/handback.ts";
import { writeTraceparent } from "../src/propagation/traceparent.ts";
import { PARENT_ID, TRACE_ID } from "./lib/fixtures.ts";

const settings = { serverTiming: true, traceResponse: false };
let flags = 0;
/** A traceparent made afresh, as each request has its own. */
const traceparent = () =>
  writeTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, flags: flags ^= 1 });
const RESPONSES = 50;

const group = `Server-Timing written on ${RESPONSES} responses' headers`;
Deno.bench("as handBackHeaders writes it (joined)", { group, baseline: true }, () => {
  for (let i = 0; i < RESPONSES; i++) handBackHeaders(new Headers(), traceparent(), settings);
});
Deno.bench("concatenated (a template literal)", { group }, () => {
  for (let i = 0; i < RESPONSES; i++) {
    const headers = new Headers();
    headers.get("server-timing");
    headers.set("server-timing", `traceparent;desc="${traceparent()}"`);
  }
});
