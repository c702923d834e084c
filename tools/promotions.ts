/**
 * Promotion history and DORA metrics of the delivery pipeline, in the terminal: which commit each stage runs and
 * since when, how far recent executions got and why they stopped, and deployment frequency, lead time, change
 * failure rate and time to restore for production. Read-only: it only calls CodePipeline's Get/List APIs.
 */
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import {
  PIPELINE_STAGES,
  postDeployTestAction,
  stageActions,
  stageConditionRules,
  stageId,
} from '../lib/config/names.ts';
import { PROJECT_ROOT } from '../lib/config/resolve.ts';
import type { AppConfig } from '../lib/config/stage-config.ts';
import {
  type Clock,
  type Io,
  integerOption,
  numberOption,
  parseToolArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { type CommitAuthors, gitCommitAuthors } from './lib/commit-authors.ts';
import {
  type Commit,
  currentDeployments,
  DEFAULT_FIX_PATTERN,
  type DoraMetrics,
  describeExecution,
  doraMetrics,
  type ExecutionReport,
  executionsNeedingDetail,
  executionsNeedingRules,
  isoMinute,
  oneLine,
  type PipelineLayout,
  principal,
  type Restoration,
  rollbacksByExecution,
  type StageDeployment,
} from './lib/delivery-metrics.ts';
import {
  type PipelineHistory,
  readExecutionDetails,
  readPipelineHistory,
  readRuleExecutions,
} from './lib/pipeline-history.ts';
import { clientConfig, pipelineContext } from './lib/targets.ts';

/** CodePipeline keeps 12 months of execution and action history. */
const MAX_DAYS = 365;

export const PROMOTIONS_HELP = `Usage: npm run promotions -- [options]

Reads the delivery pipeline's history (CodePipeline GetPipelineState, ListPipelineExecutions,
ListActionExecutions, GetPipelineExecution, ListRuleExecutions; read-only) and prints:
  - per stage: the commit it runs now (id, message, author), since when, the execution that deployed it, that
    execution's IntegrationTests (SmokeTest in prod) result, and for prod who approved it and when;
  - recent executions: the stages each deployed to, and how it ended (released, in progress, failed at a named
    action, rejected with the reviewer's comment, blocked at a stage's entry by a named alarm rule, rolled back
    by a stage's bake-time alarm, superseded, cancelled, stopped, rolled back);
  - the four DORA metrics for prod over the last --days days.

Options:
  --days <n>                the metrics window, ending now (default 30, at most ${MAX_DAYS})
  --executions <n>          how many recent executions to list (default 10)
  --fix-pattern <regex>     what marks a commit message as a fix, case-insensitive
                            (default: ${DEFAULT_FIX_PATTERN})
  --max-pages <n>           read at most n pages (100 entries each) of each listing (default 100)
  --pipeline <name>         pipeline name (default: the project's, as cdk synth names it)
  --region <region>         the pipeline's region (default: the tooling region, as cdk synth resolves it)
  --endpoint codepipeline=<url>   send the CodePipeline calls elsewhere (a stand-in); repeatable per service
  --no-git                  do not look commit authors up in this git checkout
  --json                    one JSON document on stdout instead of text
  --dry-run                 say what would be read, read nothing
  -h, --help                this text
Credentials: the tooling account's, from the usual AWS chain (AWS_PROFILE, SSO, environment, instance role).

Definitions (the window is [now - days, now]; "prod" is the production stage, Prod):
  prod deployment          a standard execution's successful <prod stack>.Deploy action (CloudFormation executed
                           the change set: prod runs the new version from then) that finished in the window. A
                           deploy that failed changed nothing (CloudFormation rolled it back) and is no
                           deployment; a ROLLBACK execution restores, and is no deployment either.
  deployment frequency     prod deployments in the window; per day = count / days, per week = per day x 7.
  lead time for changes    per prod deployment: the Deploy action's finish minus the commit time of the commit
                           the execution carried. Commit time = the source action's AuthorDate output variable
                           (the commit's git author date, as CodeConnections and CodeCommit report it); when
                           absent, the source artifact revision's "created" time (GetPipelineExecution);
                           deployments with neither are left out and named. Median and p90 by nearest rank:
                           the smallest lead time that at least 50 % (90 %) of the deployments did not exceed.
  change failure rate      failed prod deployments / prod deployments. A deployment failed when, after it and
                           before now: (a) a ROLLBACK execution rolled Prod back from it, (b) its own
                           execution's SmokeTest failed, or (c) the next prod deployment is a fix: its commit
                           message matches --fix-pattern.
  time to restore          per failed prod deployment: from its Deploy finish to the Deploy finish of the next
                           healthy prod deploy (a deployment or a rollback): its SmokeTest passed (a rollback that
                           ran none counts by its deploy) and it is not itself a failed deployment. Median (nearest
                           rank) over those restored; those not restored yet are listed as open.
  stage conditions         an execution an entry condition kept out of Prod (a health alarm in ALARM) deployed
                           nothing there: no deployment, no failure, no lead time (its commit counts when a later
                           execution carries it to prod). The alarm says prod or staging is unhealthy, not which
                           change made it so, and is blamed on no deployment. A stage its bake time rolled back
                           (its health alarm went to ALARM while watched after its tests passed): in Prod, the
                           deployment counts, is failed by (a) above and restored by the rollback's deploy; in
                           Dev or Staging nothing reached prod, and it counts in no metric.

What the API does not tell:
  - history older than 12 months (CodePipeline keeps no more): a stage last deployed before that shows "unknown";
  - the author of a commit: read from this git checkout (git fetch first), otherwise "author unknown";
  - every commit of a push: an execution carries only the branch head, so the lead time of commits pushed
    together with it is measured by the head;
  - deploys made outside the pipeline (cdk deploy by hand): the pipeline never saw them;
  - a fix is recognised only by its commit message, and blames the prod deployment just before it; a deployment
    late in the window has had less time to be found failed.`;

export interface PromotionsDeps {
  readonly codePipeline?: CodePipelineClient;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
  /** @default the authors in this git checkout */
  readonly authors?: CommitAuthors;
}

/** The approval before the production deploy, as the synthesized pipeline names it. */
function productionApproval(config: AppConfig): string {
  const prod = config.stages.find((s) => s.isProduction);
  const approval = prod === undefined ? undefined : stageActions(config.project, prod).approval;
  if (approval === undefined)
    throw new ToolError('the configuration has no production stage with an approval');
  return approval;
}

/** The delivery pipeline's stages and actions, named as lib/config/names.ts names them. */
export function pipelineLayout(config: AppConfig): PipelineLayout {
  const deployStages = config.stages.map((stage) => {
    const rules = stageConditionRules(stage);
    return {
      stageName: stage.stageName,
      pipelineStage: stageId(stage.stageName),
      deployAction: stageActions(config.project, stage).deploy,
      testAction: postDeployTestAction(stage),
      isProduction: stage.isProduction,
      entryRules: [rules.entryPreviousStageHealthy, rules.entryOwnHealthy],
      bakeRule: rules.bakeTime,
    };
  });
  return {
    sourceStage: PIPELINE_STAGES.source,
    stageOrder: [...Object.values(PIPELINE_STAGES), ...deployStages.map((s) => s.pipelineStage)],
    deployStages,
    approvalAction: productionApproval(config),
  };
}

export async function promotions(
  argv: readonly string[],
  io: Io,
  deps: PromotionsDeps = {},
): Promise<number> {
  const args = parseToolArgs(argv, {
    days: { type: 'string' },
    executions: { type: 'string' },
    'fix-pattern': { type: 'string' },
    'max-pages': { type: 'string' },
    pipeline: { type: 'string' },
    'no-git': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (args.help) {
    io.out(PROMOTIONS_HELP);
    return 0;
  }
  if (args.stage !== undefined) {
    throw new ToolError(
      '--stage does not apply: promotions reads the whole pipeline, every stage; see --help',
      2,
    );
  }
  const days = numberOption('days', args.days, 30);
  if (days > MAX_DAYS) {
    throw new ToolError(`--days is ${days}; CodePipeline keeps ${MAX_DAYS} days of history at most`, 2);
  }
  const listed = integerOption('executions', args.executions, 10);
  const maxPages = integerOption('max-pages', args['max-pages'], 100);
  let fixPattern: RegExp;
  try {
    fixPattern = new RegExp(args['fix-pattern'] ?? DEFAULT_FIX_PATTERN, 'i');
  } catch (error) {
    throw new ToolError(`--fix-pattern is not a regular expression: ${(error as Error).message}`, 2);
  }
  const context = pipelineContext({ ...args, env: deps.env });
  const { pipelineName, target } = context;
  if (args['dry-run']) {
    io.out(
      `dry run: promotions only reads; it would read pipeline ${pipelineName} in ${target.region} (GetPipelineState, ListPipelineExecutions, ListActionExecutions, GetPipelineExecution, ListRuleExecutions)`,
    );
    return 0;
  }
  const clock = deps.clock ?? systemClock;
  const client = deps.codePipeline ?? new CodePipelineClient(clientConfig(target, 'codepipeline'));
  const authors: CommitAuthors =
    deps.authors ?? (args['no-git'] ? async () => undefined : gitCommitAuthors(PROJECT_ROOT));
  const layout = pipelineLayout(context.config);
  const now = clock.now();
  const window = { from: now - days * 86_400_000, to: now };

  const history = await readPipelineHistory(client, {
    pipelineName,
    since: window.from,
    maxPages,
    sourceStage: layout.sourceStage,
    deployActions: layout.deployStages.map((s) => [s.pipelineStage, s.deployAction] as const),
    progress: io.progress,
  });
  await readExecutionDetails(client, history, executionsNeedingDetail(history, layout, window));
  const listedExecutions = history.executions.slice(0, listed);
  await readRuleExecutions(client, history, executionsNeedingRules(listedExecutions), maxPages);

  const rolledBack = rollbacksByExecution(history);
  const stages = currentDeployments(history, layout);
  const recent = listedExecutions.map((e) => describeExecution(e, history, layout, rolledBack));
  const metrics = doraMetrics(history, layout, window, fixPattern, rolledBack);
  const commitIds = [...stages.map((s) => s.deployment?.commit.id), ...recent.map((r) => r.commit.id)].filter(
    (id): id is string => id !== undefined,
  );
  const authorOf = new Map(
    await Promise.all([...new Set(commitIds)].map(async (id) => [id, await authors(id)] as const)),
  );
  if (!history.complete) {
    io.progress(
      `warning: stopped at --max-pages ${maxPages}, back to ${history.oldestRead?.toISOString() ?? '?'}: the figures cover only the history read (raise --max-pages)`,
    );
  }

  const report = {
    pipelineName,
    region: target.region,
    now,
    days,
    window,
    history,
    stages,
    recent,
    metrics,
    authorOf,
  };
  if (args.json) io.out(JSON.stringify(toJson(report), null, 2));
  else for (const line of toText(report)) io.out(line);
  return 0;
}

interface Report {
  readonly pipelineName: string;
  readonly region: string;
  readonly now: number;
  readonly days: number;
  readonly window: { readonly from: number; readonly to: number };
  readonly history: PipelineHistory;
  readonly stages: readonly {
    readonly stage: { readonly stageName: string; readonly pipelineStage: string };
    readonly deployment: StageDeployment | undefined;
  }[];
  readonly recent: readonly ExecutionReport[];
  readonly metrics: DoraMetrics;
  readonly authorOf: ReadonlyMap<string, string | undefined>;
}

/** `2h 40m`, `1d 2h`, `45m`, `30s`: durations down to the minute. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  const minutes = Math.floor(abs / 60_000);
  if (minutes === 0) return `${sign}${Math.floor(abs / 1000)}s`;
  const [d, h, m] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60];
  if (d > 0) return `${sign}${d}d ${h}h`;
  if (h > 0) return `${sign}${h}h ${m}m`;
  return `${sign}${m}m`;
}

const short = (id: string | undefined, length = 8) => (id ? id.slice(0, length) : '?');
const at = (date: Date | undefined) => (date ? isoMinute(date) : '?');

function commitLine(commit: Commit, authorOf: ReadonlyMap<string, string | undefined>): string {
  const author = commit.id ? authorOf.get(commit.id) : undefined;
  // The subject line, as `git log --oneline` shows it; --json has the whole message.
  const subject = commit.message?.split('\n', 1)[0] ?? '(no message)';
  return `${short(commit.id, 7)} ${oneLine(subject, 72)} (${author ?? 'author unknown'})`;
}

function toText(r: Report): string[] {
  const lines: string[] = [];
  const { history, metrics } = r;
  lines.push(
    `pipeline ${r.pipelineName} (${r.region}) at ${isoMinute(new Date(r.now))}; read ${history.executions.length} executions, back to ${at(history.oldestRead)}${history.complete ? '' : ' (incomplete: raise --max-pages)'}`,
  );
  lines.push('', 'Deployed now');
  for (const { stage, deployment: d } of r.stages) {
    const name = stage.stageName.padEnd(8);
    if (!d) {
      lines.push(`  ${name} unknown: no successful ${stage.pipelineStage} deploy in the history read`);
      continue;
    }
    lines.push(`  ${name} ${commitLine(d.commit, r.authorOf)}`);
    const by = d.rollback
      ? `rollback ${short(d.execution.id)} (to ${short(d.rollbackTarget)})`
      : `execution ${short(d.execution.id)}`;
    const test = d.test
      ? `${d.test.action} ${d.test.status} ${at(d.test.at)}`
      : `${d.stage.testAction} not run`;
    lines.push(
      `  ${''.padEnd(8)} since ${at(d.deployedAt)} (${formatDuration(r.now - d.deployedAt.getTime())} ago), by ${by}; ${test}`,
    );
    if (stage.stageName === metrics.stage) {
      const a = d.approval;
      lines.push(
        `  ${''.padEnd(8)} ${a ? `approved by ${principal(a.by)} at ${at(a.at)}${a.executionId === d.execution.id ? '' : ` in ${short(a.executionId)}`}${a.summary ? `: "${oneLine(a.summary, 80)}"` : ''}` : 'approval: none read'}`,
      );
    }
    const transition = history.state.stageStates?.find(
      (s) => s.stageName === stage.pipelineStage,
    )?.inboundTransitionState;
    if (transition?.enabled === false) {
      lines.push(
        `  ${''.padEnd(8)} closed: the transition into ${stage.pipelineStage} is disabled${transition.lastChangedBy ? ` by ${principal(transition.lastChangedBy)}` : ''}${transition.lastChangedAt ? ` since ${at(transition.lastChangedAt)}` : ''}${transition.disabledReason ? `: "${transition.disabledReason}"` : ''}`,
      );
    }
  }

  lines.push('', `Recent executions (newest first, ${r.recent.length} of ${history.executions.length} read)`);
  for (const e of r.recent) {
    const deployed = e.deployedTo.length > 0 ? `deployed ${e.deployedTo.join(', ')}; ` : '';
    lines.push(`  ${at(e.startedAt)}  ${short(e.id)}  ${commitLine(e.commit, r.authorOf)}`);
    lines.push(`  ${''.padEnd(17)}  ${''.padEnd(8)}  ${deployed}${e.outcome.text}`);
  }

  const { deploymentFrequency: f, leadTime: l, changeFailureRate: c, timeToRestore: t } = metrics;
  lines.push(
    '',
    `DORA metrics for ${metrics.stage}, last ${r.days} days (${at(new Date(r.window.from))} to ${at(new Date(r.window.to))}); definitions: --help`,
  );
  lines.push(
    `  deployment frequency   ${f.deployments} deployments: ${f.perDay.toFixed(2)} a day, ${f.perWeek.toFixed(2)} a week`,
  );
  const sources = [...new Set(l.samples.map((s) => s.commitTimeSource))].join(', ');
  lines.push(
    l.samples.length === 0
      ? '  lead time for changes  n/a (no deployment with a commit time)'
      : `  lead time for changes  median ${formatDuration(l.medianMs ?? 0)}, p90 ${formatDuration(l.p90Ms ?? 0)} over ${l.samples.length} deployments (commit time from ${sources})`,
  );
  if (l.withoutCommitTime.length > 0) {
    lines.push(
      `  ${''.padEnd(22)} left out, no commit time: ${l.withoutCommitTime.map((id) => short(id)).join(', ')}`,
    );
  }
  lines.push(
    c.rate === undefined
      ? '  change failure rate    n/a (no deployments)'
      : `  change failure rate    ${Math.round(c.rate * 100)}% (${c.failed} of ${c.deployments})`,
  );
  for (const failure of c.failures) {
    lines.push(
      `  ${''.padEnd(22)} ${short(failure.executionId)} ${at(failure.deployedAt)}: ${failure.reasons.join('; ')}`,
    );
  }
  lines.push(
    t.restored.length === 0
      ? `  time to restore        n/a (none restored); ${t.open.length} open`
      : `  time to restore        median ${formatDuration(t.medianMs ?? 0)} over ${t.restored.length} restored; ${t.open.length} open`,
  );
  for (const x of t.restored) {
    lines.push(
      `  ${''.padEnd(22)} ${short(x.executionId)} restored by ${short(x.restoredBy)} in ${formatDuration(x.durationMs)}`,
    );
  }
  for (const x of t.open) {
    lines.push(`  ${''.padEnd(22)} ${short(x.executionId)} open for ${formatDuration(x.durationMs)}`);
  }
  return lines;
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms / 1000));

function commitJson(commit: Commit, authorOf: ReadonlyMap<string, string | undefined>) {
  return {
    id: commit.id ?? null,
    message: commit.message ?? null,
    author: (commit.id ? authorOf.get(commit.id) : undefined) ?? null,
    url: commit.url ?? null,
    time: commit.time ?? null,
    timeSource: commit.timeSource ?? null,
  };
}

function restorationJson({ durationMs, ...x }: Restoration) {
  return {
    ...x,
    restoredAt: x.restoredAt ?? null,
    restoredBy: x.restoredBy ?? null,
    durationSeconds: seconds(durationMs),
  };
}

function toJson(r: Report) {
  const { history, metrics: m } = r;
  return {
    pipeline: { name: r.pipelineName, region: r.region },
    generatedAt: new Date(r.now),
    window: { days: r.days, from: new Date(r.window.from), to: new Date(r.window.to) },
    history: {
      executionsRead: history.executions.length,
      pages: history.pages,
      oldestRead: history.oldestRead ?? null,
      complete: history.complete,
    },
    stages: r.stages.map(({ stage, deployment: d }) => {
      const transition = history.state.stageStates?.find(
        (s) => s.stageName === stage.pipelineStage,
      )?.inboundTransitionState;
      return {
        stage: stage.stageName,
        pipelineStage: stage.pipelineStage,
        transitionEnabled: transition?.enabled ?? true,
        deployed: d
          ? {
              commit: commitJson(d.commit, r.authorOf),
              since: d.deployedAt,
              executionId: d.execution.id,
              executionType: d.rollback ? 'ROLLBACK' : 'STANDARD',
              rollbackTarget: d.rollbackTarget ?? null,
              test: d.test ?? null,
              approval: d.approval ?? null,
            }
          : null,
      };
    }),
    executions: r.recent.map((e) => ({
      id: e.id,
      status: e.status,
      type: e.type,
      startedAt: e.startedAt ?? null,
      commit: commitJson(e.commit, r.authorOf),
      deployedTo: e.deployedTo,
      reached: e.reached ?? null,
      outcome: e.outcome,
    })),
    metrics: {
      stage: m.stage,
      deploymentFrequency: m.deploymentFrequency,
      leadTime: {
        medianSeconds: seconds(m.leadTime.medianMs),
        p90Seconds: seconds(m.leadTime.p90Ms),
        deployments: m.leadTime.samples.map(({ leadTimeMs, ...s }) => ({
          ...s,
          leadTimeSeconds: seconds(leadTimeMs),
        })),
        withoutCommitTime: m.leadTime.withoutCommitTime,
      },
      changeFailureRate: m.changeFailureRate,
      timeToRestore: {
        medianSeconds: seconds(m.timeToRestore.medianMs),
        restored: m.timeToRestore.restored.map(restorationJson),
        open: m.timeToRestore.open.map(restorationJson),
      },
    },
  };
}

if (import.meta.main) await runTool(promotions);
