/**
 * Trace and span ids (src/tracing/ids.ts): the format W3C Trace Context asks for, every random
 * byte spelled where it belongs, never an all-zero id, and a spread no worse than random.
 */
import assert from "node:assert/strict";
import { isValidSpanId, isValidTraceId } from "@opentelemetry/api";
import { PooledIdGenerator } from "../../src/tracing/ids.ts";

Deno.test("ids are lower-case hex of the right length, valid, and do not repeat", () => {
  const ids = new PooledIdGenerator();
  const seen = new Set<string>();
  // Several refills of the pool, trace and span ids interleaved across its boundary.
  for (let i = 0; i < 2_000; i++) {
    const traceId = ids.generateTraceId();
    const spanId = ids.generateSpanId();
    assert.match(traceId, /^[0-9a-f]{32}$/);
    assert.match(spanId, /^[0-9a-f]{16}$/);
    assert.ok(isValidTraceId(traceId) && isValidSpanId(spanId));
    seen.add(traceId).add(spanId);
  }
  assert.equal(seen.size, 4_000);
});

Deno.test("each id spells the next random bytes in order, and a new fill comes when they run out", () => {
  let fills = 0;
  const ids = new PooledIdGenerator((bytes) => {
    fills++;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i + fills) & 0xff;
  });
  assert.equal(ids.generateSpanId(), "0102030405060708");
  assert.equal(ids.generateTraceId(), "090a0b0c0d0e0f101112131415161718");
  // 4096 bytes a fill, 24 a pair: 170 pairs, then a trace id takes the last 16 bytes exactly.
  for (let i = 1; i < 170; i++) {
    ids.generateSpanId();
    ids.generateTraceId();
  }
  assert.equal(ids.generateTraceId(), "f1f2f3f4f5f6f7f8f9fafbfcfdfeff00");
  assert.equal(fills, 1);
  assert.equal(ids.generateSpanId(), "0203040506070809");
  assert.equal(fills, 2);
  assert.equal(ids.generateSpanId(), "0a0b0c0d0e0f1011");
});

Deno.test("random bytes that are all zero still give valid ids, as the SDK's do", () => {
  const ids = new PooledIdGenerator((bytes) => bytes.fill(0));
  assert.equal(ids.generateTraceId(), "00000000000000000000000000000001");
  assert.equal(ids.generateSpanId(), "0000000000000001");
});

Deno.test("every hex digit of every position is about equally likely", () => {
  const ids = new PooledIdGenerator();
  const samples = 16_000;
  const counts = Array.from({ length: 32 }, () => new Array<number>(16).fill(0));
  for (let i = 0; i < samples; i++) {
    const id = ids.generateTraceId();
    for (let position = 0; position < 32; position++) {
      counts[position][parseInt(id[position], 16)]++;
    }
  }
  // Chi-square with 15 degrees of freedom: 37.7 is the 0.999 quantile; over 32 positions one
  // random failure in about 30 runs at that bound, so the bound is 50 (p < 1e-5 each).
  const expected = samples / 16;
  for (const [position, digits] of counts.entries()) {
    const chiSquare = digits.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    assert.ok(chiSquare < 50, `position ${position}: chi-square ${chiSquare.toFixed(1)}`);
  }
});
