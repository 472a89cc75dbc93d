/**
 * The real OpenTelemetry Collector as a child process: the distribution in deploy/collector/build,
 * built (once, cached outside the clone) by deploy/collector/build.sh. A config file is given with
 * `${env:NAME}` placeholders, which the Collector expands from the environment passed here, so the
 * deployment recipe's own files run unchanged in the tests.
 */
import { scriptOutput, whenReady } from "./child_process.ts";
import { closedPort } from "./servers.ts";

const ROOT = new URL("../../", import.meta.url);
const READY = /Everything is ready\. Begin running and processing data\./;
/** Bounds a start or stop (a cold machine is slow), not a synchronisation wait. */
const START_TIMEOUT_MS = 60_000;

/** The Collector's path, building it first if the cache does not hold this version. */
export function collectorBinary(): Promise<string> {
  return scriptOutput(new URL("deploy/collector/build.sh", ROOT), "it needs Go");
}

export interface RunningCollector extends AsyncDisposable {
  /** Everything the Collector has logged so far. */
  readonly logs: string;
  /** Sends SIGTERM and resolves once it has exited (its exporters flushed). */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts the Collector with `configs` (paths under the repository; later ones are merged over
 * earlier ones, as the Collector merges repeated `--config`) and waits until it is ready.
 */
export async function startCollector(
  configs: readonly string[],
  env: Record<string, string>,
): Promise<RunningCollector> {
  const child = new Deno.Command(await collectorBinary(), {
    args: configs.map((path) => `--config=${new URL(path, ROOT).pathname}`),
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const ready = await whenReady(child, READY, {
    name: `the Collector (${configs.join(" + ")})`,
    timeoutMs: START_TIMEOUT_MS,
  });
  return {
    get logs() {
      return ready.stderr;
    },
    stop: () => ready.stop(),
    [Symbol.asyncDispose]: async () => {
      await ready.stop();
    },
  };
}

/** A free loopback address (`127.0.0.1:port`) for a Collector's listener. */
export function freeAddress(): string {
  return `127.0.0.1:${closedPort()}`;
}

export interface VerifyingCollector extends AsyncDisposable {
  /** Base URL of its OTLP/HTTP receiver: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  /** What it decoded, as its `file` exporter wrote it. */
  readonly file: CollectorFile;
}

/**
 * A Collector that writes every span it receives to a file (tests/fixtures/collector/verify.yaml),
 * in a temporary directory removed when it is disposed.
 */
export async function startVerifyingCollector(): Promise<VerifyingCollector> {
  const dir = await Deno.makeTempDir({ prefix: "tracegate-collector-" });
  const file = new CollectorFile(dir, "spans.jsonl");
  const http = freeAddress();
  const collector = await startCollector(["tests/fixtures/collector/verify.yaml"], {
    OTLP_HTTP_ENDPOINT: http,
    OTLP_GRPC_ENDPOINT: freeAddress(),
    SPANS_FILE: file.path,
  });
  return {
    endpoint: `http://${http}`,
    file,
    [Symbol.asyncDispose]: async () => {
      await collector.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Reads the OTLP/JSON lines the `file` exporter writes, each an ExportTraceServiceRequest as the
 * Collector decoded it. `waitFor` resolves once `predicate` holds for everything written so far,
 * re-reading as the file changes (watched, not polled).
 */
export class CollectorFile {
  readonly path: string;

  constructor(dir: string, name: string) {
    this.path = `${dir}/${name}`;
  }

  async read(): Promise<OtlpJsonRequest[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    // A line is complete once its newline is written.
    const lines = text.split("\n").slice(0, -1);
    return lines.filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
  }

  async waitFor<T>(
    select: (requests: OtlpJsonRequest[]) => T | undefined,
    { timeoutMs = 15_000 } = {},
  ): Promise<T> {
    const dir = this.path.slice(0, this.path.lastIndexOf("/"));
    using watcher = Deno.watchFs(dir, { recursive: false });
    const timer = setTimeout(() => watcher.close(), timeoutMs);
    try {
      let found = select(await this.read());
      if (found !== undefined) return found;
      for await (const _event of watcher) {
        found = select(await this.read());
        if (found !== undefined) return found;
      }
      const requests = await this.read();
      throw new Error(
        `${this.path}: no match after ${timeoutMs} ms; ${spansOf(requests).length} span(s) written`,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** OTLP/JSON as the Collector writes it (int64s as strings, ids as hex, enums as numbers). */
export interface OtlpJsonRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpJsonKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string; version?: string; attributes?: OtlpJsonKeyValue[] };
      spans?: OtlpJsonSpan[];
    }[];
  }[];
}

export interface OtlpJsonKeyValue {
  key: string;
  value: OtlpJsonAnyValue;
}

export interface OtlpJsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpJsonAnyValue[] };
  kvlistValue?: { values?: OtlpJsonKeyValue[] };
  bytesValue?: string;
}

export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
  events?: {
    timeUnixNano: string;
    name: string;
    attributes?: OtlpJsonKeyValue[];
    droppedAttributesCount?: number;
  }[];
  droppedEventsCount?: number;
  links?: {
    traceId: string;
    spanId: string;
    traceState?: string;
    attributes?: OtlpJsonKeyValue[];
    droppedAttributesCount?: number;
    flags?: number;
  }[];
  droppedLinksCount?: number;
  status?: { code?: number; message?: string };
}

/** A span with the resource and scope it was written under. */
export interface WrittenSpan {
  readonly span: OtlpJsonSpan;
  readonly resource: OtlpJsonKeyValue[];
  readonly scope: { name: string; version: string };
}

export function spansOf(requests: readonly OtlpJsonRequest[]): WrittenSpan[] {
  return requests.flatMap((request) =>
    (request.resourceSpans ?? []).flatMap((resourceSpans) =>
      (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
        (scopeSpans.spans ?? []).map((span) => ({
          span,
          resource: resourceSpans.resource?.attributes ?? [],
          scope: { name: scopeSpans.scope?.name ?? "", version: scopeSpans.scope?.version ?? "" },
        }))
      )
    )
  );
}
