/** A figure over rounds: its median and its range. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** "12.3 (11.9–13.0)": median, then min–max. */
export function formatSpread(values: readonly number[], digits = 1, unit = ""): string {
  const { median, min, max } = spread(values);
  if (Number.isNaN(median)) return "–";
  const f = (value: number) => format(value, digits);
  if (values.length === 1) return `${f(median)}${unit}`;
  return `${f(median)}${unit} (${f(min)}–${f(max)})`;
}

export function format(value: number, digits = 1): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
