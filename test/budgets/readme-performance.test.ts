import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  readResults,
  renderCandidates,
  renderCostModel,
  renderGrowth,
  renderSideBySide,
  renderSummary,
} from '../../bench/summary.ts';

/**
 * The README's performance figures are the committed run's (bench/results.json), rendered by bench/summary.ts:
 * after `npm run bench`, paste `node bench/summary.ts` output into the README's performance section.
 */

const readme = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf('<!-- section:performance -->'),
  readme.indexOf('<!-- /section:performance -->'),
);

describe('README performance section', () => {
  const results = readResults();

  it('quotes the summary of bench/results.json verbatim', () => {
    expect(section).toContain(renderSummary(results));
  });

  it.each([
    ['the processor next to the reference handlers', renderSideBySide],
    ['the SDK settings measured one at a time', renderCandidates],
    ['how cost grows', renderGrowth],
    ['the cost model', renderCostModel],
  ])('quotes %s from bench/results.json verbatim', (_, render) => {
    expect(section).toContain(render(results));
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
