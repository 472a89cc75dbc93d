/**
 * An immutable `Baggage` over a Map the parser fills directly. The API's `createBaggage` takes a
 * plain object and copies it twice (`Object.entries`, then a Map copied again by its
 * constructor): for a five-member header that was a third of the parse. Same behaviour as the
 * API's implementation (entries copied on read, a new Baggage per change), checked against it in
 * tests/unit/baggage_test.ts.
 */
import type { Baggage, BaggageEntry } from "@opentelemetry/api";

export class EntriesBaggage implements Baggage {
  readonly #entries: Map<string, BaggageEntry>;

  /** Takes `entries` over: the caller must not change it afterwards. */
  constructor(entries: Map<string, BaggageEntry>) {
    this.#entries = entries;
  }

  getEntry(key: string): BaggageEntry | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined ? undefined : { ...entry };
  }

  getAllEntries(): [string, BaggageEntry][] {
    return Array.from(this.#entries.entries());
  }

  setEntry(key: string, entry: BaggageEntry): EntriesBaggage {
    return new EntriesBaggage(new Map(this.#entries).set(key, entry));
  }

  removeEntry(key: string): EntriesBaggage {
    const entries = new Map(this.#entries);
    entries.delete(key);
    return new EntriesBaggage(entries);
  }

  removeEntries(...keys: string[]): EntriesBaggage {
    const entries = new Map(this.#entries);
    for (const key of keys) entries.delete(key);
    return new EntriesBaggage(entries);
  }

  clear(): EntriesBaggage {
    return new EntriesBaggage(new Map());
  }
}
