/**
 * Traces for the viewer's tests, made by real OpenTelemetry SDK providers (one per service) and
 * sent by a real OTLP exporter; span times are set explicitly so durations are known exactly.
 */
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { SettledTrace, TraceStore } from "../../viewer/store.ts";

/** A span to record: its times are milliseconds after the batch's base time. */
export interface PlannedSpan {
  /** Names the span in the ids returned, and as a link target. */
  readonly key?: string;
  readonly service: string;
  readonly name: string;
  readonly kind?: SpanKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes?: Attributes;
  /** Status ERROR with this message ("" for none). */
  readonly error?: string;
  /** An exception event (name is its type) at the span's end. */
  readonly exception?: { readonly type: string; readonly message: string; readonly stack?: string };
  /** The key of a span recorded earlier in the same batch. */
  readonly linkTo?: string;
  readonly children?: readonly PlannedSpan[];
}

/** A stack trace of several frames, one per line, as the exception event carries it. */
export const STACK = "TimeoutError: database timeout after 60 ms\n" +
  "    at query (file:///srv/inventory/db.ts:12:5)\n" +
  "    at lookup (file:///srv/inventory/stock.ts:40:3)";

export interface RecordOptions {
  /** Sends each service's spans; OTLP/HTTP JSON to `tracesUrl` unless given. */
  readonly exporter?: (tracesUrl: string) => SpanExporter;
  /** Epoch milliseconds that span times count from; default: 10 s ago. */
  readonly baseMs?: number;
}

/**
 * Records the planned traces (roots in order, links only to spans planned before) and exports
 * them; resolves once every export is done, with the span context of each keyed span.
 */
export async function recordTraces(
  tracesUrl: string,
  roots: readonly PlannedSpan[],
  options: RecordOptions = {},
): Promise<Map<string, SpanContext>> {
  const baseMs = options.baseMs ?? Date.now() - 10_000;
  const makeExporter = options.exporter ?? ((url) => new OTLPTraceExporter({ url }));
  const providers = new Map<string, BasicTracerProvider>();
  const providerFor = (service: string) => {
    let provider = providers.get(service);
    if (!provider) {
      provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ "service.name": service }),
        spanProcessors: [new SimpleSpanProcessor(makeExporter(tracesUrl))],
      });
      providers.set(service, provider);
    }
    return provider;
  };
  const keyed = new Map<string, SpanContext>();

  const record = (plan: PlannedSpan, parent: Context) => {
    const linked = plan.linkTo === undefined ? undefined : keyed.get(plan.linkTo);
    if (plan.linkTo !== undefined && !linked) throw new Error(`no span ${plan.linkTo} to link to`);
    const span = providerFor(plan.service).getTracer("viewer-test").startSpan(plan.name, {
      kind: plan.kind ?? SpanKind.INTERNAL,
      startTime: baseMs + plan.startMs,
      attributes: plan.attributes,
      links: linked ? [{ context: linked, attributes: { "link.reason": "follows" } }] : [],
    }, parent);
    if (plan.key !== undefined) keyed.set(plan.key, span.spanContext());
    for (const child of plan.children ?? []) record(child, trace.setSpan(parent, span));
    if (plan.exception) {
      span.recordException(
        { name: plan.exception.type, message: plan.exception.message, stack: plan.exception.stack },
        baseMs + plan.endMs,
      );
    }
    if (plan.error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: plan.error });
    }
    span.end(baseMs + plan.endMs);
  };
  for (const root of roots) record(root, ROOT_CONTEXT);

  for (const provider of providers.values()) await provider.shutdown();
  return keyed;
}

const REQUEST_ID = "req-7f3a9c";

/** A request that failed once at its inventory lookup, was retried and succeeded. */
export const CHECKOUT_TRACE: PlannedSpan = {
  key: "checkout",
  service: "frontend",
  name: "GET /checkout",
  kind: SpanKind.SERVER,
  startMs: 3000,
  endMs: 3184,
  linkTo: "cart",
  attributes: {
    "http.request.method": "GET",
    "http.route": "/checkout",
    "url.path": "/checkout",
    "http.response.status_code": 200,
    "http.request.id": REQUEST_ID,
  },
  children: [
    { service: "frontend", name: "load cart", startMs: 3003, endMs: 3021 },
    {
      key: "failed-call",
      service: "frontend",
      name: "GET",
      kind: SpanKind.CLIENT,
      startMs: 3024,
      endMs: 3096,
      error: "",
      attributes: {
        "http.request.method": "GET",
        "url.full": "http://inventory.internal/stock/sku-42",
        "http.response.status_code": 503,
        "http.request.id": REQUEST_ID,
        "error.type": "503",
      },
      children: [{
        key: "failed-lookup",
        service: "inventory",
        name: "GET /stock/:sku",
        kind: SpanKind.SERVER,
        startMs: 3027,
        endMs: 3093,
        error: "database timeout",
        exception: {
          type: "TimeoutError",
          message: "database timeout after 60 ms",
          stack: STACK,
        },
        attributes: {
          "http.request.method": "GET",
          "http.route": "/stock/:sku",
          "url.path": "/stock/sku-42",
          "http.response.status_code": 503,
          "http.request.id": REQUEST_ID,
          "error.type": "TimeoutError",
        },
        children: [{
          service: "inventory",
          name: "SELECT stock",
          kind: SpanKind.CLIENT,
          startMs: 3030,
          endMs: 3091,
          attributes: { "db.system.name": "postgresql", "db.collection.name": "stock" },
        }],
      }],
    },
    {
      service: "frontend",
      name: "GET",
      kind: SpanKind.CLIENT,
      startMs: 3099,
      endMs: 3131,
      attributes: {
        "http.request.method": "GET",
        "url.full": "http://inventory.internal/stock/sku-42",
        "http.response.status_code": 200,
        "http.request.resend_count": 1,
        "http.request.id": REQUEST_ID,
      },
      children: [{
        service: "inventory",
        name: "GET /stock/:sku",
        kind: SpanKind.SERVER,
        startMs: 3101,
        endMs: 3129,
        attributes: {
          "http.request.method": "GET",
          "http.route": "/stock/:sku",
          "url.path": "/stock/sku-42",
          "http.response.status_code": 200,
          "http.request.id": REQUEST_ID,
        },
        children: [{
          service: "inventory",
          name: "SELECT stock",
          kind: SpanKind.CLIENT,
          startMs: 3103,
          endMs: 3126,
          attributes: { "db.system.name": "postgresql", "db.collection.name": "stock" },
        }],
      }],
    },
    {
      service: "frontend",
      name: "POST",
      kind: SpanKind.CLIENT,
      startMs: 3134,
      endMs: 3181,
      attributes: {
        "http.request.method": "POST",
        "url.full": "http://payments.internal/charges",
        "http.response.status_code": 201,
        "http.request.id": REQUEST_ID,
      },
      children: [{
        service: "payments",
        name: "POST /charges",
        kind: SpanKind.SERVER,
        startMs: 3137,
        endMs: 3179,
        attributes: {
          "http.request.method": "POST",
          "http.route": "/charges",
          "url.path": "/charges",
          "http.response.status_code": 201,
          "http.request.id": REQUEST_ID,
          "tracegate.sampling.reason": "slow",
        },
      }],
    },
  ],
};

/** The earlier request the checkout links to, and one more, so the list has several traces. */
export const EARLIER_TRACES: readonly PlannedSpan[] = [
  {
    key: "cart",
    service: "frontend",
    name: "POST /cart/items",
    kind: SpanKind.SERVER,
    startMs: 0,
    endMs: 38,
    attributes: {
      "http.request.method": "POST",
      "http.route": "/cart/items",
      "http.response.status_code": 201,
      "http.request.id": "req-1c02d4",
    },
    children: [{
      service: "frontend",
      name: "save cart",
      startMs: 6,
      endMs: 31,
    }],
  },
  {
    key: "products",
    service: "frontend",
    name: "GET /products",
    kind: SpanKind.SERVER,
    startMs: 1500,
    endMs: 1564,
    attributes: {
      "http.request.method": "GET",
      "http.route": "/products",
      "http.response.status_code": 200,
      "http.request.id": "req-5e9b11",
    },
    children: [{
      service: "frontend",
      name: "GET",
      kind: SpanKind.CLIENT,
      startMs: 1504,
      endMs: 1560,
      attributes: {
        "http.request.method": "GET",
        "url.full": "http://inventory.internal/stock",
        "http.response.status_code": 200,
      },
      children: [{
        service: "inventory",
        name: "GET /stock",
        kind: SpanKind.SERVER,
        startMs: 1507,
        endMs: 1557,
        attributes: { "http.route": "/stock", "http.response.status_code": 200 },
      }],
    }],
  },
];

/** The checkout trace and the two before it. */
export const SAMPLE_TRACES: readonly PlannedSpan[] = [...EARLIER_TRACES, CHECKOUT_TRACE];

/** Spans in a plan, children included. */
export function countSpans(plan: PlannedSpan): number {
  return 1 + (plan.children ?? []).reduce((sum, child) => sum + countSpans(child), 0);
}

export interface SettledWatch extends Disposable {
  /** The latest settled state of each trace, by trace id. */
  readonly traces: ReadonlyMap<string, SettledTrace>;
  /**
   * Resolves once `predicate` holds for the traces settled so far (checked now and at each
   * settle); rejects after `timeoutMs` (default 5000) naming what did settle.
   */
  until(
    predicate: (traces: ReadonlyMap<string, SettledTrace>) => boolean,
    timeoutMs?: number,
  ): Promise<ReadonlyMap<string, SettledTrace>>;
}

/** Starts collecting the traces the store reports settled; start it before sending spans. */
export function watchSettled(store: TraceStore): SettledWatch {
  const traces = new Map<string, SettledTrace>();
  const checks = new Set<() => void>();
  const unsubscribe = store.onTraceSettled((settled) => {
    traces.set(settled.summary.traceId, settled);
    for (const check of [...checks]) check();
  });
  return {
    traces,
    until(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(traces)) return;
          checks.delete(check);
          clearTimeout(timer);
          resolve(traces);
        };
        const timer = setTimeout(() => {
          checks.delete(check);
          const seen = [...traces.values()].map(({ summary }) =>
            `\n  - ${summary.traceId} ${JSON.stringify(summary.rootName)}: ` +
            `${summary.spanCount} span(s)`
          );
          reject(new Error(`no match after ${timeoutMs} ms; settled:${seen.join("") || " none"}`));
        }, timeoutMs);
        checks.add(check);
        check();
      });
    },
    [Symbol.dispose]: unsubscribe,
  };
}
