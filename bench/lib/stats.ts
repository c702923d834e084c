/** Summary of repeated timings: the median is what the report uses; min and max show the spread. */
export interface TimingSummary {
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  // Even counts average the middle pair so the result does not depend on which of the two the sort put first.
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarise(valuesMs: readonly number[]): TimingSummary {
  return {
    runs: valuesMs.length,
    medianMs: round(median(valuesMs)),
    minMs: round(Math.min(...valuesMs)),
    maxMs: round(Math.max(...valuesMs)),
  };
}

/** Two decimals: sub-0.01 ms differences are noise on a shared machine and only clutter results.json. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
