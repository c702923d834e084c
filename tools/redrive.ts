/**
 * Moves dead-lettered messages back to the ingest queue with an SQS message move task, so that the processor
 * retries them after a fix. Run it only once the cause is fixed: otherwise the messages fail maxReceiveCount times
 * again and land back in the DLQ.
 */
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  type Clock,
  COMMON_HELP,
  type Io,
  integerOption,
  numberOption,
  parseToolArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { clientConfig, resolveOutputs, stageContext } from './lib/targets.ts';

export const REDRIVE_HELP = `Usage: npm run redrive -- --stage <name> [options]

Moves every message in the stage's dead-letter queue back to its ingest queue (SQS StartMessageMoveTask),
waits for the move to finish and prints the queue counts before and after. Fix the cause first (see
docs/runbooks/dead-letter-messages.md): a message that still fails comes back to the DLQ.

Options:
  --max-per-second <n>      cap the move rate (SQS default: as fast as it can, up to 500/s)
  --poll-seconds <n>        how often to report progress (default 10)
  --timeout-minutes <n>     stop waiting after this long; the move itself carries on (default 60)
  --dlq-url <url>           dead-letter queue URL instead of the stack output
  --queue-url <url>         ingest queue URL instead of the stack output
${COMMON_HELP}`;

/** What a queue holds right now (approximate, as SQS reports it). */
export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

interface QueueInfo {
  readonly arn: string;
  readonly counts: QueueCounts;
}

export async function queueInfo(sqs: SQSClient, queueUrl: string): Promise<QueueInfo> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'QueueArn',
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  if (!a.QueueArn) throw new ToolError(`queue ${queueUrl} returned no ARN`);
  return {
    arn: a.QueueArn,
    counts: {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    },
  };
}

export function formatCounts(c: QueueCounts): string {
  return `${c.visible} visible, ${c.inFlight} in flight, ${c.delayed} delayed`;
}

export interface RedriveDeps {
  readonly sqs?: SQSClient;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

export async function redrive(argv: readonly string[], io: Io, deps: RedriveDeps = {}): Promise<number> {
  const args = parseToolArgs(argv, {
    'max-per-second': { type: 'string' },
    'poll-seconds': { type: 'string' },
    'timeout-minutes': { type: 'string' },
    'dlq-url': { type: 'string' },
    'queue-url': { type: 'string' },
  });
  if (args.help) {
    io.out(REDRIVE_HELP);
    return 0;
  }
  // SQS accepts 1..500 messages per second for a move task.
  const maxPerSecond =
    args['max-per-second'] === undefined
      ? undefined
      : integerOption('max-per-second', args['max-per-second'], 1, 500);
  const pollMs = numberOption('poll-seconds', args['poll-seconds'], 10) * 1000;
  const timeoutMs = numberOption('timeout-minutes', args['timeout-minutes'], 60) * 60_000;
  const context = stageContext({ ...args, env: deps.env });
  const clock = deps.clock ?? systemClock;
  const sqs = deps.sqs ?? new SQSClient(clientConfig(context.target, 'sqs'));

  const names = await resolveOutputs(context, ['deadLetterQueueUrl', 'ingestQueueUrl'], {
    deadLetterQueueUrl: args['dlq-url'],
    ingestQueueUrl: args['queue-url'],
  });
  const dlq = await queueInfo(sqs, names.deadLetterQueueUrl);
  const ingest = await queueInfo(sqs, names.ingestQueueUrl);
  io.out(`stage ${context.stage.stageName} (${context.target.region})`);
  io.out(`before: DLQ ${formatCounts(dlq.counts)}; ingest ${formatCounts(ingest.counts)}`);

  const previous = await latestTask(sqs, dlq.arn);
  const running = isActive(previous) ? previous : undefined;
  if (running) {
    throw new ToolError(
      `a message move task is already running from ${dlq.arn} (${running.ApproximateNumberOfMessagesMoved ?? 0} of ${running.ApproximateNumberOfMessagesToMove ?? '?'} moved); wait for it, or cancel it with \`aws sqs cancel-message-move-task --task-handle ${running.TaskHandle}\``,
    );
  }
  if (dlq.counts.visible === 0) {
    io.out(
      dlq.counts.inFlight > 0
        ? `nothing to move now: the DLQ's ${dlq.counts.inFlight} messages are in flight (someone is reading them); try again when their visibility timeout ends`
        : 'nothing to move: the DLQ is empty',
    );
    return 0;
  }
  const rate = maxPerSecond === undefined ? 'as fast as SQS allows' : `at most ${maxPerSecond}/s`;
  if (args['dry-run']) {
    io.out(`dry run: would move ~${dlq.counts.visible} messages from ${dlq.arn} to ${ingest.arn}, ${rate}`);
    return 0;
  }

  const started = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: dlq.arn,
      DestinationArn: ingest.arn,
      ...(maxPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: maxPerSecond }),
    }),
  );
  io.progress(`move task started (${rate}): ${started.TaskHandle}`);

  const deadline = clock.now() + timeoutMs;
  // The listing may still show the task before ours for a moment, and SQS returns a task's handle only while it
  // runs: ours is the one with our handle, or any task that started after the one listed before we started ours.
  const isOurs = (t: ListMessageMoveTasksResultEntry | undefined) =>
    t !== undefined &&
    (t.TaskHandle === started.TaskHandle || t.StartedTimestamp !== previous?.StartedTimestamp);
  let task: ListMessageMoveTasksResultEntry | undefined;
  for (;;) {
    await clock.sleep(pollMs);
    const latest = await latestTask(sqs, dlq.arn);
    task = isOurs(latest) ? latest : undefined;
    io.progress(
      task === undefined
        ? '  waiting for SQS to list the new move task'
        : `  ${task.Status ?? 'UNKNOWN'}: ${task.ApproximateNumberOfMessagesMoved ?? 0} of ${task.ApproximateNumberOfMessagesToMove ?? '?'} moved`,
    );
    if (task !== undefined && !isActive(task)) break;
    if (clock.now() >= deadline) {
      io.out(
        `still running after ${timeoutMs / 60_000} minutes; it carries on in SQS. Check again with \`npm run status -- --stage ${context.stage.stageName}\``,
      );
      return 1;
    }
  }

  const dlqAfter = await queueInfo(sqs, names.deadLetterQueueUrl);
  const ingestAfter = await queueInfo(sqs, names.ingestQueueUrl);
  io.out(`after:  DLQ ${formatCounts(dlqAfter.counts)}; ingest ${formatCounts(ingestAfter.counts)}`);
  io.out(
    `move task ${task?.Status ?? 'UNKNOWN'}: ${task?.ApproximateNumberOfMessagesMoved ?? 0} messages moved`,
  );
  if (task?.Status !== 'COMPLETED') {
    io.out(`the move did not complete${task?.FailureReason ? `: ${task.FailureReason}` : ''}`);
    return 1;
  }
  return 0;
}

async function latestTask(
  sqs: SQSClient,
  sourceArn: string,
): Promise<ListMessageMoveTasksResultEntry | undefined> {
  const { Results = [] } = await sqs.send(
    new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }),
  );
  return Results[0];
}

function isActive(task: ListMessageMoveTasksResultEntry | undefined): boolean {
  return task?.Status === 'RUNNING' || task?.Status === 'CANCELLING';
}

if (import.meta.main) await runTool(redrive);
