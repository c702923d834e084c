/**
 * What a pipeline's history means: which commit each stage runs, how far each execution got and why it stopped,
 * and the four DORA metrics for production. Pure functions over `PipelineHistory`; the definitions are the ones
 * `npm run promotions -- --help` and docs/promotions.md state, and test/tools/lib/delivery-metrics.test.ts checks the
 * figures against values worked out by hand.
 */
import type {
  ActionExecutionDetail,
  RuleExecutionDetail,
  StageConditionState,
  StageState,
} from '@aws-sdk/client-codepipeline';
import { PIPELINE_ACTIONS } from '../../lib/config/names.ts';
import { type Execution, type PipelineHistory, startOf, time } from './pipeline-history.ts';

/** A deploy stage of the pipeline and the actions that tell what happened in it. */
export interface DeployStage {
  /** The configured stage name: `dev`. */
  readonly stageName: string;
  /** Its CodePipeline stage: `Dev`. */
  readonly pipelineStage: string;
  /** The CloudFormation action that executes the stage's change set: when it succeeds, the stage runs the commit. */
  readonly deployAction: string;
  /** The test action after the deploy (integration tests, or the smoke test in production). */
  readonly testAction: string;
  readonly isProduction: boolean;
  /** The rules of the stage's entry condition (none in a stage without one). */
  readonly entryRules: readonly string[];
  /** The rule of its on-success condition: the bake time, watching its health alarm. */
  readonly bakeRule: string;
}

/** The shape of the delivery pipeline, from lib/config/names.ts. */
export interface PipelineLayout {
  readonly sourceStage: string;
  /** Every CodePipeline stage, in order. */
  readonly stageOrder: readonly string[];
  /** In promotion order; the last production stage is the one the DORA metrics measure. */
  readonly deployStages: readonly DeployStage[];
  /** The manual approval before the production deploy. */
  readonly approvalAction: string;
}

/** Where a commit time was read. */
export type CommitTimeSource = 'AuthorDate' | 'artifactRevision.created';

export interface Commit {
  readonly id: string | undefined;
  readonly message: string | undefined;
  readonly url: string | undefined;
  readonly time: Date | undefined;
  readonly timeSource: CommitTimeSource | undefined;
}

export interface ActionResult {
  readonly action: string;
  readonly status: string;
  readonly at: Date | undefined;
  readonly summary: string | undefined;
}

export interface Approval {
  /** The IAM principal that approved (CodePipeline records the caller's ARN). */
  readonly by: string | undefined;
  readonly at: Date | undefined;
  readonly summary: string | undefined;
  /** The execution the approval was given in (a rollback's approval was given to the execution it restored). */
  readonly executionId: string;
}

/** A successful deploy action: the moment a stage started running an execution's commit. */
export interface DeployEvent {
  readonly stage: DeployStage;
  readonly execution: Execution;
  readonly deployedAt: Date;
  readonly rollback: boolean;
  /** The stage's test action in the same execution, if it ran. */
  readonly test: ActionResult | undefined;
}

export interface StageDeployment extends DeployEvent {
  readonly commit: Commit;
  readonly approval: Approval | undefined;
  readonly rollbackTarget: string | undefined;
}

export type OutcomeKind =
  | 'released'
  | 'rollback'
  | 'in-progress'
  | 'failed'
  | 'rejected'
  /** An entry condition kept it out of a stage. */
  | 'blocked'
  /** A stage's bake-time (on-success) condition failed, and the stage was rolled back. */
  | 'rolled-back'
  | 'superseded'
  | 'cancelled'
  | 'stopped'
  | 'unknown';

/** A stage-condition rule that failed. */
export interface FailedRule {
  readonly rule: string;
  readonly at: Date | undefined;
  /** The alarm a CloudWatchAlarm rule reads, and the states in which it fails. */
  readonly alarm: string | undefined;
  readonly alarmStates: readonly string[];
  /** CodePipeline's summary of the rule's run, as it gave it. */
  readonly summary: string | undefined;
}

/** What a stage condition did to an execution: which condition, of which stage, by which failed rules. */
export interface ConditionStop {
  /**
   * The condition (CodePipeline's ConditionType), told by the rule's name (lib/config/names.ts); undefined for a
   * rule the layout does not name.
   */
  readonly type: 'BEFORE_ENTRY' | 'ON_SUCCESS' | undefined;
  readonly stage: string | undefined;
  readonly rules: readonly FailedRule[];
}

export interface Outcome {
  readonly kind: OutcomeKind;
  /** A sentence: why it stopped, or what it waits for. */
  readonly text: string;
  readonly stage?: string;
  readonly action?: string;
  readonly by?: string;
  readonly at?: Date;
  readonly supersededBy?: string;
  readonly rolledBackBy?: string;
  readonly rollbackTarget?: string;
  /** When a stage condition, not an action, stopped it. */
  readonly condition?: ConditionStop;
}

export interface ExecutionReport {
  readonly id: string;
  readonly status: string;
  readonly type: 'STANDARD' | 'ROLLBACK';
  readonly startedAt: Date | undefined;
  readonly commit: Commit;
  /** Configured stage names whose deploy succeeded in this execution. */
  readonly deployedTo: readonly string[];
  /** The furthest CodePipeline stage it ran an action in. */
  readonly reached: string | undefined;
  readonly outcome: Outcome;
}

export interface MetricsWindow {
  readonly from: number;
  readonly to: number;
}

export interface DeploymentFailure {
  readonly executionId: string;
  readonly deployedAt: Date;
  readonly reasons: readonly string[];
}

export interface Restoration {
  readonly executionId: string;
  readonly failedAt: Date;
  readonly restoredAt: Date | undefined;
  readonly restoredBy: string | undefined;
  /** Until restoration, or until the window's end while still open. */
  readonly durationMs: number;
}

export interface LeadTimeSample {
  readonly executionId: string;
  readonly commitId: string | undefined;
  readonly commitTime: Date;
  readonly commitTimeSource: CommitTimeSource;
  readonly deployedAt: Date;
  readonly leadTimeMs: number;
}

export interface DoraMetrics {
  readonly stage: string;
  readonly days: number;
  readonly deploymentFrequency: {
    readonly deployments: number;
    readonly perDay: number;
    readonly perWeek: number;
  };
  readonly leadTime: {
    readonly medianMs: number | undefined;
    readonly p90Ms: number | undefined;
    readonly samples: readonly LeadTimeSample[];
    /** Deployments whose commit time the API did not give. */
    readonly withoutCommitTime: readonly string[];
  };
  readonly changeFailureRate: {
    readonly failed: number;
    readonly deployments: number;
    readonly rate: number | undefined;
    readonly failures: readonly DeploymentFailure[];
  };
  readonly timeToRestore: {
    readonly medianMs: number | undefined;
    readonly restored: readonly Restoration[];
    readonly open: readonly Restoration[];
  };
}

const DAY_MS = 86_400_000;

/**
 * What marks a commit as a fix (case-insensitive): a Conventional Commits `fix:`/`hotfix:`/`revert:` subject, with
 * an optional scope and `!`, or git's own `Revert "..."`.
 */
export const DEFAULT_FIX_PATTERN = '^(fix|hotfix|revert)(\\([^)]*\\))?!?:|^Revert "';

/**
 * The p-th percentile by nearest rank: the smallest value that at least p % of the values do not exceed (rank
 * ceil(p/100 x n) of the sorted values). Chosen over interpolation because it is always a lead time that happened
 * and a reader can check it by counting; five lines do not justify a statistics dependency.
 */
export function nearestRank(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** The latest attempt of an action (actions are newest first), optionally one that ended with `status`. */
function latestRun(
  execution: Execution,
  stage: string,
  action: string,
  status?: string,
): ActionExecutionDetail | undefined {
  return execution.actions.find(
    (a) => a.stageName === stage && a.actionName === action && (status === undefined || a.status === status),
  );
}

function resultOf(run: ActionExecutionDetail | undefined): ActionResult | undefined {
  if (!run) return undefined;
  return {
    action: run.actionName ?? '?',
    status: run.status ?? '?',
    at: run.lastUpdateTime,
    summary:
      run.output?.executionResult?.externalExecutionSummary ??
      run.output?.executionResult?.errorDetails?.message,
  };
}

function isApproval(run: ActionExecutionDetail): boolean {
  return run.input?.actionTypeId?.category === 'Approval';
}

export function executionType(execution: Execution): 'STANDARD' | 'ROLLBACK' {
  return (execution.summary?.executionType ?? execution.detail?.executionType) === 'ROLLBACK'
    ? 'ROLLBACK'
    : 'STANDARD';
}

function rollbackTargetOf(execution: Execution): string | undefined {
  return (
    execution.summary?.rollbackMetadata?.rollbackTargetPipelineExecutionId ??
    execution.detail?.rollbackMetadata?.rollbackTargetPipelineExecutionId
  );
}

function statusOf(execution: Execution): string {
  return execution.summary?.status ?? execution.detail?.status ?? 'Unknown';
}

/**
 * A connection (CodeStarSourceConnection) reports the commit message inside JSON,
 * `{"ProviderType":"GitHub","CommitMessage":"..."}`; CodeCommit and S3 sources report it plain.
 */
export function commitMessageOf(summary: string | undefined): string | undefined {
  if (summary === undefined) return undefined;
  if (summary.startsWith('{')) {
    try {
      const parsed = JSON.parse(summary) as { CommitMessage?: unknown };
      if (typeof parsed.CommitMessage === 'string') return parsed.CommitMessage;
    } catch {
      // Not JSON after all: the summary is the message.
    }
  }
  return summary;
}

/**
 * The commit an execution carried: the source action's output variables (CommitId, CommitMessage, AuthorDate) when
 * its source action was read, else the artifact revision (GetPipelineExecution) or the source revision
 * (ListPipelineExecutions). A rollback carries its target's commit, and its target's source action says when it was
 * authored.
 */
export function commitOf(execution: Execution, history: PipelineHistory, layout: PipelineLayout): Commit {
  const target = rollbackTargetOf(execution);
  const origin = (target ? history.byId.get(target) : undefined) ?? execution;
  const source = origin.actions.find((a) => a.stageName === layout.sourceStage && a.status === 'Succeeded');
  const variables = source?.output?.outputVariables ?? {};
  const artifact = execution.detail?.artifactRevisions?.[0] ?? origin.detail?.artifactRevisions?.[0];
  const revision = execution.summary?.sourceRevisions?.[0] ?? origin.summary?.sourceRevisions?.[0];
  const result = source?.output?.executionResult;
  const authored = variables.AuthorDate ? new Date(variables.AuthorDate) : undefined;
  const authorDate = authored && !Number.isNaN(authored.getTime()) ? authored : undefined;
  const created = artifact?.created;
  return {
    id: variables.CommitId ?? artifact?.revisionId ?? revision?.revisionId ?? result?.externalExecutionId,
    message:
      variables.CommitMessage ??
      commitMessageOf(
        artifact?.revisionSummary ?? revision?.revisionSummary ?? result?.externalExecutionSummary,
      ),
    url: artifact?.revisionUrl ?? revision?.revisionUrl ?? result?.externalExecutionUrl,
    time: authorDate ?? created,
    timeSource: authorDate ? 'AuthorDate' : created ? 'artifactRevision.created' : undefined,
  };
}

/** Every successful deploy in a stage, oldest first. */
export function deployEvents(history: PipelineHistory, stage: DeployStage): DeployEvent[] {
  const events: DeployEvent[] = [];
  for (const execution of history.executions) {
    const deploy = latestRun(execution, stage.pipelineStage, stage.deployAction, 'Succeeded');
    if (!deploy?.lastUpdateTime) continue;
    events.push({
      stage,
      execution,
      deployedAt: deploy.lastUpdateTime,
      rollback: executionType(execution) === 'ROLLBACK',
      test: resultOf(latestRun(execution, stage.pipelineStage, stage.testAction)),
    });
  }
  return events.sort((a, b) => a.deployedAt.getTime() - b.deployedAt.getTime());
}

/** The approval an execution's deploy went through; a rollback's is its target's. */
function approvalOf(
  event: DeployEvent,
  history: PipelineHistory,
  layout: PipelineLayout,
): Approval | undefined {
  const target = rollbackTargetOf(event.execution);
  for (const execution of [event.execution, target ? history.byId.get(target) : undefined]) {
    if (!execution) continue;
    const run = latestRun(execution, event.stage.pipelineStage, layout.approvalAction, 'Succeeded');
    if (run) {
      return {
        by: run.updatedBy,
        at: run.lastUpdateTime,
        summary: run.output?.executionResult?.externalExecutionSummary,
        executionId: execution.id,
      };
    }
  }
  return undefined;
}

/** What each stage runs now: the latest successful deploy in it, or undefined when none was read. */
export function currentDeployments(
  history: PipelineHistory,
  layout: PipelineLayout,
): { readonly stage: DeployStage; readonly deployment: StageDeployment | undefined }[] {
  return layout.deployStages.map((stage) => {
    const last = deployEvents(history, stage).at(-1);
    if (!last) return { stage, deployment: undefined };
    return {
      stage,
      deployment: {
        ...last,
        commit: commitOf(last.execution, history, layout),
        approval: stage.isProduction ? approvalOf(last, history, layout) : undefined,
        rollbackTarget: rollbackTargetOf(last.execution),
      },
    };
  });
}

/**
 * Which standard execution each rollback undid: the one that last ran an action in the rolled-back stage before
 * the rollback started (CodePipeline records the rollback's target, the good execution, not the bad one).
 */
export function rollbacksByExecution(history: PipelineHistory): Map<string, string> {
  const undone = new Map<string, string>();
  for (const rollback of history.executions) {
    if (executionType(rollback) !== 'ROLLBACK') continue;
    const stage = rollback.actions.at(-1)?.stageName;
    const started = startOf(rollback);
    let candidate: { id: string; end: number } | undefined;
    for (const execution of history.executions) {
      if (execution === rollback || executionType(execution) === 'ROLLBACK') continue;
      const ends = execution.actions
        .filter((a) => a.stageName === stage)
        .map((a) => time(a.lastUpdateTime ?? a.startTime))
        .filter((end) => end <= started);
      if (ends.length === 0) continue;
      const end = Math.max(...ends);
      if (!candidate || end > candidate.end) candidate = { id: execution.id, end };
    }
    if (candidate && !undone.has(candidate.id)) undone.set(candidate.id, rollback.id);
  }
  return undone;
}

function stageIndex(layout: PipelineLayout, stage: string | undefined): number {
  return stage === undefined ? -1 : layout.stageOrder.indexOf(stage);
}

function reachedStage(execution: Execution, layout: PipelineLayout): string | undefined {
  let furthest: string | undefined;
  for (const a of execution.actions) {
    if (stageIndex(layout, a.stageName) > stageIndex(layout, furthest)) furthest = a.stageName;
  }
  return furthest;
}

const shortId = (id: string | undefined) => (id ? id.slice(0, 8) : '?');

/** How far an execution got and why it stopped. */
export function describeExecution(
  execution: Execution,
  history: PipelineHistory,
  layout: PipelineLayout,
  rolledBack: ReadonlyMap<string, string> = rollbacksByExecution(history),
): ExecutionReport {
  const status = statusOf(execution);
  const type = executionType(execution);
  const reached = reachedStage(execution, layout);
  const deployedTo = layout.deployStages
    .filter((s) => latestRun(execution, s.pipelineStage, s.deployAction, 'Succeeded'))
    .map((s) => s.stageName);
  const rolledBackBy = rolledBack.get(execution.id);
  const undone = rolledBackBy ? `; rolled back by ${shortId(rolledBackBy)}` : '';
  const base = { stage: reached, ...(rolledBackBy ? { rolledBackBy } : {}) };
  let outcome: Outcome;
  if (type === 'ROLLBACK') {
    const target = rollbackTargetOf(execution);
    const failed = execution.actions.find((a) => a.status === 'Failed');
    outcome = {
      kind: 'rollback',
      stage: reached,
      ...(target ? { rollbackTarget: target } : {}),
      text:
        `rollback of ${reached ?? '?'} to ${shortId(target)}: ${status}` +
        (status === 'Failed' && failed ? ` at ${failed.actionName}: ${failureText(failed)}` : ''),
    };
  } else if (status === 'Succeeded') {
    outcome = { kind: 'released', ...base, text: `released${undone}` };
  } else if (status === 'InProgress') {
    outcome = inProgress(execution, history.state, layout);
  } else if (status === 'Failed') {
    const failed = [...execution.actions]
      .filter((a) => a.status === 'Failed')
      .sort((a, b) => time(b.lastUpdateTime) - time(a.lastUpdateTime))[0];
    const stop = failed ? undefined : conditionStop(execution, layout);
    if (stop) {
      outcome = conditionOutcome(stop, base, rolledBackBy);
    } else if (failed && isApproval(failed)) {
      const summary = failed.output?.executionResult?.externalExecutionSummary;
      outcome = {
        kind: 'rejected',
        ...base,
        stage: failed.stageName,
        action: failed.actionName,
        ...(failed.updatedBy ? { by: failed.updatedBy } : {}),
        ...(failed.lastUpdateTime ? { at: failed.lastUpdateTime } : {}),
        text: `rejected at ${actionLabel(failed.stageName, failed.actionName)} by ${principal(failed.updatedBy)}${summary ? `: "${summary}"` : ''}${undone}`,
      };
    } else {
      outcome = {
        kind: 'failed',
        ...base,
        stage: failed?.stageName ?? reached,
        ...(failed?.actionName ? { action: failed.actionName } : {}),
        text: failed
          ? `failed at ${actionLabel(failed.stageName, failed.actionName)}: ${failureText(failed)}${undone}`
          : `failed: ${execution.summary?.statusSummary ?? 'no failed action was read'}${undone}`,
      };
    }
  } else if (status === 'Superseded') {
    const next = layout.stageOrder[stageIndex(layout, reached) + 1];
    const by = supersededBy(execution, history, next);
    outcome = {
      kind: 'superseded',
      ...base,
      ...(by ? { supersededBy: by } : {}),
      text: `superseded after ${reached ?? '?'}: ${by ? `the newer ${shortId(by)}` : 'a newer execution'} went on into ${next ?? 'the next stage'}`,
    };
  } else if (status === 'Cancelled') {
    outcome = {
      kind: 'cancelled',
      ...base,
      text: `cancelled in ${reached ?? '?'}: the pipeline's definition changed while it ran (self-mutation restarts the release as a new execution)`,
    };
  } else if (status === 'Stopped' || status === 'Stopping') {
    const reason = execution.summary?.stopTrigger?.reason;
    outcome = {
      kind: 'stopped',
      ...base,
      text: `${status.toLowerCase()} in ${reached ?? '?'}${reason ? `: "${reason}"` : ''}${undone}`,
    };
  } else {
    outcome = { kind: 'unknown', ...base, text: `status ${status}` };
  }
  return {
    id: execution.id,
    status,
    type,
    startedAt: Number.isFinite(startOf(execution)) ? new Date(startOf(execution)) : undefined,
    commit: commitOf(execution, history, layout),
    deployedTo,
    reached,
    outcome,
  };
}

/**
 * The stage condition that stopped an execution no action failed in: its newest failed rule, with the other rules
 * of the same condition that failed with it. Needs the execution's rules (readRuleExecutions).
 */
export function conditionStop(execution: Execution, layout: PipelineLayout): ConditionStop | undefined {
  const conditionOf = (run: RuleExecutionDetail) => {
    const stage = layout.deployStages.find((s) => s.pipelineStage === run.stageName);
    const rule = run.ruleName ?? '';
    if (stage?.entryRules.includes(rule)) return 'BEFORE_ENTRY';
    return stage?.bakeRule === rule ? 'ON_SUCCESS' : undefined;
  };
  const failedRules = (execution.rules ?? []).filter((r) => r.status === 'Failed');
  const newest = failedRules[0];
  if (!newest) return undefined;
  const type = conditionOf(newest);
  const rules = failedRules
    .filter((r) => r.stageName === newest.stageName && conditionOf(r) === type)
    .sort((a, b) => time(a.startTime) - time(b.startTime))
    .map((r): FailedRule => {
      const configuration = r.input?.resolvedConfiguration ?? r.input?.configuration ?? {};
      const alarm = r.input?.ruleTypeId?.provider === 'CloudWatchAlarm' ? configuration.AlarmName : undefined;
      return {
        rule: r.ruleName ?? '?',
        at: r.lastUpdateTime,
        alarm,
        alarmStates: alarm
          ? (configuration.AlarmStates ?? '')
              .split(',')
              .map((state) => state.trim())
              .filter((state) => state !== '')
          : [],
        summary: r.output?.executionResult?.externalExecutionSummary,
      };
    });
  return { type, stage: newest.stageName, rules };
}

/** `ProdEntryOwnHealthy (alarm s3-object-processor-prod-health in ALARM)`. */
function failedRulesText(rules: readonly FailedRule[]): string {
  return rules
    .map((r) => {
      if (!r.alarm) return r.rule;
      const states = r.alarmStates.length > 0 ? ` in ${r.alarmStates.join(' or ')}` : '';
      return `${r.rule} (alarm ${r.alarm}${states})`;
    })
    .join(', ');
}

function conditionOutcome(
  stop: ConditionStop,
  base: { readonly stage: string | undefined; readonly rolledBackBy?: string },
  rolledBackBy: string | undefined,
): Outcome {
  const rules = failedRulesText(stop.rules);
  const undone = rolledBackBy ? `; rolled back by ${shortId(rolledBackBy)}` : '';
  const stage = stop.stage ?? '?';
  if (stop.type === 'BEFORE_ENTRY') {
    return {
      kind: 'blocked',
      ...base,
      stage,
      condition: stop,
      text: `blocked at ${stage} entry: ${rules}${undone}`,
    };
  }
  if (stop.type === 'ON_SUCCESS') {
    // The pipeline's on-success condition rolls the stage back (lib/pipeline/stage-conditions.ts).
    return {
      kind: 'rolled-back',
      ...base,
      stage,
      condition: stop,
      text: `rolled back${rolledBackBy ? ` by ${shortId(rolledBackBy)}` : ''}: bake time alarm in ${stage}, ${rules}`,
    };
  }
  return {
    kind: 'failed',
    ...base,
    stage,
    condition: stop,
    text: `failed a condition of ${stage}: ${rules}${undone}`,
  };
}

/**
 * Standard executions that failed with no failed action read: a stage condition stopped them, and only their
 * rule executions say which.
 */
export function executionsNeedingRules(executions: readonly Execution[]): Set<string> {
  return new Set(
    executions
      .filter(
        (e) =>
          executionType(e) === 'STANDARD' &&
          statusOf(e) === 'Failed' &&
          !e.actions.some((a) => a.status === 'Failed'),
      )
      .map((e) => e.id),
  );
}

function failureText(run: ActionExecutionDetail): string {
  const result = run.output?.executionResult;
  return oneLine(
    result?.errorDetails?.message ?? result?.externalExecutionSummary ?? 'no reason recorded',
    200,
  );
}

/** The newer execution that entered `next` first after this one stopped before it. */
function supersededBy(
  execution: Execution,
  history: PipelineHistory,
  next: string | undefined,
): string | undefined {
  if (!next) return undefined;
  const stopped = Math.max(...execution.actions.map((a) => time(a.lastUpdateTime)), 0);
  let best: { id: string; at: number } | undefined;
  for (const other of history.executions) {
    if (other === execution || startOf(other) <= startOf(execution)) continue;
    const entered = other.actions.filter((a) => a.stageName === next).map((a) => time(a.startTime));
    const first = Math.min(...entered, Number.POSITIVE_INFINITY);
    if (first >= stopped && Number.isFinite(first) && (!best || first < best.at))
      best = { id: other.id, at: first };
  }
  return best?.id;
}

function inProgress(
  execution: Execution,
  state: { stageStates?: StageState[] },
  layout: PipelineLayout,
): Outcome {
  const running = execution.actions.find((a) => a.status === 'InProgress');
  if (running) {
    const since = running.startTime ? ` since ${isoMinute(running.startTime)}` : '';
    const what = isApproval(running) ? 'waiting for approval at' : 'running';
    return {
      kind: 'in-progress',
      stage: running.stageName,
      action: running.actionName,
      text: `in progress: ${what} ${actionLabel(running.stageName, running.actionName)}${since}`,
    };
  }
  const evaluating = conditionInProgress(execution, state);
  if (evaluating) return evaluating;
  // Between stages: waiting to enter the next one (busy, or its transition is disabled).
  const waiting = state.stageStates?.find(
    (s) =>
      s.inboundExecution?.pipelineExecutionId === execution.id ||
      s.inboundExecutions?.some((e) => e.pipelineExecutionId === execution.id),
  );
  const reached = reachedStage(execution, layout);
  const next = waiting?.stageName ?? layout.stageOrder[stageIndex(layout, reached) + 1];
  const transition = state.stageStates?.find((s) => s.stageName === next)?.inboundTransitionState;
  const closed =
    transition?.enabled === false
      ? `: the transition is disabled${transition.disabledReason ? ` ("${transition.disabledReason}")` : ''}`
      : '';
  return {
    kind: 'in-progress',
    stage: reached,
    text: `in progress: waiting to enter ${next ?? '?'}${closed}`,
  };
}

/**
 * An execution no action runs for, whose stage is evaluating a condition (GetPipelineState): the entry check, or
 * the bake time that watches the stage's health alarm after its actions succeeded.
 */
function conditionInProgress(
  execution: Execution,
  state: { stageStates?: StageState[] },
): Outcome | undefined {
  for (const stage of state.stageStates ?? []) {
    const ours = [stage.latestExecution, stage.inboundExecution, ...(stage.inboundExecutions ?? [])].some(
      (e) => e?.pipelineExecutionId === execution.id,
    );
    if (!ours) continue;
    const conditions: [string, StageConditionState | undefined][] = [
      ['checking the entry into', stage.beforeEntryConditionState],
      ['bake time in', stage.onSuccessConditionState],
    ];
    for (const [what, condition] of conditions) {
      if (condition?.latestExecution?.status !== 'InProgress') continue;
      const running = (condition.conditionStates ?? [])
        .flatMap((c) => c.ruleStates ?? [])
        .filter((r) => r.latestExecution?.status === 'InProgress');
      const changes = running
        .map((r) => r.latestExecution?.lastStatusChange)
        .filter((d): d is Date => d !== undefined);
      const since =
        changes.length > 0
          ? ` since ${isoMinute(new Date(Math.min(...changes.map((d) => d.getTime()))))}`
          : '';
      const rules = running.map((r) => r.ruleName ?? '?').join(', ');
      return {
        kind: 'in-progress',
        stage: stage.stageName,
        text: `in progress: ${what} ${stage.stageName}${rules ? ` (${rules})` : ''}${since}`,
      };
    }
  }
  return undefined;
}

/** Readable name of an IAM principal ARN: an SSO or assumed-role session name with its role, or a user name. */
export function principal(arn: string | undefined): string {
  if (!arn) return 'unknown';
  const assumed = /^arn:[^:]+:sts::\d+:assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (assumed) return `${assumed[2]} (${assumed[1]})`;
  const user = /^arn:[^:]+:iam::\d+:user\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (user) return `${user[1]} (IAM user)`;
  return arn;
}

/** The four DORA metrics for the last production stage over the window. */
export function doraMetrics(
  history: PipelineHistory,
  layout: PipelineLayout,
  window: MetricsWindow,
  fixPattern: RegExp,
  rolledBack: ReadonlyMap<string, string> = rollbacksByExecution(history),
): DoraMetrics {
  const prod = [...layout.deployStages].reverse().find((s) => s.isProduction) ?? layout.deployStages.at(-1);
  if (!prod) throw new Error('the pipeline layout has no deploy stage');
  const days = (window.to - window.from) / DAY_MS;
  const events = deployEvents(history, prod);
  const standard = events.filter((e) => !e.rollback);
  const inWindow = (e: DeployEvent) =>
    e.deployedAt.getTime() >= window.from && e.deployedAt.getTime() <= window.to;
  const deployments = standard.filter(inWindow);
  const commits = new Map(standard.map((e) => [e.execution.id, commitOf(e.execution, history, layout)]));

  const samples: LeadTimeSample[] = [];
  const withoutCommitTime: string[] = [];
  for (const d of deployments) {
    const commit = commits.get(d.execution.id);
    if (!commit?.time || !commit.timeSource) {
      withoutCommitTime.push(d.execution.id);
      continue;
    }
    samples.push({
      executionId: d.execution.id,
      commitId: commit.id,
      commitTime: commit.time,
      commitTimeSource: commit.timeSource,
      deployedAt: d.deployedAt,
      leadTimeMs: d.deployedAt.getTime() - commit.time.getTime(),
    });
  }
  const leadTimes = samples.map((s) => s.leadTimeMs);

  // Failure is judged for every standard deployment after the window's start (all of them are in the window, as it
  // ends now), because restoration asks whether a later deployment was itself failed.
  const failureReasons = new Map<string, string[]>();
  for (const [i, d] of standard.entries()) {
    if (d.deployedAt.getTime() < window.from) continue;
    const reasons: string[] = [];
    if (d.test?.status === 'Failed') reasons.push(`${prod.testAction} failed`);
    const rollback = rolledBack.get(d.execution.id);
    if (rollback) reasons.push(`rolled back by ${shortId(rollback)}`);
    const next = standard[i + 1];
    const nextMessage = next ? commits.get(next.execution.id)?.message : undefined;
    if (next && nextMessage !== undefined && fixPattern.test(nextMessage)) {
      reasons.push(`followed by fix ${shortId(next.execution.id)} "${oneLine(nextMessage, 60)}"`);
    }
    if (reasons.length > 0) failureReasons.set(d.execution.id, reasons);
  }
  const failures: DeploymentFailure[] = deployments
    .filter((d) => failureReasons.has(d.execution.id))
    .map((d) => ({
      executionId: d.execution.id,
      deployedAt: d.deployedAt,
      reasons: failureReasons.get(d.execution.id) ?? [],
    }));

  // Restored by the next deploy (a deployment or a rollback) that is healthy: its smoke test passed (a rollback
  // that ran none counts by its deploy) and, for a deployment, it is not itself a failed one.
  const healthy = (e: DeployEvent) =>
    (e.test?.status === 'Succeeded' || (e.rollback && e.test === undefined)) &&
    !failureReasons.has(e.execution.id);
  const restored: Restoration[] = [];
  const open: Restoration[] = [];
  for (const failure of failures) {
    const fix = events.find((e) => e.deployedAt.getTime() > failure.deployedAt.getTime() && healthy(e));
    const record = {
      executionId: failure.executionId,
      failedAt: failure.deployedAt,
      restoredAt: fix?.deployedAt,
      restoredBy: fix?.execution.id,
      durationMs: (fix?.deployedAt.getTime() ?? window.to) - failure.deployedAt.getTime(),
    };
    (fix ? restored : open).push(record);
  }

  return {
    stage: prod.stageName,
    days,
    deploymentFrequency: {
      deployments: deployments.length,
      perDay: deployments.length / days,
      perWeek: (deployments.length / days) * 7,
    },
    leadTime: {
      medianMs: nearestRank(leadTimes, 50),
      p90Ms: nearestRank(leadTimes, 90),
      samples,
      withoutCommitTime,
    },
    changeFailureRate: {
      failed: failures.length,
      deployments: deployments.length,
      rate: deployments.length === 0 ? undefined : failures.length / deployments.length,
      failures,
    },
    timeToRestore: {
      medianMs: nearestRank(
        restored.map((r) => r.durationMs),
        50,
      ),
      restored,
      open,
    },
  };
}

/** Executions whose commit is shown or measured, so worth a GetPipelineExecution each. */
export function executionsNeedingDetail(
  history: PipelineHistory,
  layout: PipelineLayout,
  window: MetricsWindow,
): Set<string> {
  const ids = new Set<string>();
  for (const stage of layout.deployStages) {
    const events = deployEvents(history, stage);
    const last = events.at(-1);
    if (last) ids.add(last.execution.id);
    if (!stage.isProduction) continue;
    for (const e of events) {
      if (e.deployedAt.getTime() >= window.from) ids.add(e.execution.id);
    }
  }
  return ids;
}

export function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

export function isoMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16)}Z`;
}

/**
 * `<stage>.<action>` for a person. Steps CDK Pipelines runs between a change set's creation and its execution
 * are named `<stack name>.<step id>`; they read as `Prod.ApproveDeploy`, the way the pipeline stack names them.
 */
export function actionLabel(stageName: string | undefined, actionName: string | undefined): string {
  const steps: readonly string[] = Object.values(PIPELINE_ACTIONS);
  const step = actionName?.slice(actionName.lastIndexOf('.') + 1);
  const label = step !== undefined && steps.includes(step) ? step : actionName;
  return `${stageName}.${label}`;
}
