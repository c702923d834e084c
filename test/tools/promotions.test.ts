import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ActionExecutionDetail,
  CodePipelineClient,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  ListRuleExecutionsCommand,
  type PipelineExecutionSummary,
  type RuleExecutionDetail,
} from '@aws-sdk/client-codepipeline';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, explainAwsError, ToolError } from '../../tools/lib/cli.ts';
import { formatDuration, PROMOTIONS_HELP, promotions } from '../../tools/promotions.ts';
import {
  ACTION_EXECUTIONS,
  ALICE,
  at,
  COMMITS,
  EXECUTION_SUMMARIES,
  ID,
  PIPELINE,
  PIPELINE_STATE,
  pipelineExecution,
  REGION,
  RULE_EXECUTIONS,
} from './fixtures/pipeline-history.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const NOW = at('06-30', '12:00');
const HOUR = 3600;
const cpMock = mockClient(CodePipelineClient);

/** Pages as CodePipeline hands them out, each with the token of the next; a token past the last is never asked. */
function paged<T>(items: readonly T[], size: number, prefix: string, lastToken?: string) {
  const pages = new Map<string | undefined, { items: T[]; nextToken?: string }>();
  for (let i = 0; i * size < items.length; i += 1) {
    const last = (i + 1) * size >= items.length;
    const nextToken = last ? lastToken : `${prefix}-${i + 2}`;
    pages.set(i === 0 ? undefined : `${prefix}-${i + 1}`, {
      items: items.slice(i * size, (i + 1) * size),
      ...(nextToken ? { nextToken } : {}),
    });
  }
  return (token: string | undefined) => {
    const page = pages.get(token);
    if (!page) throw new Error(`the tool asked for page ${token}, which the test never handed out`);
    return page;
  };
}

function recordedHistory() {
  // 16 executions in pages of 8: the second page reaches back before the window (E0, 05-27) and still offers a
  // third page, which must not be read.
  const executions = paged<PipelineExecutionSummary>(
    EXECUTION_SUMMARIES,
    8,
    'executions',
    'executions-older',
  );
  // 199 action executions in pages of 50; the last offers an older page, which must not be read either.
  const actions = paged<ActionExecutionDetail>(ACTION_EXECUTIONS, 50, 'actions', 'actions-older');
  // Rule executions per execution (the only filter the tool uses), in pages of 2.
  const rules = new Map<string, ReturnType<typeof paged<RuleExecutionDetail>>>();
  const rulesOf = (id: string) => {
    let pages = rules.get(id);
    if (!pages) {
      pages = paged(
        RULE_EXECUTIONS.filter((r) => r.pipelineExecutionId === id),
        2,
        `rules-${id.slice(0, 8)}`,
      );
      rules.set(id, pages);
    }
    return pages;
  };
  cpMock.on(GetPipelineStateCommand).resolves(PIPELINE_STATE);
  cpMock.on(ListPipelineExecutionsCommand).callsFake((input) => {
    const page = executions(input.nextToken);
    return {
      pipelineExecutionSummaries: page.items,
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  });
  cpMock.on(ListActionExecutionsCommand).callsFake((input) => {
    const page = actions(input.nextToken);
    return { actionExecutionDetails: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  });
  cpMock.on(GetPipelineExecutionCommand).callsFake((input) => pipelineExecution(input.pipelineExecutionId));
  cpMock.on(ListRuleExecutionsCommand).callsFake((input) => {
    const id = input.filter?.pipelineExecutionId;
    if (!id || input.filter?.latestInPipelineExecution)
      throw new Error('the tool listed rules without the per-execution filter');
    const page = rulesOf(id)(input.nextToken);
    return { ruleExecutionDetails: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  });
}

const AUTHORS: Record<string, string> = {
  [COMMITS.C5?.id ?? '']: 'Bob Builder',
  [COMMITS.C10?.id ?? '']: 'Alice Example',
};
const deps = () => ({
  codePipeline: new CodePipelineClient({ region: REGION }),
  clock: fakeClock(NOW.getTime()),
  env: NO_REGION_ENV,
  authors: async (id: string) => AUTHORS[id],
});

async function runJson(extra: string[] = []) {
  const io = captureIo();
  const code = await promotions(['--json', ...extra], io, deps());
  expect(code).toBe(0);
  return { json: JSON.parse(io.lines.join('\n')), io };
}

describe('promotions', () => {
  afterEach(() => cpMock.reset());

  it('pages both listings only as far as the window needs, and fetches details only for what it shows or measures', async () => {
    recordedHistory();
    const { io } = await runJson();

    expect(cpMock.commandCalls(GetPipelineStateCommand).map((c) => c.args[0].input)).toEqual([
      { name: PIPELINE },
    ]);
    expect(cpMock.commandCalls(ListPipelineExecutionsCommand).map((c) => c.args[0].input.nextToken)).toEqual([
      undefined,
      'executions-2',
    ]);
    expect(cpMock.commandCalls(ListActionExecutionsCommand).map((c) => c.args[0].input)).toEqual(
      [undefined, 'actions-2', 'actions-3', 'actions-4'].map((nextToken) => ({
        pipelineName: PIPELINE,
        maxResults: 100,
        nextToken,
      })),
    );
    // What each stage runs now (E10 in dev and staging, the rollback E7 in prod) and every prod deploy in the
    // window (E1, E3b, E4, E5, E6 and the rollback E7); not E0 (before the window) nor the executions that never
    // reached prod.
    expect(
      new Set(
        cpMock.commandCalls(GetPipelineExecutionCommand).map((c) => c.args[0].input.pipelineExecutionId),
      ),
    ).toEqual(new Set([ID.E10, ID.E7, ID.E1, ID.E3b, ID.E4, ID.E5, ID.E6]));
    expect(cpMock.commandCalls(GetPipelineExecutionCommand)).toHaveLength(7);
    // Rule executions only for the listed executions that failed with no failed action, every page of each: E8b
    // (5 rules: staging's two entry rules and bake time, prod's two entry rules; 3 pages of 2) and E7s (staging's
    // entry rules and bake time; 2 pages). Not E2, E6 or E8, whose failed action says why they stopped.
    expect(
      cpMock
        .commandCalls(ListRuleExecutionsCommand)
        .map((c) => `${c.args[0].input.filter?.pipelineExecutionId} ${c.args[0].input.nextToken ?? '-'}`)
        .sort(),
    ).toEqual(
      [
        `${ID.E8b} -`,
        `${ID.E8b} rules-9a0b1c2d-2`,
        `${ID.E8b} rules-9a0b1c2d-3`,
        `${ID.E7s} -`,
        `${ID.E7s} rules-7a3c5e9f-2`,
      ].sort(),
    );
    expect(
      cpMock.commandCalls(ListRuleExecutionsCommand).every((c) => c.args[0].input.pipelineName === PIPELINE),
    ).toBe(true);
    // Progress goes to stderr, one line a page of each listing.
    expect(io.progressLines).toHaveLength(2 + 4);
    expect(io.progressLines[0]).toBe('read 8 executions (page 1), back to 2025-06-20T09:00:00.000Z');
    expect(io.progressLines.at(-1)).toBe(
      'read 199 action executions (page 4), back to 2025-05-27T09:00:00.000Z',
    );
  });

  it('computes the four DORA metrics from the history, as worked out by hand', async () => {
    recordedHistory();
    const { json } = await runJson();
    const m = json.metrics;

    // Window: 2025-05-31 12:00 to 2025-06-30 12:00. Prod deployments (successful Prod Deploy actions of standard
    // executions in it): E1 06-02 14:00, E3b 06-10 13:10, E4 06-12 15:00, E5 06-18 16:00, E6 06-20 13:00 = 5.
    // Not E0 (05-27 10:45, before the window), not the rollback E7, not E8 (rejected before the deploy), not E8b
    // (an entry condition kept it out of Prod: it ran no prod action), not E2 or E7s (stopped in Staging, by a
    // failed test and by the bake-time alarm; their rollbacks E2r and E7r redeployed Staging only). None of these
    // timestamps moved with the new prod layout (change set, review and approval before the drift check and the
    // deploy), so every figure below is the one worked out for the old layout.
    expect(m.stage).toBe('prod');
    expect(m.deploymentFrequency.deployments).toBe(5);
    expect(m.deploymentFrequency.perDay).toBeCloseTo(5 / 30, 10);
    expect(m.deploymentFrequency.perWeek).toBeCloseTo((5 / 30) * 7, 10);

    // Lead time = deploy finish - AuthorDate of the commit:
    //   E1  06-02 14:00 - 06-01 16:00 = 22h   = 79200 s
    //   E3b 06-10 13:10 - 06-10 08:40 = 4h30m = 16200 s
    //   E4  06-12 15:00 - 06-11 13:00 = 26h   = 93600 s
    //   E5  06-18 16:00 - 06-18 09:30 = 6h30m = 23400 s
    //   E6  06-20 13:00 - 06-19 18:00 = 19h   = 68400 s
    // sorted 16200, 23400, 68400, 79200, 93600: median = rank ceil(0.5 x 5) = 3rd = 68400 (19h);
    // p90 = rank ceil(0.9 x 5) = 5th = 93600 (1d 2h). (Interpolating would give a p90 of 24.4h; reading the
    // artifact's "created" time instead of AuthorDate would give 4h59m for E1.)
    expect(
      m.leadTime.deployments.map((d: { executionId: string; leadTimeSeconds: number }) => [
        d.executionId,
        d.leadTimeSeconds,
      ]),
    ).toEqual([
      [ID.E1, 22 * HOUR],
      [ID.E3b, 4.5 * HOUR],
      [ID.E4, 26 * HOUR],
      [ID.E5, 6.5 * HOUR],
      [ID.E6, 19 * HOUR],
    ]);
    expect(m.leadTime.medianSeconds).toBe(19 * HOUR);
    expect(m.leadTime.p90Seconds).toBe(26 * HOUR);
    expect(
      m.leadTime.deployments.every((d: { commitTimeSource: string }) => d.commitTimeSource === 'AuthorDate'),
    ).toBe(true);
    expect(m.leadTime.withoutCommitTime).toEqual([]);

    // Failed: E4 (the next prod deployment, E5, is "fix: retry throttled writes") and E6 (its SmokeTest failed,
    // and the rollback E7 undid it). E1 is a fix itself, but of E0, which is outside the window. 2 of 5 = 40 %.
    // The prod health alarm that blocked E8b on 06-27 is blamed on no deployment (E7's restore stays healthy), and
    // the Staging rollbacks E2r and E7r undo no prod deployment.
    expect(m.changeFailureRate.failed).toBe(2);
    expect(m.changeFailureRate.deployments).toBe(5);
    expect(m.changeFailureRate.rate).toBeCloseTo(0.4, 10);
    expect(
      m.changeFailureRate.failures.map((f: { executionId: string; reasons: string[] }) => [
        f.executionId,
        f.reasons,
      ]),
    ).toEqual([
      [ID.E4, ['followed by fix 61b4807d "fix: retry throttled writes"']],
      [ID.E6, ['SmokeTest failed', 'rolled back by 83d6a29f']],
    ]);

    // Restored: E4 by E5 (the next healthy prod deploy) 06-18 16:00 - 06-12 15:00 = 6d 1h = 522000 s;
    // E6 by the rollback E7: 06-20 14:50 - 13:00 = 1h50m = 6600 s (the rollback waited for its approval, 14:34,
    // within that). Median of 2 by nearest rank = the 1st = 6600 s.
    expect(
      m.timeToRestore.restored.map(
        (r: { executionId: string; restoredBy: string; durationSeconds: number }) => [
          r.executionId,
          r.restoredBy,
          r.durationSeconds,
        ],
      ),
    ).toEqual([
      [ID.E4, ID.E5, 145 * HOUR],
      [ID.E6, ID.E7, 110 * 60],
    ]);
    expect(m.timeToRestore.medianSeconds).toBe(6600);
    expect(m.timeToRestore.open).toEqual([]);
  });

  it('says what each stage runs, since when, deployed by which execution, tested and (prod) approved by whom', async () => {
    recordedHistory();
    const { json } = await runJson();

    expect(Object.keys(json)).toEqual([
      'pipeline',
      'generatedAt',
      'window',
      'history',
      'stages',
      'executions',
      'metrics',
    ]);
    expect(json.pipeline).toEqual({ name: PIPELINE, region: REGION });
    expect(json.window).toEqual({
      days: 30,
      from: '2025-05-31T12:00:00.000Z',
      to: '2025-06-30T12:00:00.000Z',
    });
    expect(json.history).toEqual({
      executionsRead: 16,
      pages: { executions: 2, actions: 4 },
      oldestRead: '2025-05-27T09:00:00.000Z',
      complete: true,
    });
    const [dev, staging, prod] = json.stages;
    expect(dev).toMatchObject({
      stage: 'dev',
      pipelineStage: 'Dev',
      transitionEnabled: true,
      deployed: {
        commit: {
          id: COMMITS.C10?.id,
          message: 'feat: tag objects by their prefix',
          author: 'Alice Example',
          time: '2025-06-30T08:45:00.000Z',
          timeSource: 'AuthorDate',
        },
        since: '2025-06-30T09:20:00.000Z',
        executionId: ID.E10,
        executionType: 'STANDARD',
        test: { action: 'IntegrationTests', status: 'Succeeded', at: '2025-06-30T09:30:00.000Z' },
        approval: null,
      },
    });
    expect(staging.deployed).toMatchObject({ since: '2025-06-30T10:00:00.000Z', executionId: ID.E10 });
    // Prod runs what the rollback E7 restored: E5's commit. A rollback runs the stage's every action again, the
    // approval included: alice approved the rollback itself (E5's own approval is the fallback for a rollback
    // that has none, test/tools/lib/delivery-metrics.test.ts).
    expect(prod).toMatchObject({
      stage: 'prod',
      transitionEnabled: false,
      deployed: {
        commit: { id: COMMITS.C5?.id, message: 'fix: retry throttled writes', author: 'Bob Builder' },
        since: '2025-06-20T14:50:00.000Z',
        executionId: ID.E7,
        executionType: 'ROLLBACK',
        rollbackTarget: ID.E5,
        test: { action: 'SmokeTest', status: 'Succeeded', at: '2025-06-20T14:58:00.000Z' },
        approval: {
          by: ALICE,
          at: '2025-06-20T14:34:00.000Z',
          summary: 'back to 61b4807d: 72c5918e failed its smoke test',
          executionId: ID.E7,
        },
      },
    });
  });

  it('says how far each recent execution got and why it stopped', async () => {
    recordedHistory();
    const { json } = await runJson(['--executions', '16']);
    const rows = json.executions.map((e: { id: string; deployedTo: string[]; outcome: { kind: string } }) => [
      e.id,
      e.deployedTo.join(','),
      e.outcome.kind,
    ]);
    expect(rows).toEqual([
      [ID.E10, 'dev,staging', 'in-progress'],
      [ID.E9, 'dev', 'superseded'],
      [ID.E8b, 'dev,staging', 'blocked'],
      [ID.E8, 'dev,staging', 'rejected'],
      [ID.E7r, 'staging', 'rollback'],
      [ID.E7s, 'dev,staging', 'rolled-back'],
      [ID.E7, 'prod', 'rollback'],
      [ID.E6, 'dev,staging,prod', 'failed'],
      [ID.E5, 'dev,staging,prod', 'released'],
      [ID.E4, 'dev,staging,prod', 'released'],
      [ID.E3b, 'dev,staging,prod', 'released'],
      [ID.E3, '', 'cancelled'],
      [ID.E2r, 'staging', 'rollback'],
      [ID.E2, 'dev,staging', 'failed'],
      [ID.E1, 'dev,staging,prod', 'released'],
      [ID.E0, 'dev,staging,prod', 'released'],
    ]);
    const outcome = (id: string) => json.executions.find((e: { id: string }) => e.id === id).outcome;
    // --json names actions as CodePipeline does; the text (and `text`) as Prod.ApproveDeploy.
    expect(outcome(ID.E10)).toMatchObject({
      stage: 'Prod',
      action: 's3-object-processor-prod-processor.ApproveDeploy',
      text: 'in progress: waiting for approval at Prod.ApproveDeploy since 2025-06-30T10:19Z',
    });
    expect(outcome(ID.E9)).toMatchObject({ stage: 'Dev', supersededBy: ID.E10 });
    // Entry blocked: of prod's two entry rules only ProdEntryOwnHealthy failed; the alarm and state are read from
    // the rule's configuration, CodePipeline's summary passed on as it came.
    expect(outcome(ID.E8b)).toEqual({
      kind: 'blocked',
      stage: 'Prod',
      condition: {
        type: 'BEFORE_ENTRY',
        stage: 'Prod',
        rules: [
          {
            rule: 'ProdEntryOwnHealthy',
            at: '2025-06-27T09:55:00.000Z',
            alarm: 's3-object-processor-prod-health',
            alarmStates: ['ALARM'],
            summary: 'Alarm s3-object-processor-prod-health is in state ALARM',
          },
        ],
      },
      text: 'blocked at Prod entry: ProdEntryOwnHealthy (alarm s3-object-processor-prod-health in ALARM)',
    });
    // Rolled back by its bake time: StagingBakeTime failed after the integration tests had passed, and the
    // rollback E7r restored E6 (the last execution that succeeded in Staging).
    expect(outcome(ID.E7s)).toMatchObject({
      stage: 'Staging',
      rolledBackBy: ID.E7r,
      condition: { type: 'ON_SUCCESS', stage: 'Staging', rules: [{ rule: 'StagingBakeTime' }] },
      text: 'rolled back by 7b4d6f0a: bake time alarm in Staging, StagingBakeTime (alarm s3-object-processor-staging-health in ALARM)',
    });
    expect(outcome(ID.E7r)).toMatchObject({ stage: 'Staging', rollbackTarget: ID.E6 });
    expect(outcome(ID.E8)).toMatchObject({
      stage: 'Prod',
      action: 's3-object-processor-prod-processor.ApproveDeploy',
      by: expect.stringContaining('bob@example.com'),
      text: 'rejected at Prod.ApproveDeploy by bob@example.com (AWSReservedSSO_Release_5f1b2c3d4e5f6a7b): "staging p99 is too close to the timeout; not today"',
    });
    expect(outcome(ID.E7)).toMatchObject({ stage: 'Prod', rollbackTarget: ID.E5 });
    expect(outcome(ID.E6)).toMatchObject({ stage: 'Prod', action: 'SmokeTest', rolledBackBy: ID.E7 });
    expect(outcome(ID.E2)).toMatchObject({
      stage: 'Staging',
      action: 'IntegrationTests',
      rolledBackBy: ID.E2r,
    });
    expect(outcome(ID.E2r)).toMatchObject({ stage: 'Staging', rollbackTarget: ID.E1 });
    // A failed action says why; no condition is claimed for it.
    for (const id of [ID.E2, ID.E6, ID.E8]) expect(outcome(id).condition).toBeUndefined();
    expect(json.executions[13].commit.message).toBe('feat: reject objects over the size limit early');
  });

  it('prints the same as text, one line pair an execution', async () => {
    recordedHistory();
    const io = captureIo();
    // All 16, so that every kind of ending is checked line by line (the default lists 10).
    expect(await promotions(['--executions', '16'], io, deps())).toBe(0);
    const c = (name: string) => (COMMITS[name]?.id ?? '').slice(0, 7);
    const indent = ' '.repeat(31);
    expect(io.lines).toEqual([
      'pipeline s3-object-processor (eu-west-1) at 2025-06-30T12:00Z; read 16 executions, back to 2025-05-27T09:00Z',
      '',
      'Deployed now',
      `  dev      ${c('C10')} feat: tag objects by their prefix (Alice Example)`,
      '           since 2025-06-30T09:20Z (2h 40m ago), by execution b609d5c2; IntegrationTests Succeeded 2025-06-30T09:30Z',
      `  staging  ${c('C10')} feat: tag objects by their prefix (Alice Example)`,
      '           since 2025-06-30T10:00Z (2h 0m ago), by execution b609d5c2; IntegrationTests Succeeded 2025-06-30T10:10Z',
      `  prod     ${c('C5')} fix: retry throttled writes (Bob Builder)`,
      '           since 2025-06-20T14:50Z (9d 21h ago), by rollback 83d6a29f (to 61b4807d); SmokeTest Succeeded 2025-06-20T14:58Z',
      '           approved by alice@example.com (AWSReservedSSO_Release_5f1b2c3d4e5f6a7b) at 2025-06-20T14:34Z: "back to 61b4807d: 72c5918e failed its smoke test"',
      '           closed: the transition into Prod is disabled by carol (IAM user) since 2025-06-30T11:00Z: "INC-42: hold prod"',
      '',
      'Recent executions (newest first, 16 of 16 read)',
      `  2025-06-30T08:50Z  b609d5c2  ${c('C10')} feat: tag objects by their prefix (Alice Example)`,
      `${indent}deployed dev, staging; in progress: waiting for approval at Prod.ApproveDeploy since 2025-06-30T10:19Z`,
      `  2025-06-30T08:00Z  a5f8c4b1  ${c('C9')} docs: runbook for throttles (author unknown)`,
      `${indent}deployed dev; superseded after Dev: the newer b609d5c2 went on into Staging`,
      `  2025-06-27T09:00Z  9a0b1c2d  ${c('C8b')} feat: batch size per prefix (author unknown)`,
      `${indent}deployed dev, staging; blocked at Prod entry: ProdEntryOwnHealthy (alarm s3-object-processor-prod-health in ALARM)`,
      `  2025-06-25T09:00Z  94e7b3a0  ${c('C8')} feat: larger batches (author unknown)`,
      `${indent}deployed dev, staging; rejected at Prod.ApproveDeploy by bob@example.com (AWSReservedSSO_Release_5f1b2c3d4e5f6a7b): "staging p99 is too close to the timeout; not today"`,
      `  2025-06-23T10:56Z  7b4d6f0a  ${c('C6')} feat: stream large objects instead of buffering them (author unknown)`,
      `${indent}deployed staging; rollback of Staging to 72c5918e: Succeeded`,
      `  2025-06-23T10:00Z  7a3c5e9f  ${c('C7')} feat: record each object's checksum (author unknown)`,
      `${indent}deployed dev, staging; rolled back by 7b4d6f0a: bake time alarm in Staging, StagingBakeTime (alarm s3-object-processor-staging-health in ALARM)`,
      `  2025-06-20T14:21Z  83d6a29f  ${c('C5')} fix: retry throttled writes (Bob Builder)`,
      `${indent}deployed prod; rollback of Prod to 61b4807d: Succeeded`,
      `  2025-06-20T09:00Z  72c5918e  ${c('C6')} feat: stream large objects instead of buffering them (author unknown)`,
      `${indent}deployed dev, staging, prod; failed at Prod.SmokeTest: Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, Message: Error while executing command: npm run integ -- --stage prod --smoke. Reason: exit status 1; rolled back by 83d6a29f`,
      `  2025-06-18T10:00Z  61b4807d  ${c('C5')} fix: retry throttled writes (Bob Builder)`,
      `${indent}deployed dev, staging, prod; released`,
      `  2025-06-12T10:00Z  50a37f6c  ${c('C4')} feat: content-type allow list per prefix (author unknown)`,
      `${indent}deployed dev, staging, prod; released`,
      `  2025-06-10T09:15Z  4f926e5b  ${c('C3')} chore(pipeline): give the synth step more memory (author unknown)`,
      `${indent}deployed dev, staging, prod; released`,
      `  2025-06-10T09:00Z  3e815d4a  ${c('C3')} chore(pipeline): give the synth step more memory (author unknown)`,
      `${indent}cancelled in UpdatePipeline: the pipeline's definition changed while it ran (self-mutation restarts the release as a new execution)`,
      `  2025-06-05T10:56Z  2e1f0a9b  ${c('C1')} fix: keep the newest version when events arrive out of order (author unknown)`,
      `${indent}deployed staging; rollback of Staging to 1c6f3b28: Succeeded`,
      `  2025-06-05T10:00Z  2d704c39  ${c('C2')} feat: reject objects over the size limit early (author unknown)`,
      `${indent}deployed dev, staging; failed at Staging.IntegrationTests: Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, Message: Error while executing command: npm run integ -- --stage staging. Reason: exit status 1; rolled back by 2e1f0a9b`,
      `  2025-06-02T09:00Z  1c6f3b28  ${c('C1')} fix: keep the newest version when events arrive out of order (author unknown)`,
      `${indent}deployed dev, staging, prod; released`,
      `  2025-05-27T09:00Z  0b5e2a17  ${c('C0')} feat: accept WebP images (author unknown)`,
      `${indent}deployed dev, staging, prod; released`,
      '',
      'DORA metrics for prod, last 30 days (2025-05-31T12:00Z to 2025-06-30T12:00Z); definitions: --help',
      '  deployment frequency   5 deployments: 0.17 a day, 1.17 a week',
      '  lead time for changes  median 19h 0m, p90 1d 2h over 5 deployments (commit time from AuthorDate)',
      '  change failure rate    40% (2 of 5)',
      '                         50a37f6c 2025-06-12T15:00Z: followed by fix 61b4807d "fix: retry throttled writes"',
      '                         72c5918e 2025-06-20T13:00Z: SmokeTest failed; rolled back by 83d6a29f',
      '  time to restore        median 1h 50m over 2 restored; 0 open',
      '                         50a37f6c restored by 61b4807d in 6d 1h',
      '                         72c5918e restored by 83d6a29f in 1h 50m',
    ]);
  });

  it('prints what docs/promotions.md shows (the page quotes this month)', async () => {
    recordedHistory();
    const io = captureIo();
    await promotions([], io, deps());
    const page = readFileSync(new URL('../../docs/promotions.md', import.meta.url), 'utf8');
    const sample = /```text\n([\s\S]*?)```/
      .exec(page)?.[1]
      ?.split('\n')
      .filter((l) => l && !l.includes('...'));
    expect(sample?.length).toBeGreaterThan(20);
    for (const line of sample ?? []) expect(io.lines).toContain(line);
  });

  it('counts a deployment as failed when the next one is a fix by --fix-pattern, and not otherwise', async () => {
    recordedHistory();
    // "hotfix" only: E5's "fix: ..." no longer marks E4 failed, so only E6 fails: 1 of 5.
    const { json } = await runJson(['--fix-pattern', '^hotfix']);
    expect(
      json.metrics.changeFailureRate.failures.map((f: { executionId: string }) => f.executionId),
    ).toEqual([ID.E6]);
    expect(json.metrics.changeFailureRate.rate).toBeCloseTo(0.2, 10);
  });

  it('warns and says so when the page limit stops the read short of the window', async () => {
    recordedHistory();
    const { json, io } = await runJson(['--max-pages', '1']);
    expect(json.history).toMatchObject({ pages: { executions: 1, actions: 1 }, complete: false });
    expect(io.progressLines.at(-1)).toMatch(
      /^warning: stopped at --max-pages 1, back to .*raise --max-pages/,
    );
  });

  it('takes the pipeline name and region from the configuration resolver, and --pipeline/--region override them', async () => {
    const io = captureIo();
    await promotions(['--dry-run'], io, { env: { PROJECT_NAME: 'files', TOOLING_REGION: 'eu-central-1' } });
    await promotions(['--dry-run', '--pipeline', 'other', '--region', 'us-east-2'], io, { env: {} });
    expect(io.lines.map((l) => l.replace(/ \(.*/, ''))).toEqual([
      'dry run: promotions only reads; it would read pipeline files in eu-central-1',
      'dry run: promotions only reads; it would read pipeline other in us-east-2',
    ]);
    expect(cpMock.calls()).toHaveLength(0);
  });

  it('rejects bad options as usage errors (exit 2) naming the option', async () => {
    const usage = async (argv: string[]) => {
      const error = await promotions(argv, captureIo(), { env: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ToolError);
      expect((error as ToolError).exitCode).toBe(2);
      return (error as ToolError).message;
    };
    expect(await usage(['--days', '400'])).toBe(
      '--days is 400; CodePipeline keeps 365 days of history at most',
    );
    expect(await usage(['--days', 'a month'])).toBe('--days is "a month"; must be a positive number');
    expect(await usage(['--executions', '2.5'])).toBe('--executions is "2.5"; must be a whole number >= 1');
    expect(await usage(['--fix-pattern', '('])).toMatch(/^--fix-pattern is not a regular expression/);
    expect(await usage(['--pipeline', 'my pipeline'])).toMatch(/^--pipeline is "my pipeline"/);
    expect(await usage(['--stage', 'prod'])).toMatch(/^--stage does not apply/);
    expect(await usage(['--endpoint', 'codebuild=http://127.0.0.1:1'])).toMatch(/codepipeline/);
  });

  it('documents every metric and what the API does not tell', async () => {
    const io = captureIo();
    expect(await promotions(['--help'], io, {})).toBe(0);
    expect(io.text()).toBe(PROMOTIONS_HELP);
    for (const term of [
      'deployment frequency',
      'lead time for changes',
      'change failure rate',
      'time to restore',
      'AuthorDate',
      'nearest rank',
      '12 months',
      'fix-pattern',
      'stage conditions',
      'entry condition',
      'bake time',
    ]) {
      expect(PROMOTIONS_HELP).toContain(term);
    }
  });
});

describe('promotions against the real SDK client', () => {
  /** A CodePipeline stand-in on loopback: records each call and answers like CodePipeline for a missing pipeline. */
  let server: Server;
  let endpoint: string;
  const calls: {
    target: string | undefined;
    body: Record<string, unknown>;
    signedRegion: string | undefined;
  }[] = [];
  beforeAll(async () => {
    // The SDK's own serialization, signing and error parsing, over a real socket: no mock in between.
    cpMock.restore();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/codepipeline\//.exec(
          req.headers.authorization ?? '',
        );
        calls.push({
          target: req.headers['x-amz-target'] as string | undefined,
          body: JSON.parse(body || '{}'),
          signedRegion: scope?.[1],
        });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'standin' });
        res.end(
          JSON.stringify({
            __type: 'PipelineNotFoundException',
            message: `Account '111111111111' does not have a pipeline with name '${JSON.parse(body || '{}').name}'`,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** What runTool prints for an error: `error: <one line>`, or the stack of a bug. */
  const printed = (error: unknown) => {
    const explained = explainAwsError(error);
    return explained ? `error: ${explained.message}` : String((error as Error).stack);
  };

  it('a missing pipeline: one line naming the pipeline and region it asked for, from the configuration', async () => {
    calls.length = 0;
    const error = await promotions(['--endpoint', `codepipeline=${endpoint}`], captureIo(), {
      env: { PROJECT_NAME: 'files', TOOLING_REGION: 'eu-central-1' },
      clock: fakeClock(NOW.getTime()),
    }).catch((e: unknown) => e);
    expect(calls).toEqual([
      {
        target: 'CodePipeline_20150709.GetPipelineState',
        body: { name: 'files' },
        signedRegion: 'eu-central-1',
      },
    ]);
    expect(printed(error)).toBe(
      'error: pipeline "files" not found in eu-central-1: is the pipeline stack deployed there, and are the credentials for the tooling account? (--pipeline and --region override the configured name and region)',
    );
    expect((error as { exitCode?: number }).exitCode).toBe(EXIT.notFound);
  });

  it('no credentials: one line saying how to get them', async () => {
    calls.length = 0;
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const codePipeline = new CodePipelineClient({
      region: REGION,
      endpoint,
      credentials: async () => {
        throw noCredentials;
      },
    });
    const error = await promotions([], captureIo(), { codePipeline, env: {} }).catch((e: unknown) => e);
    expect(calls).toEqual([]);
    expect(printed(error)).toMatch(/^error: no AWS credentials found: set AWS_PROFILE/);
  });

  it('a refused connection: one line naming the address, without a stack trace', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await promotions(['--endpoint', `codepipeline=http://127.0.0.1:${port}`], captureIo(), {
      env: {},
    }).catch((e: unknown) => e);
    expect(printed(error)).toBe(
      `error: could not reach 127.0.0.1:${port} (ECONNREFUSED): check the network, the region and any --endpoint (is \`npm start\` running, for the local environment?)`,
    );
  });
});

describe('formatDuration', () => {
  it('keeps two units, down to the minute', () => {
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(45 * 60_000)).toBe('45m');
    expect(formatDuration((2 * 60 + 40) * 60_000)).toBe('2h 40m');
    expect(formatDuration((26 * 60 + 59) * 60_000)).toBe('1d 2h');
    expect(formatDuration(-90 * 60_000)).toBe('-1h 30m');
  });
});
