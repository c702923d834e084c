/**
 * Reads a CodePipeline pipeline's history through the read-only API: the executions (ListPipelineExecutions),
 * every action they ran (ListActionExecutions, pipeline-wide, newest first), the details of chosen executions
 * (GetPipelineExecution: source artifact revisions), the stage-condition rules chosen executions ran
 * (ListRuleExecutions) and what stands in the pipeline now (GetPipelineState). It knows nothing of DORA:
 * tools/lib/delivery-metrics.ts interprets what it returns.
 */
import {
  type ActionExecutionDetail,
  type CodePipelineClient,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  type GetPipelineStateOutput,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  ListRuleExecutionsCommand,
  type PipelineExecution,
  type PipelineExecutionSummary,
  type RuleExecutionDetail,
} from '@aws-sdk/client-codepipeline';
import { EXIT, ToolError } from './cli.ts';

/** One pipeline execution as the history shows it. */
export interface Execution {
  readonly id: string;
  /** From ListPipelineExecutions; absent for an execution older than the summaries read. */
  summary?: PipelineExecutionSummary;
  /** From GetPipelineExecution, for the executions whose commit is shown or measured. */
  detail?: PipelineExecution;
  /** Every action execution read for it, newest first (a retried action appears once per attempt). */
  readonly actions: ActionExecutionDetail[];
  /**
   * The stage-condition rules it ran (ListRuleExecutions), newest first, for the executions whose end they
   * explain; undefined when not read.
   */
  rules?: RuleExecutionDetail[];
}

export interface PipelineHistory {
  readonly pipelineName: string;
  /** Newest first (by start time). */
  readonly executions: readonly Execution[];
  readonly byId: ReadonlyMap<string, Execution>;
  readonly state: GetPipelineStateOutput;
  /** Pages read from each listing. */
  readonly pages: { readonly executions: number; readonly actions: number };
  /** Start time of the oldest action execution read. */
  readonly oldestRead: Date | undefined;
  /**
   * False when the page limit stopped the read before it reached the window's start and the current deployment
   * of every stage: the figures then cover only what was read.
   */
  readonly complete: boolean;
}

export interface HistoryRequest {
  readonly pipelineName: string;
  /** Start of the window the metrics cover (epoch ms): the read goes at least this far back. */
  readonly since: number;
  /** Pages of each listing read at most. */
  readonly maxPages: number;
  /** CodePipeline stage whose actions every standard execution starts with. */
  readonly sourceStage: string;
  /** `[stage, deploy action]` of every deploy stage: the read goes on until each has a successful deploy. */
  readonly deployActions: readonly (readonly [string, string])[];
  readonly progress: (line: string) => void;
}

/** Largest page either listing returns. */
const PAGE_SIZE = 100;
/** GetPipelineExecution calls in flight at once: CodePipeline's read APIs are throttled per account. */
const DETAIL_CONCURRENCY = 4;

export async function readPipelineHistory(
  client: CodePipelineClient,
  request: HistoryRequest,
): Promise<PipelineHistory> {
  const { pipelineName, since, maxPages, progress } = request;
  // First, because it is one call and the cheapest way to learn that the pipeline does not exist.
  const state = await call(client, pipelineName, () =>
    client.send(new GetPipelineStateCommand({ name: pipelineName })),
  );

  const summaries = new Map<string, PipelineExecutionSummary>();
  let executionPages = 0;
  let token: string | undefined;
  let oldestSummary = Number.POSITIVE_INFINITY;
  do {
    const page = await call(client, pipelineName, () =>
      client.send(
        new ListPipelineExecutionsCommand({ pipelineName, maxResults: PAGE_SIZE, nextToken: token }),
      ),
    );
    executionPages += 1;
    for (const s of page.pipelineExecutionSummaries ?? []) {
      if (!s.pipelineExecutionId) continue;
      summaries.set(s.pipelineExecutionId, s);
      oldestSummary = Math.min(oldestSummary, s.startTime?.getTime() ?? oldestSummary);
    }
    token = page.nextToken;
    progress(`read ${summaries.size} executions (page ${executionPages}), back to ${iso(oldestSummary)}`);
  } while (token && oldestSummary >= since && executionPages < maxPages);

  const actions: ActionExecutionDetail[] = [];
  let actionPages = 0;
  let oldestAction = Number.POSITIVE_INFINITY;
  let enough = false;
  token = undefined;
  do {
    const page = await call(client, pipelineName, () =>
      client.send(new ListActionExecutionsCommand({ pipelineName, maxResults: PAGE_SIZE, nextToken: token })),
    );
    actionPages += 1;
    for (const a of page.actionExecutionDetails ?? []) {
      actions.push(a);
      oldestAction = Math.min(oldestAction, a.startTime?.getTime() ?? oldestAction);
    }
    token = page.nextToken;
    progress(`read ${actions.length} action executions (page ${actionPages}), back to ${iso(oldestAction)}`);
    enough = readEnough(actions, summaries, oldestAction, request);
  } while (token && !enough && actionPages < maxPages);

  const byId = new Map<string, Execution>();
  const executionOf = (id: string): Execution => {
    let execution = byId.get(id);
    if (!execution) {
      execution = { id, actions: [] };
      byId.set(id, execution);
    }
    return execution;
  };
  for (const [id, summary] of summaries) executionOf(id).summary = summary;
  for (const a of actions) if (a.pipelineExecutionId) executionOf(a.pipelineExecutionId).actions.push(a);
  for (const execution of byId.values())
    execution.actions.sort((a, b) => time(b.startTime) - time(a.startTime));
  const executions = [...byId.values()].sort((a, b) => startOf(b) - startOf(a));

  return {
    pipelineName,
    executions,
    byId,
    state,
    pages: { executions: executionPages, actions: actionPages },
    oldestRead: Number.isFinite(oldestAction) ? new Date(oldestAction) : undefined,
    complete: token === undefined || enough,
  };
}

/**
 * Enough action history has been read when it reaches back past the window's start, every deploy stage's current
 * deployment has been seen, and every standard execution active in the window has been read back to its source
 * action (its first), so that its commit time is known. Rollback executions have no source action.
 */
function readEnough(
  actions: readonly ActionExecutionDetail[],
  summaries: ReadonlyMap<string, PipelineExecutionSummary>,
  oldest: number,
  request: HistoryRequest,
): boolean {
  if (oldest >= request.since) return false;
  const deployed = request.deployActions.every(([stage, action]) =>
    actions.some((a) => a.stageName === stage && a.actionName === action && a.status === 'Succeeded'),
  );
  if (!deployed) return false;
  const active = new Set<string>();
  const sourced = new Set<string>();
  for (const a of actions) {
    if (!a.pipelineExecutionId) continue;
    if (a.stageName === request.sourceStage) sourced.add(a.pipelineExecutionId);
    if (time(a.lastUpdateTime ?? a.startTime) >= request.since) active.add(a.pipelineExecutionId);
  }
  return [...active].every((id) => sourced.has(id) || summaries.get(id)?.executionType === 'ROLLBACK');
}

/** GetPipelineExecution for each id (a few at a time), attached to the history's executions. */
export async function readExecutionDetails(
  client: CodePipelineClient,
  history: PipelineHistory,
  ids: Iterable<string>,
): Promise<void> {
  const queue = [...new Set(ids)].filter((id) => history.byId.get(id)?.detail === undefined);
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const { pipelineExecution } = await call(client, history.pipelineName, () =>
        client.send(
          new GetPipelineExecutionCommand({ pipelineName: history.pipelineName, pipelineExecutionId: id }),
        ),
      );
      const execution = history.byId.get(id);
      if (execution && pipelineExecution) execution.detail = pipelineExecution;
    }
  };
  await Promise.all(Array.from({ length: DETAIL_CONCURRENCY }, worker));
}

/**
 * ListRuleExecutions for each id (a few at a time, every page, up to `maxPages` each), attached to the history's
 * executions. Asked per execution rather than pipeline-wide: every stage entry and bake time runs rules, and only
 * the executions a condition stopped need them.
 */
export async function readRuleExecutions(
  client: CodePipelineClient,
  history: PipelineHistory,
  ids: Iterable<string>,
  maxPages: number,
): Promise<void> {
  const queue = [...new Set(ids)].filter((id) => history.byId.get(id)?.rules === undefined);
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const rules: RuleExecutionDetail[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await call(client, history.pipelineName, () =>
          client.send(
            new ListRuleExecutionsCommand({
              pipelineName: history.pipelineName,
              filter: { pipelineExecutionId: id },
              maxResults: PAGE_SIZE,
              nextToken: token,
            }),
          ),
        );
        pages += 1;
        rules.push(...(page.ruleExecutionDetails ?? []));
        token = page.nextToken;
      } while (token && pages < maxPages);
      const execution = history.byId.get(id);
      if (execution) execution.rules = rules.sort((a, b) => time(b.startTime) - time(a.startTime));
    }
  };
  await Promise.all(Array.from({ length: DETAIL_CONCURRENCY }, worker));
}

/** Makes one call; a pipeline that does not exist becomes an error saying what to change. */
async function call<T>(
  client: CodePipelineClient,
  pipelineName: string,
  request: () => Promise<T>,
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if ((error as Error).name === 'PipelineNotFoundException') {
      const region = await client.config.region();
      throw new ToolError(
        `pipeline "${pipelineName}" not found in ${region}: is the pipeline stack deployed there, and are the credentials for the tooling account? (--pipeline and --region override the configured name and region)`,
        EXIT.notFound,
      );
    }
    throw error;
  }
}

export function time(date: Date | undefined): number {
  return date?.getTime() ?? 0;
}

/** When an execution started: its summary's start time, else its earliest action read. */
export function startOf(execution: Execution): number {
  const started = execution.summary?.startTime;
  if (started) return started.getTime();
  return Math.min(...execution.actions.map((a) => time(a.startTime)), Number.POSITIVE_INFINITY);
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'nothing';
}
