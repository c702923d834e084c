import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PERFORMANCE_DOC,
  performanceBlocks,
  readResults,
  renderPerformanceDoc,
} from '../../bench/summary.ts';

/**
 * docs/performance.md quotes the committed run (bench/results.json): `npm run bench` rewrites its generated
 * blocks after a full run, `node bench/summary.ts --write` from the committed results.
 */

const page = readFileSync(PERFORMANCE_DOC, 'utf8');

describe('docs/performance.md', () => {
  const results = readResults();

  it('quotes every generated block from bench/results.json (node bench/summary.ts --write when this fails)', () => {
    expect(page).toBe(renderPerformanceDoc(page, results));
  });

  it('has every block, so none can silently stop being checked', () => {
    for (const [name] of performanceBlocks(results)) {
      expect(page.split(`<!-- generated:${name} -->`)).toHaveLength(2);
    }
    expect(() => renderPerformanceDoc(page.replace('<!-- generated:bench-growth -->', ''), results)).toThrow(
      'docs/performance.md: expected exactly one "<!-- generated:bench-growth -->"',
    );
  });

  it('fails on a figure edited by hand, and on results the page does not quote', () => {
    const [, summary] = performanceBlocks(results)[0] as readonly [string, string];
    const figure = /\| (\d+\.\d) ms /.exec(summary)?.[1] as string;
    const edited = page.replace(`| ${figure} ms `, `| ${(Number(figure) / 2).toFixed(1)} ms `);
    expect(edited).not.toBe(page);
    expect(renderPerformanceDoc(edited, results)).not.toBe(edited);

    const otherRun = structuredClone(results);
    (otherRun.machine as { gitCommit: string }).gitCommit = '0000000';
    expect(renderPerformanceDoc(page, otherRun)).not.toBe(page);
  });

  it('comes from a complete run that recorded its machine', () => {
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.nodeVersion).toMatch(/^v24\./);
    expect(Object.keys(results.sections).sort()).toEqual(
      [
        'batchLatency',
        'coldStart',
        'costGrowth',
        'costModel',
        'localThroughput',
        'memory',
        'requestsPerObject',
        'sdkCandidates',
        'suiteTimes',
      ].sort(),
    );
  });
});
