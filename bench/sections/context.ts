/** What every load section is given by the driver. */
import type { Plan } from "../lib/harness.ts";
import type { LoadGenerator } from "../lib/load.ts";

export interface SectionContext {
  readonly generator: LoadGenerator;
  readonly plan: Plan;
  readonly log: (line: string) => void;
}
