import assert from "node:assert/strict";
import { handBackHeaders } from "../../src/http/handback.ts";

const TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const both = { serverTiming: true, traceResponse: true };

Deno.test("hand-back: Server-Timing entry and traceresponse", () => {
  const headers = new Headers();
  handBackHeaders(headers, TP, both);
  assert.equal(headers.get("server-timing"), `traceparent;desc="${TP}"`);
  assert.equal(headers.get("traceresponse"), TP);
});

Deno.test("hand-back: other metrics kept, an inner traceparent entry replaced", () => {
  const headers = new Headers({
    "server-timing": 'db;dur=53, cache;desc="hit, warm", traceparent;desc="00-aa-bb-01"',
  });
  handBackHeaders(headers, TP, both);
  assert.equal(
    headers.get("server-timing"),
    `db;dur=53, cache;desc="hit, warm", traceparent;desc="${TP}"`,
  );
});

Deno.test("hand-back: both can be turned off", () => {
  const headers = new Headers();
  handBackHeaders(headers, TP, { serverTiming: false, traceResponse: false });
  assert.equal([...headers].length, 0);
});
