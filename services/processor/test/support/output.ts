/**
 * Captures what Powertools writes (JSON log lines and EMF metric documents go to stdout/stderr through its own
 * Console), so that tests can assert on the structured output the way CloudWatch would receive it.
 */
import { vi } from 'vitest';

export interface CapturedOutput {
  /** Every JSON line written so far. */
  readonly lines: () => Record<string, unknown>[];
  /** Log lines (Powertools Logger) with the given message prefix. */
  readonly logs: (messagePrefix?: string) => Record<string, unknown>[];
  /** Sum of each metric's values over every EMF document written so far. */
  readonly metricTotals: () => Record<string, number>;
  /** Every value written for a metric (EMF arrays flattened). */
  readonly metricValues: (name: string) => number[];
  readonly clear: () => void;
  readonly restore: () => void;
}

export function captureOutput(): CapturedOutput {
  let chunks: string[] = [];
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(record);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(record);
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const emf = () => lines().filter((l) => '_aws' in l);
  const metricNames = (doc: Record<string, unknown>): string[] => {
    const aws = doc._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
    return aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name));
  };
  const metricValues = (name: string) =>
    emf().flatMap((doc) =>
      metricNames(doc).includes(name) ? ([] as number[]).concat(doc[name] as number) : [],
    );
  return {
    lines,
    logs: (prefix = '') =>
      lines().filter((l) => typeof l.message === 'string' && (l.message as string).startsWith(prefix)),
    metricTotals: () => {
      const totals: Record<string, number> = {};
      for (const doc of emf()) {
        for (const name of metricNames(doc)) {
          totals[name] =
            (totals[name] ?? 0) + ([] as number[]).concat(doc[name] as number).reduce((a, b) => a + b, 0);
        }
      }
      return totals;
    },
    metricValues,
    clear: () => {
      chunks = [];
    },
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}
