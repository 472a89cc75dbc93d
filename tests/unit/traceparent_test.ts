import assert from "node:assert/strict";
import {
  formatTraceparent,
  parseTraceparent,
  TraceFlagBits,
} from "../../src/propagation/traceparent.ts";

const TRACE_ID = "12345678901234567890123456789012";
const PARENT_ID = "1234567890123456";
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

Deno.test("parses the spec examples (sampled and not sampled)", () => {
  assert.deepEqual(
    parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: 0x01 },
  );
  assert.deepEqual(
    parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: 0x00 },
  );
});

Deno.test("keeps the sampled and random bits and drops the reserved ones", () => {
  const flagsOf = (hex: string) => parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-${hex}`)?.flags;
  assert.equal(flagsOf("02"), TraceFlagBits.RANDOM);
  assert.equal(flagsOf("03"), TraceFlagBits.SAMPLED | TraceFlagBits.RANDOM);
  assert.equal(flagsOf("09"), TraceFlagBits.SAMPLED);
  assert.equal(flagsOf("ff"), TraceFlagBits.SAMPLED | TraceFlagBits.RANDOM);
  assert.equal(flagsOf("fc"), 0);
});

Deno.test("tolerates surrounding spaces and tabs (test suite: ows handling)", () => {
  for (const value of [` ${VALID}`, `\t${VALID}`, `${VALID} `, `${VALID}\t`, `\t ${VALID} \t`]) {
    assert.equal(parseTraceparent(value)?.traceId, TRACE_ID, JSON.stringify(value));
  }
});

Deno.test("parses higher versions forward-compatibly (test suite: version 0xcc)", () => {
  assert.equal(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01`)?.traceId, TRACE_ID);
  assert.deepEqual(
    parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`),
    { traceId: TRACE_ID, parentId: PARENT_ID, flags: 0x01 },
  );
  assert.equal(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-03-extra-fields`)?.flags, 0x03);
  assert.equal(
    parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01.what-the-future-will-be-like`),
    undefined,
  );
  assert.equal(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-0`), undefined);
});

Deno.test("rejects every invalid vector of the W3C test suite", () => {
  const invalid = [
    // version 00 allows exactly four fields
    `${VALID}.`,
    `${VALID}-what-the-future-will-be-like`,
    `${VALID}-`,
    // version
    `ff-${TRACE_ID}-${PARENT_ID}-01`,
    `.0-${TRACE_ID}-${PARENT_ID}-01`,
    `0.-${TRACE_ID}-${PARENT_ID}-01`,
    `000-${TRACE_ID}-${PARENT_ID}-01`,
    `0000-${TRACE_ID}-${PARENT_ID}-01`,
    `0-${TRACE_ID}-${PARENT_ID}-01`,
    // trace id
    `00-00000000000000000000000000000000-${PARENT_ID}-01`,
    `00-.2345678901234567890123456789012-${PARENT_ID}-01`,
    `00-1234567890123456789012345678901.-${PARENT_ID}-01`,
    `00-123456789012345678901234567890123-${PARENT_ID}-01`,
    `00-1234567890123456789012345678901-${PARENT_ID}-01`,
    // parent id
    `00-${TRACE_ID}-0000000000000000-01`,
    `00-${TRACE_ID}-.234567890123456-01`,
    `00-${TRACE_ID}-123456789012345.-01`,
    `00-${TRACE_ID}-12345678901234567-01`,
    `00-${TRACE_ID}-123456789012345-01`,
    // flags
    `00-${TRACE_ID}-${PARENT_ID}-.0`,
    `00-${TRACE_ID}-${PARENT_ID}-0.`,
    `00-${TRACE_ID}-${PARENT_ID}-001`,
    `00-${TRACE_ID}-${PARENT_ID}-1`,
  ];
  for (const value of invalid) assert.equal(parseTraceparent(value), undefined, value);
});

Deno.test("rejects upper-case hex in any field", () => {
  const invalid = [
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
    "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "FF-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  ];
  for (const value of invalid) assert.equal(parseTraceparent(value), undefined, value);
});

Deno.test("rejects two values: several lines or one comma-joined line", () => {
  const other = `00-${TRACE_ID.replace("1", "a")}-${PARENT_ID}-01`;
  assert.equal(parseTraceparent([VALID, other]), undefined);
  assert.equal(parseTraceparent([VALID, VALID]), undefined);
  assert.equal(parseTraceparent(`${VALID}, ${other}`), undefined);
  assert.equal(parseTraceparent(`${VALID},${VALID}`), undefined);
  assert.equal(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-x,${other}`), undefined);
  assert.equal(parseTraceparent([VALID])?.traceId, TRACE_ID);
});

Deno.test("rejects absent, empty, non-OWS-padded and non-ASCII values", () => {
  const invalid = [
    undefined,
    [],
    "",
    "   ",
    `\n${VALID}`,
    `${VALID}\r\n`,
    `\u00a0${VALID}`,
    `00-${TRACE_ID}-${PARENT_ID}-0\u0661`,
    `00-${TRACE_ID.slice(0, 31)}\u00e9-${PARENT_ID}-01`,
  ];
  for (const value of invalid) assert.equal(parseTraceparent(value), undefined, String(value));
});

Deno.test("handles 100 KB values without choking", () => {
  const future = `cc-${TRACE_ID}-${PARENT_ID}-01-${"x".repeat(100_000)}`;
  assert.equal(parseTraceparent(future)?.traceId, TRACE_ID);
  assert.equal(parseTraceparent(`${VALID}${" ".repeat(100_000)}`)?.traceId, TRACE_ID);
  assert.equal(parseTraceparent(`${VALID}${"0".repeat(100_000)}`), undefined);
  assert.equal(parseTraceparent(`${" ".repeat(100_000)}x${" ".repeat(100_000)}`), undefined);
});

Deno.test("formats version 00 with only the known flag bits", () => {
  assert.equal(
    formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, flags: 0xff }),
    `00-${TRACE_ID}-${PARENT_ID}-03`,
  );
  assert.equal(
    formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, flags: TraceFlagBits.RANDOM }),
    `00-${TRACE_ID}-${PARENT_ID}-02`,
  );
  assert.equal(
    formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, flags: 0 }),
    `00-${TRACE_ID}-${PARENT_ID}-00`,
  );
});

Deno.test("format downgrades a higher version to 00 and round-trips through parse", () => {
  const parsed = parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-03-future`);
  assert.ok(parsed);
  const formatted = formatTraceparent(parsed);
  assert.equal(formatted, `00-${TRACE_ID}-${PARENT_ID}-03`);
  assert.deepEqual(parseTraceparent(formatted), parsed);
});

Deno.test("format refuses ids that would make an invalid header", () => {
  const invalid = [
    { traceId: TRACE_ID.toUpperCase().replace("1", "A"), parentId: PARENT_ID, flags: 1 },
    { traceId: "0".repeat(32), parentId: PARENT_ID, flags: 1 },
    { traceId: TRACE_ID, parentId: "0".repeat(16), flags: 1 },
    { traceId: TRACE_ID.slice(1), parentId: PARENT_ID, flags: 1 },
    { traceId: TRACE_ID, parentId: `${PARENT_ID}0`, flags: 1 },
    { traceId: TRACE_ID, parentId: "123456789012345g", flags: 1 },
  ];
  for (const parts of invalid) {
    assert.throws(() => formatTraceparent(parts), RangeError, JSON.stringify(parts));
  }
});

Deno.test("the character scan agrees with the grammar as a regular expression, one character off at a time", () => {
  // The four fields as the specification writes them; the scan in parseTraceparent replaces it.
  const grammar = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
  const reference = (header: string) => {
    const match = grammar.exec(header);
    if (!match || match[1] === "ff" || /^0+$/.test(match[2]) || /^0+$/.test(match[3])) return;
    if (header.length > 55 && (match[1] === "00" || header[55] !== "-")) return;
    return { traceId: match[2], parentId: match[3], flags: parseInt(match[4], 16) & 0x03 };
  };
  const characters = "0123456789abcdefABFg-._\u00e9\u0661\u0130";
  let seed = 8;
  const next = (bound: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % bound;
  const bases = [
    VALID,
    `cc-${TRACE_ID}-${PARENT_ID}-01-x`,
    `00-${"0".repeat(31)}1-${PARENT_ID}-fe`,
  ];
  for (let i = 0; i < 20_000; i++) {
    const base = bases[i % bases.length];
    const at = next(base.length);
    const value = base.slice(0, at) + characters[next(characters.length)] + base.slice(at + 1);
    assert.deepEqual(parseTraceparent(value), reference(value), value);
  }
});
