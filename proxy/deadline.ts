/**
 * The upstream deadline: how long the upstream may leave an exchange without progress, and the
 * clocks that keep such deadlines.
 */

/** A deadline set on a clock; `cancel` keeps it from expiring. */
export interface Armed {
  cancel(): void;
}

/** Keeps deadlines of one length (`timeoutMs`) for a proxy. */
export interface DeadlineClock {
  readonly timeoutMs: number;
  /** Calls `expire` `timeoutMs` from now, unless the deadline is cancelled first. */
  arm(expire: () => void): Armed;
}

/**
 * A timer per deadline. For runtimes whose timers belong to the request that set them (workerd
 * cancels them when that request ends, and one request may not abort another's fetch).
 */
export class TimerPerDeadline implements DeadlineClock {
  constructor(readonly timeoutMs: number) {}

  arm(expire: () => void): Armed {
    const timer = setTimeout(expire, this.timeoutMs);
    return { cancel: () => clearTimeout(timer) };
  }
}

/** The timer functions a clock uses (the global ones, or ones a test watches). */
export interface Timers {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

class Entry implements Armed {
  live = true;

  constructor(
    readonly at: number,
    readonly expire: () => void,
    readonly cancelled: () => void,
  ) {}

  cancel(): void {
    if (!this.live) return;
    this.live = false;
    this.cancelled();
  }
}

/**
 * Every deadline on one timer, for a long-lived process (Deno, Node). All deadlines have the same
 * length, so they expire in the order they were armed: a queue, with the timer set for the
 * oldest live one. A timer per request costs more than the rest of the deadline's work (Deno
 * 2.9's `setTimeout` builds a Node.js `Timeout`: in the proxy's profile under load, setting and
 * clearing one per request took longer than choosing the route and building the upstream
 * request together). The timer is cleared whenever no deadline is pending.
 */
export class DeadlineQueue implements DeadlineClock {
  readonly timeoutMs: number;
  readonly #timers: Timers;
  #entries: Entry[] = [];
  /** Index of the oldest entry that may still be live; the ones before it are gone. */
  #head = 0;
  #timer: unknown;

  constructor(timeoutMs: number, timers: Timers = globalThis) {
    this.timeoutMs = timeoutMs;
    this.#timers = timers;
  }

  arm(expire: () => void): Armed {
    const entry = new Entry(Date.now() + this.timeoutMs, expire, this.#dropDead);
    this.#entries.push(entry);
    if (this.#timer === undefined) this.#schedule(this.timeoutMs);
    return entry;
  }

  /** Pending deadlines (for tests and the curious). */
  get pending(): number {
    let count = 0;
    for (let i = this.#head; i < this.#entries.length; i++) if (this.#entries[i].live) count++;
    return count;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#timers.setTimeout(this.#fire, Math.max(1, Math.ceil(delayMs)));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    for (
      let entry = this.#entries[this.#head];
      entry !== undefined;
      entry = this.#entries[this.#head]
    ) {
      if (entry.live && entry.at > now) break;
      this.#head++;
      if (entry.live) {
        entry.live = false;
        entry.expire();
      }
    }
    this.#dropDead();
  };

  /** Forgets the dead entries at the front; sets the timer for the oldest live one, if any. */
  readonly #dropDead = (): void => {
    const entries = this.#entries;
    while (this.#head < entries.length && !entries[this.#head].live) this.#head++;
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      this.#timers.clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    // Keep the array from growing behind a long-lived deadline at the front.
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    if (this.#timer === undefined) this.#schedule(this.#entries[this.#head].at - Date.now());
  };
}

/**
 * An abort signal that fires once the clock's `timeoutMs` pass without progress: armed by
 * `fetchUpstream` when it sends the request, restarted by each upload chunk, ended by `stop`.
 */
export class ProgressDeadline {
  readonly #controller = new AbortController();
  readonly #clock: DeadlineClock;
  #armed: Armed | undefined;
  #state: "idle" | "running" | "stopped" = "idle";

  constructor(clock: DeadlineClock) {
    this.#clock = clock;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get timeoutMs(): number {
    return this.#clock.timeoutMs;
  }

  /** The deadline passed and the signal aborted. */
  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  /** `body` passed through; each chunk taken, and its end, restart the deadline. */
  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          this.#restart();
          controller.enqueue(chunk);
        },
        flush: () => this.#restart(),
      }),
    );
  }

  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#restart();
  }

  stop(): void {
    this.#state = "stopped";
    this.#armed?.cancel();
  }

  #restart(): void {
    if (this.#state !== "running") return;
    this.#armed?.cancel();
    this.#armed = this.#clock.arm(this.#abort);
  }

  readonly #abort = (): void => this.#controller.abort();
}
