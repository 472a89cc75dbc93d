/**
 * The middleware under HTTP load: Hono hello-world on `Deno.serve`, bare, with tracegate and with
 * `@hono/otel` on the OpenTelemetry SDK, each server in its own process, exporting to the sink.
 */
import { Harness, jsonCounter, type Run, type Target } from "../lib/harness.ts";
import { SAMPLED_TRACEPARENT, UNSAMPLED_TRACEPARENT } from "../lib/fixtures.ts";
import { startAll, startServer } from "../lib/process.ts";
import { deliveryRatios, rateRatios, type TargetCheck } from "../lib/render.ts";
import { startSinkProcess } from "../lib/sink_process.ts";
import type { SectionContext } from "./context.ts";

export interface LoadSectionResult {
  readonly targets: readonly Target[];
  readonly runs: Map<string, Run[]>;
  readonly checks: readonly TargetCheck[];
}

export const SAMPLED = { traceparent: SAMPLED_TRACEPARENT };
export const UNSAMPLED = { traceparent: UNSAMPLED_TRACEPARENT };

export async function runMiddlewareLoad(ctx: SectionContext): Promise<LoadSectionResult> {
  await using sink = await startSinkProcess();
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_SERVICE_NAME: "bench-hello" };
  await using servers = await startAll(
    [
      "bare",
      "tracegate",
      "hono-otel",
      "noop",
      "floor",
      "floor:read",
      "floor:context",
      "floor:handback",
    ]
      .map((mode) => startServer("bench/servers/hello.ts", [mode], { env })),
  );
  const [bare, traced, peer, noop, floor, floorRead, floorContext, floorHandBack] = servers;
  const target = (
    id: string,
    label: string,
    server: typeof bare,
    headers: Record<string, string>,
    spansPerRequest: number,
  ): Target => ({
    id,
    label,
    url: server.url,
    server,
    headers,
    spansPerRequest,
    served: jsonCounter(server.extra.control, "served"),
  });
  const targets = [
    target("a", "bare Hono", bare, SAMPLED, 0),
    target("b", "tracegate, sampled, exporting", traced, SAMPLED, 1),
    target("c", "tracegate, unsampled", traced, UNSAMPLED, 0),
    target("d", "@hono/otel + SDK, sampled, exporting", peer, SAMPLED, 1),
    target("e", "@hono/otel + SDK, unsampled", peer, UNSAMPLED, 0),
    target("f", "floor: one no-op middleware (Hono's compose)", noop, UNSAMPLED, 0),
    target(
      "g",
      "floor: headers read, context.with, trace handed back; no span",
      floor,
      UNSAMPLED,
      0,
    ),
    target("h", "floor, one part: traceparent read", floorRead, UNSAMPLED, 0),
    target("i", "floor, one part: context.with (AsyncLocalStorage)", floorContext, UNSAMPLED, 0),
    target("j", "floor, one part: Server-Timing written", floorHandBack, UNSAMPLED, 0),
  ];
  const runs = await new Harness(ctx.generator, sink.counts, ctx.plan, ctx.log).compare(targets);
  const checks: TargetCheck[] = [
    {
      table: "issue",
      name: "Hono middleware, sampled + exporting (b), × bare Hono (a)",
      values: rateRatios(runs, "b", "a"),
      threshold: 0.5,
      direction: "≥",
      unit: "×",
    },
    {
      table: "issue",
      name: "Hono middleware, unsampled (c), × bare Hono (a)",
      values: rateRatios(runs, "c", "a"),
      threshold: 0.8,
      direction: "≥",
      unit: "×",
    },
    {
      table: "other",
      name: "middleware (b): spans received per span expected",
      values: deliveryRatios(targets[1], runs.get("b")!),
      threshold: 1,
      direction: "≥",
    },
  ];
  return { targets, runs, checks };
}
