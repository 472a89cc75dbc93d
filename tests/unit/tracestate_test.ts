import assert from "node:assert/strict";
import type { TraceState } from "@opentelemetry/api";
import { W3CTraceState } from "../../src/propagation/tracestate.ts";

const parse = (header: string | string[] | undefined) => W3CTraceState.parse(header);

function members(count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(from + i).padStart(2, "0");
    return `bar${n}=${n}`;
  });
}

Deno.test("parses members in order and serializes them back", () => {
  const state = parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  assert.equal(state?.get("rojo"), "00f067aa0ba902b7");
  assert.equal(state?.get("congo"), "t61rcWkgMzE");
  assert.equal(state?.get("absent"), undefined);
  assert.equal(state?.serialize(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
});

Deno.test("joins several header lines in order (test suite: multiple headers)", () => {
  const state = parse(["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]);
  assert.equal(state?.serialize(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
});

Deno.test("skips empty and whitespace-only members (test suite: empty header)", () => {
  assert.equal(parse(""), undefined);
  assert.equal(parse(" \t , ,"), undefined);
  assert.equal(parse([]), undefined);
  assert.equal(parse(undefined), undefined);
  assert.equal(parse(["foo=1", ""])?.serialize(), "foo=1");
  assert.equal(parse(["", "foo=1"])?.serialize(), "foo=1");
  assert.equal(parse(",foo=1,, ,bar=2,")?.serialize(), "foo=1,bar=2");
});

Deno.test("drops optional whitespace around members (test suite: ows handling)", () => {
  for (const header of ["foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"]) {
    assert.equal(parse(header)?.serialize(), "foo=1,bar=2,baz=3", JSON.stringify(header));
  }
  for (const header of [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"]) {
    assert.equal(parse(header)?.get("foo"), "1", JSON.stringify(header));
  }
});

Deno.test("keeps leading spaces of a value, as the spec says", () => {
  assert.equal(parse("foo=  1")?.get("foo"), "  1");
});

Deno.test("accepts every allowed character (test suite: all allowed characters)", () => {
  const key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
  const tenantKey = `${key}@a-z0-9_-*/`;
  const value = [[0x20, 0x2b], [0x2d, 0x3c], [0x3e, 0x7e]]
    .flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i))
    .map((code) => String.fromCharCode(code))
    .join("");
  assert.equal(parse(`${key}=${value}`)?.get(key), value);
  assert.equal(parse(`${tenantKey}=${value}`)?.get(tenantKey), value);
});

Deno.test("accepts the level 2 key grammar, `@` anywhere after the first char", () => {
  const keys = [
    "foo@",
    "foo@@bar",
    "foo@bar@baz",
    "1foo",
    "0@0",
    `${"t".repeat(241)}@${"v".repeat(14)}`,
    `${"t".repeat(242)}@v`,
    `t@${"v".repeat(15)}`,
    "z".repeat(256),
  ];
  for (const key of keys) {
    assert.equal(parse(`foo=1,${key}=2`)?.get(key), "2", key);
  }
});

Deno.test("discards the whole header for an illegal key", () => {
  const headers = [
    "foo =1",
    "FOO=1",
    "foo.bar=1",
    "@foo=1,bar=2",
    "bar=2,_foo=1",
    "fo\u00e9=1,bar=2",
    "=1,bar=2",
    "bar=2,noequals",
    ["foo=1", `${"z".repeat(257)}=1`],
  ];
  for (const header of headers) assert.equal(parse(header), undefined, JSON.stringify(header));
});

Deno.test("discards the whole header for an illegal value", () => {
  const headers = [
    "foo=bar=baz",
    "foo=,bar=3",
    "bar=3,foo=",
    "foo=a\tb,bar=3",
    "foo=caf\u00e9,bar=3",
    "foo=a\u0000b",
    "foo=a\u007fb",
    `foo=${"v".repeat(257)}`,
  ];
  for (const header of headers) assert.equal(parse(header), undefined, JSON.stringify(header));
  assert.equal(parse(`foo=${"v".repeat(256)}`)?.get("foo")?.length, 256);
});

Deno.test("keeps the header, later duplicates dropped (test suite: duplicated keys)", () => {
  const cases: [string | string[], string][] = [
    ["foo=1,foo=1", "foo=1"],
    ["foo=1,foo=2", "foo=1"],
    [["foo=1", "foo=2"], "foo=1"],
    ["a=1,foo=1,b=2,foo=3,a=4", "a=1,foo=1,b=2"],
  ];
  for (const [header, kept] of cases) {
    assert.equal(parse(header)?.serialize(), kept, JSON.stringify(header));
  }
  // Duplicates do not count toward the 32 members; an invalid member still voids the header.
  assert.equal(
    parse([...members(32), "bar01=again"].join(","))?.serialize(),
    members(32).join(","),
  );
  assert.equal(parse("foo=1,foo=2,Bad=3"), undefined);
});

Deno.test("accepts 32 members and discards 33 (test suite: member count limit)", () => {
  const lines = (all: string[]) => [0, 10, 20, 30].map((at) => all.slice(at, at + 10).join(","));
  const thirtyTwo = parse(lines(members(32)));
  assert.equal(thirtyTwo?.get("bar01"), "01");
  assert.equal(thirtyTwo?.serialize(), members(32).join(","));
  assert.equal(parse(lines(members(33))), undefined);
});

Deno.test("does not treat a header over 512 characters as invalid", () => {
  const header = members(32).map((member) => `${member}${"x".repeat(30)}`).join(",");
  assert.ok(header.length > 512);
  assert.equal(parse(header)?.serialize(), header);
});

Deno.test("handles 100 KB headers", () => {
  assert.equal(parse(`foo=${"v".repeat(100_000)}`), undefined);
  assert.equal(parse(`${"k".repeat(100_000)}=1`), undefined);
  assert.equal(parse(Array.from({ length: 10_000 }, (_, i) => `k${i}=1`).join(",")), undefined);
  const padded = `foo=1${" ,".repeat(50_000)}bar=2${"\t".repeat(1000)}`;
  assert.equal(parse(padded)?.serialize(), "foo=1,bar=2");
});

Deno.test("set returns a new state with the key moved to the front", () => {
  const original = parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  assert.ok(original);
  const updated = original.set("rojo", "b9c7c989f97918e1");
  assert.equal(updated.serialize(), "rojo=b9c7c989f97918e1,congo=t61rcWkgMzE");
  const added = updated.set("new", "1");
  assert.equal(added.serialize(), "new=1,rojo=b9c7c989f97918e1,congo=t61rcWkgMzE");
  assert.equal(original.serialize(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  assert.equal(W3CTraceState.EMPTY.set("a", "1").serialize(), "a=1");
  assert.equal(W3CTraceState.EMPTY.serialize(), "");
});

Deno.test("set ignores an illegal key or value, so serialize stays valid", () => {
  const state = parse("foo=1");
  assert.ok(state);
  for (const [key, value] of [["Bad", "1"], ["ok", "a,b"], ["ok", "a=b"], ["ok", "trailing "]]) {
    assert.equal(state.set(key, value), state, `${key}=${value}`);
  }
  assert.equal(state.set("ok", " leading").get("ok"), " leading");
});

Deno.test("set on a full list pushes out a long member first, else the last one", () => {
  const full = parse(members(32));
  assert.ok(full);
  const plain = full.set("new", "1").serialize().split(",");
  assert.equal(plain.length, 32);
  assert.deepEqual(plain, ["new=1", ...members(31)]);

  const withLong = parse([...members(10), `long=${"x".repeat(200)}`, ...members(21, 11)]);
  assert.ok(withLong);
  const trimmed = withLong.set("new", "1");
  assert.equal(trimmed.get("long"), undefined);
  assert.equal(trimmed.get("bar31"), "31");
  assert.equal(trimmed.serialize().split(",").length, 32);

  assert.equal(full.set("bar32", "new").serialize().split(",").length, 32);
});

Deno.test("unset returns a new state without the key", () => {
  const state: TraceState | undefined = parse("foo=1,bar=2,baz=3");
  assert.ok(state);
  assert.equal(state.unset("bar").serialize(), "foo=1,baz=3");
  assert.equal(state.unset("absent").serialize(), "foo=1,bar=2,baz=3");
  assert.equal(state.serialize(), "foo=1,bar=2,baz=3");
});
