/**
 * Builds what every traced request needs: the tracer, the propagator, the export queue and the
 * per-request settings, from the settings read from the environment and what the caller passes.
 */
import type { TextMapPropagator, Tracer, TracerProvider } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import meta from "../../deno.json" with { type: "json" };
import type { SamplerSettings, TracingSettings } from "../config/settings.ts";
import { type HttpPolicy, httpPolicy } from "../http/policy.ts";
import { BaggageAttributesProcessor } from "../baggage_attributes.ts";
import { createSpanExporter } from "../export/exporter.ts";
import { ExportQueue } from "../export/queue.ts";
import { createPropagator } from "../propagation/mod.ts";
import { samplerFromSettings } from "../sampling.ts";
import { NO_TAIL_RULES, type TailRules } from "../sampling/tail.ts";
import { UnreadBodies } from "./unread_bodies.ts";
import { PooledIdGenerator } from "./ids.ts";
import { SpanStarter, type StartSpan } from "./span_starter.ts";

export const TRACER_NAME = "tracegate";
export const TRACER_VERSION: string = meta.version;

/**
 * Either tracegate builds the provider (optionally with your sampler or exporter) or you bring
 * one, which then owns sampling, processing and export: passing both does not compile.
 */
export type ProviderOptions =
  | {
    /** Replaces the sampler named by `OTEL_TRACES_SAMPLER`. */
    readonly sampler?: Sampler;
    /** Replaces the OTLP/HTTP exporter built from `OTEL_EXPORTER_OTLP_*`. */
    readonly exporter?: SpanExporter;
    /**
     * Records tracegate's record-only spans only once their request may be kept (see
     * `DeferredSpan`): for callers under whose spans nothing else nests (the proxy).
     */
    readonly deferRecordOnly?: boolean;
    readonly tracerProvider?: never;
  }
  | {
    /** Your own provider: it samples, processes and exports. */
    readonly tracerProvider: TracerProvider;
    readonly sampler?: never;
    readonly exporter?: never;
    readonly deferRecordOnly?: never;
  };

export type TracingOptions = ProviderOptions & {
  /** Diagnostics: configuration problems, export failures, debug lines. Default: console.error. */
  readonly log?: (line: string) => void;
  /** Where access-log lines go. Default: console.log. */
  readonly writeAccessLog?: (line: string) => void;
  /**
   * The tail rules server spans end by (default: none). The sampler must record what it does not
   * sample for them to apply: `TailRecordingSampler` does.
   */
  readonly tail?: TailRules;
};

export interface Tracing {
  readonly provider: TracerProvider;
  /** Users' spans: the SDK tracer of `provider`. */
  readonly tracer: Tracer;
  /**
   * tracegate's own SERVER and CLIENT spans: lean spans through the same sampler, processors and
   * resource as `tracer` when tracegate built the provider, else `tracer`'s spans.
   */
  readonly startSpan: StartSpan;
  readonly propagator: TextMapPropagator;
  readonly http: HttpPolicy;
  /** The sampler the settings name (what a debug line explains a decision by). */
  readonly sampler: SamplerSettings;
  /** Which requests not head-sampled are kept at their end. */
  readonly tail: TailRules;
  readonly log: (line: string) => void;
  readonly writeAccessLog: (line: string) => void;
  /** Present when tracegate built the provider (not when one was passed in). */
  readonly queue?: ExportQueue;
  /** Traced calls whose response body has not ended yet. */
  readonly unreadBodies: UnreadBodies;
  /** After a response: exports what has ended, sharing the export with concurrent callers. */
  exportEnded(): Promise<void>;
  /** Ends the CLIENT spans of calls whose body was never read (marked so), then exports. */
  flush(): Promise<void>;
  /** Before exit: like flush, then stops the exporter. */
  shutdown(): Promise<void>;
}

/** Flush and shutdown only ever log: export must never fail a request or a shutdown. */
function quietly(work: () => Promise<unknown> | undefined, log: (line: string) => void) {
  return async () => {
    try {
      await work();
    } catch (error) {
      log(`tracegate: span export failed: ${error instanceof Error ? error.message : error}`);
    }
  };
}

export function createTracing(settings: TracingSettings, options: TracingOptions = {}): Tracing {
  const log = options.log ?? console.error;
  const writeAccessLog = options.writeAccessLog ?? console.log;
  const tail = options.tail ?? NO_TAIL_RULES;
  const propagator = createPropagator(settings.propagators);
  if (options.tracerProvider) {
    const provider = options.tracerProvider as TracerProvider & {
      forceFlush?: () => Promise<void>;
      shutdown?: () => Promise<void>;
    };
    const exportEnded = quietly(() => provider.forceFlush?.(), log);
    const tracer = provider.getTracer(TRACER_NAME, TRACER_VERSION);
    return endingUnreadBodies({
      provider,
      tracer,
      startSpan: (name, kind, parent, links) =>
        tracer.startSpan(name, { kind, links: links?.slice() }, parent),
      propagator,
      http: httpPolicy(settings.http),
      sampler: settings.sampler,
      tail,
      log,
      writeAccessLog,
      exportEnded,
      shutdown: quietly(() => provider.shutdown?.(), log),
    });
  }
  const exporter = options.exporter ?? createSpanExporter(settings.export);
  const queue = exporter ? new ExportQueue(exporter, { ...settings.queue, log }) : undefined;
  const processors: SpanProcessor[] = [];
  if (settings.http.baggageAttributes.length > 0) {
    processors.push(new BaggageAttributesProcessor(settings.http.baggageAttributes));
  }
  if (queue) processors.push(queue);
  const resource = resourceFromAttributes({
    ...settings.resourceAttributes,
    [ATTR_SERVICE_NAME]: settings.serviceName,
  });
  const sampler = options.sampler ?? samplerFromSettings(settings.sampler);
  const ids = new PooledIdGenerator();
  const provider = new BasicTracerProvider({
    resource,
    sampler,
    spanProcessors: processors,
    idGenerator: ids,
  });
  const starter = new SpanStarter({
    sampler,
    processors,
    resource,
    scope: { name: TRACER_NAME, version: TRACER_VERSION },
    ids,
    deferRecordOnly: options.deferRecordOnly,
  });
  return endingUnreadBodies({
    provider,
    tracer: provider.getTracer(TRACER_NAME, TRACER_VERSION),
    startSpan: starter.start,
    propagator,
    http: httpPolicy(settings.http),
    sampler: settings.sampler,
    tail,
    log,
    writeAccessLog,
    queue,
    // The queue's flush never rejects, and is shared: no per-request wrapper to keep alive.
    exportEnded: queue ? () => queue.flush() : () => Promise.resolve(),
    shutdown: quietly(() => provider.shutdown(), log),
  });
}

/** Adds the unread-body registry; flush and shutdown end what it holds first. */
function endingUnreadBodies(
  tracing: Omit<Tracing, "unreadBodies" | "flush">,
): Tracing {
  const unreadBodies = new UnreadBodies();
  return {
    ...tracing,
    unreadBodies,
    flush() {
      unreadBodies.endAll();
      return tracing.exportEnded();
    },
    shutdown() {
      unreadBodies.endAll();
      return tracing.shutdown();
    },
  };
}
