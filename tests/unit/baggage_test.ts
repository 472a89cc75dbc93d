import assert from "node:assert/strict";
import { type Baggage, baggageEntryMetadataFromString, propagation } from "@opentelemetry/api";
import {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  parseBaggage,
  serializeBaggage,
} from "../../src/propagation/baggage.ts";
import { EntriesBaggage } from "../../src/propagation/entries_baggage.ts";

/** key -> [value, metadata] for compact comparisons; metadata "" when there is none. */
function entriesOf(baggage: Baggage | undefined): Record<string, [string, string]> {
  assert.ok(baggage);
  return Object.fromEntries(
    baggage.getAllEntries().map((
      [key, entry],
    ) => [key, [entry.value, entry.metadata?.toString() ?? ""]]),
  );
}

function baggageOf(entries: Record<string, string | [string, string]>): Baggage {
  return propagation.createBaggage(Object.fromEntries(
    Object.entries(entries).map(([key, entry]) => [
      key,
      typeof entry === "string"
        ? { value: entry }
        : { value: entry[0], metadata: baggageEntryMetadataFromString(entry[1]) },
    ]),
  ));
}

Deno.test("parses the W3C test suite's members and properties", () => {
  assert.deepEqual(entriesOf(parseBaggage("SomeKey=SomeValue")), {
    SomeKey: ["SomeValue", ""],
  });
  assert.deepEqual(
    entriesOf(parseBaggage("SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal")),
    { SomeKey: ["SomeValue", "SomeProp"], SomeKey2: ["SomeValue2", "ValueProp=PropVal"] },
  );
  assert.deepEqual(
    entriesOf(parseBaggage(
      "SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal",
    )),
    { SomeKey: ["SomeValue", "SomeProp"], SomeKey2: ["SomeValue2", "ValueProp=PropVal"] },
  );
  assert.deepEqual(
    entriesOf(parseBaggage("SomeKey=SomeValue;SomeProp;SecondProp=PropValue")),
    { SomeKey: ["SomeValue", "SomeProp;SecondProp=PropValue"] },
  );
  assert.deepEqual(entriesOf(parseBaggage("SomeKey=SomeValue=equals")), {
    SomeKey: ["SomeValue=equals", ""],
  });
});

Deno.test("percent-decodes values (test suite: percent encoded)", () => {
  const encoded = "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29";
  const decoded = "\t \"';=asdf!@#$%^&*()";
  assert.equal(parseBaggage(`SomeKey=${encoded}`)?.getEntry("SomeKey")?.value, decoded);
  assert.equal(parseBaggage(`SomeKey \t = \t ${encoded} \t `)?.getEntry("SomeKey")?.value, decoded);
  assert.equal(parseBaggage("k=caf%C3%A9%E2%82%AC+")?.getEntry("k")?.value, "café€+");
});

Deno.test("parses the spec's header examples, in one line or several", () => {
  assert.deepEqual(
    entriesOf(parseBaggage(
      "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
    )),
    {
      key1: ["value1", "property1;property2"],
      key2: ["value2", ""],
      key3: ["value3", "propertyKey=propertyValue"],
    },
  );
  const expected = {
    userId: ["alice", ""],
    serverNode: ["DF 28", ""],
    isProduction: ["false", ""],
  };
  assert.deepEqual(
    entriesOf(parseBaggage("userId=alice,serverNode=DF%2028,isProduction=false")),
    expected,
  );
  assert.deepEqual(
    entriesOf(parseBaggage(["userId=alice", "serverNode=DF%2028,isProduction=false"])),
    expected,
  );
  assert.deepEqual(
    entriesOf(parseBaggage(["userId =   alice", "serverNode = DF%2028, isProduction = false"])),
    expected,
  );
});

Deno.test("drops only the invalid members", () => {
  const invalidMembers = [
    "bad key=1",
    "k\u00e9y=1",
    "=novalue",
    "noequals",
    'quote=a"b',
    "space=a b",
    "backslash=a\\b",
    "nonascii=caf\u00e9",
    "badescape=%zz",
    "halfescape=%4",
    "badutf8=%C3",
    "badprop=1;bad prop",
    'badpropvalue=1;p=a"b',
    "emptyprop=1;",
    "emptyprop2=1;;p",
    "ctl=a\u0001b",
    "",
    " \t ",
  ];
  const header = ["first=1", ...invalidMembers, "last=2;p"].join(",");
  assert.deepEqual(entriesOf(parseBaggage(header)), { first: ["1", ""], last: ["2", "p"] });
  assert.equal(parseBaggage(invalidMembers.join(",")), undefined);
  assert.equal(parseBaggage(""), undefined);
  assert.equal(parseBaggage(undefined), undefined);
});

Deno.test("accepts an empty value, token keys and keys like __proto__", () => {
  assert.deepEqual(entriesOf(parseBaggage("empty=,tok!#$%&'*+-.^_`|~9=v,__proto__=p")), {
    empty: ["", ""],
    "tok!#$%&'*+-.^_`|~9": ["v", ""],
    ["__proto__"]: ["p", ""],
  });
});

Deno.test("keeps the last value of a duplicate key", () => {
  assert.deepEqual(entriesOf(parseBaggage("k=1,other=x,k=2;p")), {
    k: ["2", "p"],
    other: ["x", ""],
  });
});

Deno.test(`keeps the first ${BAGGAGE_MAX_MEMBERS} members and drops the rest`, () => {
  const header = Array.from({ length: BAGGAGE_MAX_MEMBERS + 20 }, (_, i) => `k${i}=v`).join(",");
  const entries = parseBaggage(header)?.getAllEntries() ?? [];
  assert.equal(entries.length, BAGGAGE_MAX_MEMBERS);
  assert.equal(entries[0][0], "k0");
  assert.equal(entries.at(-1)?.[0], `k${BAGGAGE_MAX_MEMBERS - 1}`);
});

Deno.test(`keeps a ${BAGGAGE_MAX_BYTES}-byte header whole and trims a longer one from the end`, () => {
  const exact = `a=${"0123456789".repeat(819)}`;
  assert.equal(exact.length, BAGGAGE_MAX_BYTES);
  assert.equal(parseBaggage(exact)?.getEntry("a")?.value.length, BAGGAGE_MAX_BYTES - 2);
  assert.equal(parseBaggage(`${exact}0`), undefined);

  // Members of 205 bytes plus a comma each: 39 fill 8033 bytes, a 40th would pass 8192.
  const header = Array.from(
    { length: 60 },
    (_, i) => `k${String(i).padStart(3, "0")}=${"v".repeat(200)}`,
  ).join(",");
  const kept = parseBaggage(header)?.getAllEntries() ?? [];
  assert.equal(kept.length, 39);
  assert.equal(kept[0][0], "k000");
  assert.equal(kept.at(-1)?.[0], "k038");
});

Deno.test("trims a 100 KB header to the limits instead of failing", () => {
  const header = `a=1,${"k=".padEnd(100_000, "v")},b=2`;
  assert.deepEqual(entriesOf(parseBaggage(header)), { a: ["1", ""] });
  const many = Array.from({ length: 10_000 }, (_, i) => `key${i}=value${i}`).join(",");
  assert.ok(many.length > 100_000);
  const entries = parseBaggage(many)?.getAllEntries() ?? [];
  assert.equal(entries.length, BAGGAGE_MAX_MEMBERS);
  const invalidThenValid = `${"bad key=1,".repeat(10_000)}good=1`;
  assert.deepEqual(entriesOf(parseBaggage(invalidThenValid)), { good: ["1", ""] });
});

Deno.test("serializes with percent-encoded values and properties", () => {
  const header = serializeBaggage(baggageOf({
    userId: "alice",
    serverNode: ["DF 28", "p1;p2=v2"],
    odd: 'a,b;c=d"e\\f é€',
    empty: "",
  }));
  assert.equal(
    header,
    "userId=alice,serverNode=DF%2028;p1;p2=v2,odd=a%2Cb%3Bc%3Dd%22e%5Cf%20%C3%A9%E2%82%AC,empty=",
  );
});

Deno.test("serialize and parse round-trip", () => {
  const original = baggageOf({
    plain: "value",
    spaced: "  leading and trailing  ",
    unicode: "日本語 ✓",
    symbols: "\t \"';=asdf!@#$%^&*()",
    withProps: ["v", "a;b=c"],
  });
  const header = serializeBaggage(original);
  assert.ok(header);
  assert.deepEqual(entriesOf(parseBaggage(header)), entriesOf(original));
});

Deno.test("serialize normalizes metadata and drops members it cannot write", () => {
  const header = serializeBaggage(baggageOf({
    good: ["1", " a ; b = c "],
    "bad key": "1",
    "k\u00e9y": "1",
    badMetadata: ["1", "not a token"],
    badMetadataValue: ["1", "p=a,b"],
    loneSurrogate: "\ud800",
    last: "2",
  }));
  assert.equal(header, "good=1;a;b=c,last=2");
  assert.equal(serializeBaggage(baggageOf({ "bad key": "1" })), undefined);
  assert.equal(serializeBaggage(propagation.createBaggage()), undefined);
});

Deno.test("serialize keeps 64 members (test suite: at least 64)", () => {
  const entries = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`key${i}`, "value"]));
  assert.equal(serializeBaggage(baggageOf(entries))?.split(",").length, 64);
});

Deno.test("serialize enforces the member and byte limits by dropping whole members", () => {
  const exact = serializeBaggage(baggageOf({ a: "0123456789".repeat(819) }));
  assert.equal(exact?.length, BAGGAGE_MAX_BYTES);
  assert.equal(serializeBaggage(baggageOf({ a: "0123456789".repeat(819) + "0" })), undefined);

  const many = Object.fromEntries(Array.from({ length: 512 }, (_, i) => [`k${i}`, "v"]));
  const members = serializeBaggage(baggageOf(many))?.split(",") ?? [];
  assert.equal(members.length, BAGGAGE_MAX_MEMBERS);
  assert.equal(members.at(-1), `k${BAGGAGE_MAX_MEMBERS - 1}=v`);

  // Encoding grows "é" to six bytes: 1400 of them make a 8402-byte member that cannot fit.
  const grown = serializeBaggage(baggageOf({ first: "1", huge: "é".repeat(1400), after: "2" }));
  assert.equal(grown, "first=1");
  const sized = Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, "0")}`, "v".repeat(300)]),
  );
  // 304-byte members plus commas: 26 take 7929 bytes, a 27th would take 8234.
  const bounded = serializeBaggage(baggageOf(sized))?.split(",") ?? [];
  assert.equal(bounded.length, 26);
  assert.equal(bounded.at(-1), `k25=${"v".repeat(300)}`);
});

Deno.test("the parsed baggage behaves as the API's own for every Baggage method", () => {
  const metadata = baggageEntryMetadataFromString("p=1");
  // Entries of their own for each, as a reader's change to one must not show in the other.
  const initial = () => ({ a: { value: "1" }, b: { value: "2", metadata } });
  const theirs = propagation.createBaggage(initial());
  const ours = new EntriesBaggage(new Map(Object.entries(initial())));
  const states = (baggage: Baggage): unknown[] => {
    const changed = baggage.setEntry("c", { value: "3" }).setEntry("a", { value: "1'" });
    const entry = baggage.getEntry("b");
    if (entry) entry.value = "changed by the reader";
    return [
      baggage.getAllEntries(),
      baggage.getEntry("b"),
      baggage.getEntry("missing"),
      changed.getAllEntries(),
      changed.removeEntry("b").getAllEntries(),
      changed.removeEntries("a", "c", "missing").getAllEntries(),
      changed.clear().getAllEntries(),
      baggage.getAllEntries(),
    ];
  };
  assert.deepEqual(states(ours), states(theirs));
});
