import type { ActionExecutionDetail, PipelineExecutionSummary } from '@aws-sdk/client-codepipeline';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import {
  commitMessageOf,
  DEFAULT_FIX_PATTERN,
  doraMetrics,
  nearestRank,
  principal,
} from '../../tools/lib/delivery-metrics.ts';
import type { Execution, PipelineHistory } from '../../tools/lib/pipeline-history.ts';
import { pipelineLayout } from '../../tools/promotions.ts';

const layout = pipelineLayout(loadAppConfig({}));
const PROD_DEPLOY = 's3-object-processor-prod-processor.Deploy';
const hour = (h: number) => new Date(Date.UTC(2025, 5, 1) + h * 3_600_000);

/** A minimal history: each execution a prod deploy at `deployed` (hours after 06-01), its smoke test, its commit. */
function history(
  runs: {
    id: string;
    deployed: number;
    smoke?: 'Succeeded' | 'Failed';
    message: string;
    authored?: number;
    created?: number;
    rollbackTo?: string;
  }[],
): PipelineHistory {
  const executions: Execution[] = runs.map((r) => {
    const actions: ActionExecutionDetail[] = [];
    if (r.smoke) {
      actions.push({
        pipelineExecutionId: r.id,
        stageName: 'Prod',
        actionName: 'SmokeTest',
        status: r.smoke,
        startTime: hour(r.deployed),
        lastUpdateTime: hour(r.deployed + 0.1),
      });
    }
    actions.push({
      pipelineExecutionId: r.id,
      stageName: 'Prod',
      actionName: PROD_DEPLOY,
      status: 'Succeeded',
      startTime: hour(r.deployed - 0.2),
      lastUpdateTime: hour(r.deployed),
    });
    if (!r.rollbackTo) {
      actions.push({
        pipelineExecutionId: r.id,
        stageName: 'Source',
        actionName: 'example-org_s3-object-processor',
        status: 'Succeeded',
        startTime: hour(r.deployed - 3),
        lastUpdateTime: hour(r.deployed - 3),
        output: {
          outputVariables: {
            CommitId: `${r.id}000`,
            CommitMessage: r.message,
            ...(r.authored === undefined ? {} : { AuthorDate: hour(r.authored).toISOString() }),
          },
        },
      });
    }
    const summary: PipelineExecutionSummary = {
      pipelineExecutionId: r.id,
      status: 'Succeeded',
      // A rollback starts when the failure it answers has happened; a release hours before its deploy.
      startTime: hour(r.deployed - (r.rollbackTo ? 0.3 : 3)),
      executionType: r.rollbackTo ? 'ROLLBACK' : 'STANDARD',
      ...(r.rollbackTo ? { rollbackMetadata: { rollbackTargetPipelineExecutionId: r.rollbackTo } } : {}),
    };
    return {
      id: r.id,
      summary,
      actions,
      ...(r.created === undefined
        ? {}
        : { detail: { pipelineExecutionId: r.id, artifactRevisions: [{ created: hour(r.created) }] } }),
    };
  });
  executions.sort((a, b) => (b.summary?.startTime?.getTime() ?? 0) - (a.summary?.startTime?.getTime() ?? 0));
  return {
    pipelineName: 'p',
    executions,
    byId: new Map(executions.map((e) => [e.id, e])),
    state: {},
    pages: { executions: 1, actions: 1 },
    oldestRead: hour(-10),
    complete: true,
  };
}

const window = { from: hour(0).getTime(), to: hour(100).getTime() };
const fix = new RegExp(DEFAULT_FIX_PATTERN, 'i');

describe('nearestRank', () => {
  it('is the smallest value at least p % of the values do not exceed', () => {
    // 4 values: the median is rank ceil(2) = 2, the lower middle (not the 2.5 an average of the middle two gives);
    // p90 is rank ceil(3.6) = 4.
    expect(nearestRank([4, 1, 3, 2], 50)).toBe(2);
    expect(nearestRank([4, 1, 3, 2], 90)).toBe(4);
    expect(nearestRank([7], 90)).toBe(7);
    expect(nearestRank([], 50)).toBeUndefined();
    // 10 values 1..10: p90 = rank 9.
    expect(nearestRank([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 90)).toBe(9);
  });
});

describe('doraMetrics', () => {
  it('falls back to the artifact revision time when the source action gave no AuthorDate, and names deployments with neither', () => {
    const m = doraMetrics(
      history([
        { id: 'a', deployed: 10, smoke: 'Succeeded', message: 'feat: a', authored: 4 },
        { id: 'b', deployed: 20, smoke: 'Succeeded', message: 'feat: b', created: 18 },
        { id: 'c', deployed: 30, smoke: 'Succeeded', message: 'feat: c' },
      ]),
      layout,
      window,
      fix,
    );
    expect(
      m.leadTime.samples.map((s) => [s.executionId, s.leadTimeMs / 3_600_000, s.commitTimeSource]),
    ).toEqual([
      ['a', 6, 'AuthorDate'],
      ['b', 2, 'artifactRevision.created'],
    ]);
    expect(m.leadTime.withoutCommitTime).toEqual(['c']);
    expect(m.deploymentFrequency.deployments).toBe(3);
  });

  it('keeps a failure open until a healthy deploy, and a fix that needs a fix does not restore', () => {
    // a fails (b is a fix); b fails too (c is a fix); c is healthy: a and b are both restored by c.
    // d fails its smoke test at 90 and nothing follows: open for 100 - 90 = 10 h.
    const m = doraMetrics(
      history([
        { id: 'a', deployed: 10, smoke: 'Succeeded', message: 'feat: a', authored: 9 },
        { id: 'b', deployed: 20, smoke: 'Succeeded', message: 'fix: part one', authored: 19 },
        { id: 'c', deployed: 30, smoke: 'Succeeded', message: 'hotfix(store): part two', authored: 29 },
        { id: 'd', deployed: 90, smoke: 'Failed', message: 'feat: d', authored: 89 },
      ]),
      layout,
      window,
      fix,
    );
    expect(m.changeFailureRate.failures.map((f) => f.executionId)).toEqual(['a', 'b', 'd']);
    expect(m.changeFailureRate.rate).toBe(3 / 4);
    expect(
      m.timeToRestore.restored.map((r) => [r.executionId, r.restoredBy, r.durationMs / 3_600_000]),
    ).toEqual([
      ['a', 'c', 20],
      ['b', 'c', 10],
    ]);
    expect(m.timeToRestore.open.map((r) => [r.executionId, r.durationMs / 3_600_000])).toEqual([['d', 10]]);
    // Median of 10 h and 20 h by nearest rank: rank 1 of 2 = 10 h.
    expect(m.timeToRestore.medianMs).toBe(10 * 3_600_000);
  });

  it('counts a rollback that ran no smoke test as restoring by its deploy, and never as a deployment', () => {
    const m = doraMetrics(
      history([
        { id: 'good', deployed: 10, smoke: 'Succeeded', message: 'feat: good', authored: 9 },
        { id: 'bad', deployed: 20, smoke: 'Failed', message: 'feat: bad', authored: 19 },
        { id: 'back', deployed: 21.5, message: 'feat: good', rollbackTo: 'good' },
      ]),
      layout,
      window,
      fix,
    );
    expect(m.deploymentFrequency.deployments).toBe(2);
    expect(m.changeFailureRate.failures).toEqual([
      { executionId: 'bad', deployedAt: hour(20), reasons: ['SmokeTest failed', 'rolled back by back'] },
    ]);
    expect(m.timeToRestore.restored.map((r) => [r.restoredBy, r.durationMs / 60_000])).toEqual([
      ['back', 90],
    ]);
  });
});

describe('reading the API', () => {
  it('finds the commit message a connection wraps in JSON, and takes any other summary as the message', () => {
    expect(commitMessageOf('{"ProviderType":"GitHub","CommitMessage":"fix: x"}')).toBe('fix: x');
    expect(commitMessageOf('Edited template.yml')).toBe('Edited template.yml');
    expect(commitMessageOf('{not json')).toBe('{not json');
    expect(commitMessageOf(undefined)).toBeUndefined();
  });

  it('recognises fixes by the default pattern, and not features that mention fixing', () => {
    for (const message of ['fix: x', 'Fix(store)!: x', 'hotfix: x', 'revert: x', 'Revert "feat: x"']) {
      expect(fix.test(message), message).toBe(true);
    }
    for (const message of [
      'feat: fix the docs',
      'fixture: more data',
      'chore: prefix keys',
      'docs: fix: typo',
    ]) {
      expect(fix.test(message), message).toBe(false);
    }
  });

  it('names the person behind an approval ARN', () => {
    expect(
      principal('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Release_ab/alice@example.com'),
    ).toBe('alice@example.com (AWSReservedSSO_Release_ab)');
    expect(principal('arn:aws:iam::111111111111:user/team/carol')).toBe('carol (IAM user)');
    expect(principal('arn:aws:iam::111111111111:root')).toBe('arn:aws:iam::111111111111:root');
    expect(principal(undefined)).toBe('unknown');
  });
});
