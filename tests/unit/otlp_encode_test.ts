/**
 * tracegate's own OTLP encoders against the reference: @opentelemetry/otlp-transformer's
 * ProtobufTraceSerializer and JsonTraceSerializer. Both outputs are decoded field by field (every
 * field of the proto, tests/support/otlp_fields.ts) and by the viewer's decoder, and compared.
 */
import assert from "node:assert/strict";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { encodeJsonTraces } from "../../src/export/otlp_json.ts";
import { ProtobufTraceEncoder } from "../../src/export/otlp_protobuf.ts";
import { decodeTraceExport } from "../../viewer/otlp/decode.ts";
import { jsonFields, protobufFields } from "../support/otlp_fields.ts";
import { randomSpans, spanCorpus } from "../support/span_corpus.ts";

const PROTOBUF = "application/x-protobuf";
const JSON_TYPE = "application/json";

function reference(spans: ReadableSpan[]) {
  return {
    protobuf: ProtobufTraceSerializer.serializeRequest(spans)!,
    json: JsonTraceSerializer.serializeRequest(spans)!,
  };
}

async function assertProtobufMatches(encoder: ProtobufTraceEncoder, spans: ReadableSpan[]) {
  const ours = encoder.encode(spans);
  const theirs = reference(spans).protobuf;
  assert.deepStrictEqual(protobufFields(ours), protobufFields(theirs));
  assert.deepStrictEqual(
    await decodeTraceExport(ours, PROTOBUF),
    await decodeTraceExport(theirs, PROTOBUF),
  );
}

async function assertJsonMatches(spans: ReadableSpan[]) {
  const ours = encodeJsonTraces(spans);
  const theirs = reference(spans).json;
  const text = new TextDecoder();
  assert.deepStrictEqual(
    jsonFields(JSON.parse(text.decode(ours))),
    jsonFields(JSON.parse(text.decode(theirs))),
  );
  assert.deepStrictEqual(
    await decodeTraceExport(ours, JSON_TYPE),
    await decodeTraceExport(theirs, JSON_TYPE),
  );
}

Deno.test("protobuf encoder: the corpus decodes field by field as the transformer's bytes", async () => {
  const spans = spanCorpus();
  await assertProtobufMatches(new ProtobufTraceEncoder(), spans);
  // What the corpus is meant to cover is really in it.
  const tree = protobufFields(new ProtobufTraceEncoder().encode(spans));
  const text = JSON.stringify(tree);
  for (
    const field of [
      "droppedAttributesCount",
      "droppedEventsCount",
      "droppedLinksCount",
      "traceState",
      "schemaUrl",
      "parentSpanId",
      "doubleValue",
      "arrayValue",
      "boolValue",
      '"status":{"message"',
    ]
  ) assert.ok(text.includes(field), `the corpus has no ${field}`);
  assert.equal((tree.resourceSpans as unknown[]).length, 2);
});

Deno.test("JSON encoder: the corpus decodes field by field as the transformer's JSON", async () => {
  await assertJsonMatches(spanCorpus());
});

Deno.test("protobuf and JSON encoders say the same thing, non-finite doubles included", () => {
  const spans = [...spanCorpus(), ...randomSpans(7, 50)];
  const json = JSON.parse(new TextDecoder().decode(encodeJsonTraces(spans)));
  assert.deepStrictEqual(
    jsonFields(json),
    protobufFields(new ProtobufTraceEncoder().encode(spans)),
  );
});

Deno.test("protobuf encoder: random spans match the transformer (seeded, 40 batches)", async () => {
  const encoder = new ProtobufTraceEncoder(); // one encoder: its reused buffer must not leak between batches
  for (let seed = 1; seed <= 40; seed++) {
    const spans = randomSpans(seed, 1 + (seed * 7) % 60);
    try {
      await assertProtobufMatches(encoder, spans);
    } catch (error) {
      throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : error}`);
    }
  }
});

Deno.test("protobuf encoder: repeated keys and values match the transformer, batch after batch", async () => {
  const encoder = new ProtobufTraceEncoder(); // one encoder: what it cached serves the next batches
  for (let seed = 1; seed <= 40; seed++) {
    const spans = randomSpans(seed, 1 + (seed * 7) % 60, false, true);
    try {
      await assertProtobufMatches(encoder, spans);
    } catch (error) {
      throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : error}`);
    }
  }
});

Deno.test("JSON encoder: random spans match the transformer (seeded, 40 batches)", async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const spans = randomSpans(seed, 1 + (seed * 7) % 60, true);
    try {
      await assertJsonMatches(spans);
    } catch (error) {
      throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : error}`);
    }
  }
});

Deno.test("protobuf encoder: an empty batch is an empty request; a big one grows the buffer", async () => {
  const encoder = new ProtobufTraceEncoder();
  assert.equal(encoder.encode([]).length, 0);
  const big = randomSpans(99, 300);
  await assertProtobufMatches(encoder, big);
  await assertProtobufMatches(encoder, big.slice(0, 3));
});
