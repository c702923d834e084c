import type {
  ActionExecutionDetail,
  PipelineExecutionSummary,
  RuleExecutionDetail,
  StageState,
} from '@aws-sdk/client-codepipeline';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../../lib/config/app-config.ts';
import {
  commitMessageOf,
  currentDeployments,
  DEFAULT_FIX_PATTERN,
  describeExecution,
  doraMetrics,
  executionsNeedingRules,
  nearestRank,
  principal,
} from '../../../tools/lib/delivery-metrics.ts';
import type { Execution, PipelineHistory } from '../../../tools/lib/pipeline-history.ts';
import { pipelineLayout } from '../../../tools/promotions.ts';

const layout = pipelineLayout(loadAppConfig({}));
const PROD_DEPLOY = 's3-object-processor-prod-processor.Deploy';
const PROD_APPROVAL = 's3-object-processor-prod-processor.ApproveDeploy';
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
    /** Who approved the prod deploy, an hour before it. */
    approvedBy?: string;
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
    if (r.approvedBy) {
      actions.push({
        pipelineExecutionId: r.id,
        stageName: 'Prod',
        actionName: PROD_APPROVAL,
        status: 'Succeeded',
        startTime: hour(r.deployed - 1.5),
        lastUpdateTime: hour(r.deployed - 1),
        updatedBy: r.approvedBy,
        input: { actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' } },
      });
    }
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
    // 6 values: p90 = rank ceil(5.4) = 6, where rounding would give rank 5; the median is rank 3.
    expect(nearestRank([60, 10, 50, 20, 40, 30], 90)).toBe(60);
    expect(nearestRank([60, 10, 50, 20, 40, 30], 50)).toBe(30);
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

  it('counts a deployment its bake time rolled back as failed though its smoke test passed, restored by the rollback', () => {
    // "baked" passed its smoke test at 20; prod's health alarm then went to ALARM within the bake time, and the
    // on-success condition rolled Prod back to "good" (deploy at 20.5). 2 deployments, 1 failed, restored in 30 min.
    const m = doraMetrics(
      history([
        { id: 'good', deployed: 10, smoke: 'Succeeded', message: 'feat: good', authored: 9 },
        { id: 'baked', deployed: 20, smoke: 'Succeeded', message: 'feat: baked', authored: 19 },
        { id: 'back', deployed: 20.5, smoke: 'Succeeded', message: 'feat: good', rollbackTo: 'good' },
      ]),
      layout,
      window,
      fix,
    );
    expect(m.deploymentFrequency.deployments).toBe(2);
    expect(m.changeFailureRate.failures).toEqual([
      { executionId: 'baked', deployedAt: hour(20), reasons: ['rolled back by back'] },
    ]);
    expect(m.timeToRestore.restored.map((r) => [r.restoredBy, r.durationMs / 60_000])).toEqual([
      ['back', 30],
    ]);
  });
  it('counts nothing against a release rejected at the approval, when the failed stage then rolls back', () => {
    // docs/promotion.md: a rejection fails Prod, and a failed Prod rolls back to "good". The rejected release
    // deployed nothing, so it is no deployment and no failure; the rollback is no deployment either.
    const base = history([
      { id: 'good', deployed: 10, smoke: 'Succeeded', message: 'feat: good', authored: 9 },
      { id: 'back', deployed: 20.5, smoke: 'Succeeded', message: 'feat: good', rollbackTo: 'good' },
    ]);
    const rejected: Execution = {
      id: 'rejected',
      summary: {
        pipelineExecutionId: 'rejected',
        status: 'Failed',
        startTime: hour(17),
        executionType: 'STANDARD',
      },
      actions: [
        {
          pipelineExecutionId: 'rejected',
          stageName: 'Prod',
          actionName: PROD_APPROVAL,
          status: 'Failed',
          startTime: hour(19),
          lastUpdateTime: hour(20),
          updatedBy: 'arn:aws:sts::111111111111:assumed-role/Approvers/bob',
          input: { actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' } },
        },
      ],
    };
    const executions = [...base.executions, rejected].sort(
      (a, b) => (b.summary?.startTime?.getTime() ?? 0) - (a.summary?.startTime?.getTime() ?? 0),
    );
    const h: PipelineHistory = { ...base, executions, byId: new Map(executions.map((e) => [e.id, e])) };

    const m = doraMetrics(h, layout, window, fix);
    expect(m.deploymentFrequency.deployments).toBe(1);
    expect(m.changeFailureRate.failures).toEqual([]);
    expect(m.timeToRestore.restored).toEqual([]);
    const report = describeExecution(rejected, h, layout);
    expect(report.outcome.kind).toBe('rejected');
    expect(report.outcome.text).toBe(
      'rejected at Prod.ApproveDeploy by bob (Approvers); rolled back by back',
    );
  });
});

describe('currentDeployments', () => {
  it("shows a rollback's own approval, and its target's when it ran none", () => {
    const prodOf = (h: PipelineHistory) =>
      currentDeployments(h, layout).find((s) => s.stage.isProduction)?.deployment?.approval;
    const runs = [
      { id: 'good', deployed: 10, smoke: 'Succeeded' as const, message: 'feat: good', approvedBy: 'alice' },
      { id: 'bad', deployed: 20, smoke: 'Failed' as const, message: 'feat: bad', approvedBy: 'alice' },
    ];
    expect(
      prodOf(history([...runs, { id: 'back', deployed: 21.5, message: 'feat: good', rollbackTo: 'good' }])),
    ).toMatchObject({ by: 'alice', at: hour(9), executionId: 'good' });
    expect(
      prodOf(
        history([
          ...runs,
          { id: 'back', deployed: 21.5, message: 'feat: good', rollbackTo: 'good', approvedBy: 'bob' },
        ]),
      ),
    ).toMatchObject({ by: 'bob', at: hour(20.5), executionId: 'back' });
  });
});

describe('stage conditions', () => {
  /** A standard execution that ran staging and failed with no failed action, with the rules it ran. */
  function stopped(rules: Partial<RuleExecutionDetail>[], state: StageState[] = []): PipelineHistory {
    const id = 'blocked';
    const execution: Execution = {
      id,
      summary: { pipelineExecutionId: id, status: 'Failed', startTime: hour(1), executionType: 'STANDARD' },
      actions: [
        {
          pipelineExecutionId: id,
          stageName: 'Staging',
          actionName: 'IntegrationTests',
          status: 'Succeeded',
          startTime: hour(2),
          lastUpdateTime: hour(2.2),
        },
      ],
      rules: rules.map((r, i) => ({
        pipelineExecutionId: id,
        status: 'Failed',
        startTime: hour(3),
        lastUpdateTime: hour(3 + i / 60),
        input: {
          ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'CloudWatchAlarm', version: '1' },
          configuration: { AlarmName: 'health', AlarmStates: 'ALARM,INSUFFICIENT_DATA' },
        },
        ...r,
      })),
    };
    return {
      pipelineName: 'p',
      executions: [execution],
      byId: new Map([[id, execution]]),
      state: { stageStates: state },
      pages: { executions: 1, actions: 1 },
      oldestRead: hour(0),
      complete: true,
    };
  }
  const outcomeOf = (h: PipelineHistory) => {
    const e = h.executions[0] as Execution;
    return describeExecution(e, h, layout).outcome;
  };

  it('names every entry rule that failed, with the alarm states the rule fails in', () => {
    const h = stopped([
      { stageName: 'Prod', ruleName: 'ProdEntryPreviousStageHealthy' },
      { stageName: 'Prod', ruleName: 'ProdEntryOwnHealthy' },
    ]);
    expect(executionsNeedingRules(h.executions)).toEqual(new Set(['blocked']));
    expect(outcomeOf(h)).toMatchObject({
      kind: 'blocked',
      stage: 'Prod',
      text: 'blocked at Prod entry: ProdEntryPreviousStageHealthy (alarm health in ALARM or INSUFFICIENT_DATA), ProdEntryOwnHealthy (alarm health in ALARM or INSUFFICIENT_DATA)',
    });
  });

  it('says no more than that a condition failed for a rule the layout does not name, and nothing for passed rules', () => {
    expect(
      outcomeOf(
        stopped([
          {
            stageName: 'Prod',
            ruleName: 'DeploymentWindow',
            input: { ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'DeploymentWindow' } },
          },
        ]),
      ),
    ).toMatchObject({
      kind: 'failed',
      condition: { type: undefined, stage: 'Prod' },
      text: 'failed a condition of Prod: DeploymentWindow',
    });
    expect(
      outcomeOf(stopped([{ stageName: 'Staging', ruleName: 'StagingBakeTime', status: 'Succeeded' }])),
    ).toEqual({ kind: 'failed', stage: 'Staging', text: 'failed: no failed action was read' });
  });

  it('shows an execution whose stage bakes, from the pipeline state, as in progress there', () => {
    const h = stopped(
      [],
      [
        {
          stageName: 'Prod',
          latestExecution: { pipelineExecutionId: 'blocked', status: 'InProgress' },
          onSuccessConditionState: {
            latestExecution: { status: 'InProgress' },
            conditionStates: [
              {
                latestExecution: { status: 'InProgress' },
                ruleStates: [
                  {
                    ruleName: 'ProdBakeTime',
                    latestExecution: { status: 'InProgress', lastStatusChange: hour(4) },
                  },
                ],
              },
            ],
          },
        },
      ],
    );
    const e = h.executions[0] as Execution;
    (e.summary as PipelineExecutionSummary).status = 'InProgress';
    expect(outcomeOf(h)).toEqual({
      kind: 'in-progress',
      stage: 'Prod',
      text: 'in progress: bake time in Prod (ProdBakeTime) since 2025-06-01T04:00Z',
    });
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
