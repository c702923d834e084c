/**
 * One screen of a stage's health for the person holding the pager: queues, the function, alarms, recent errors.
 * Read-only. Exits 1 when something needs attention (an alarm firing or dead-lettered messages), so that it can
 * also gate a script.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandOutput,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
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
import { runbookFor } from './lib/runbooks.ts';
import { clientConfig, resolveOutputs, stageContext } from './lib/targets.ts';
import { formatCounts, queueInfo } from './redrive.ts';

/**
 * Matches what the processor writes at error level (Powertools JSON logs) and what Lambda reports when an
 * invocation dies outside the handler's control (timeout, crash) in the JSON log format.
 */
export const ERROR_FILTER_PATTERN =
  '{ $.level = "ERROR" || $.record.status = "timeout" || $.record.status = "error" || $.record.status = "failure" }';

export const STATUS_HELP = `Usage: npm run status -- --stage <name> [options]

Prints, on one screen: ingest and dead-letter queue depth, age of the oldest message, the function's state,
every alarm that notifies the stage's alarm topic with its state, and the most recent errors from the
function's log group. Read-only. Exit code 1 when an alarm is firing or the DLQ holds messages.

Options:
  --minutes <n>             how far back to look for errors and metrics (default 60)
  --errors <n>              how many recent error lines to show (default 5)
  --filter <pattern>        CloudWatch Logs filter pattern for "errors" (default: level ERROR, timeouts, crashes)
  --queue-url <url>         ingest queue URL instead of the stack output
  --dlq-url <url>           dead-letter queue URL instead of the stack output
  --function-name <name>    function name instead of the stack output
  --alarm-topic-arn <arn>   alarm topic ARN instead of the stack output
${COMMON_HELP}`;

export interface StatusDeps {
  readonly sqs?: SQSClient;
  readonly cloudWatch?: CloudWatchClient;
  readonly logs?: CloudWatchLogsClient;
  readonly lambda?: LambdaClient;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

const ALARM_ORDER: Record<string, number> = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };

export async function status(argv: readonly string[], io: Io, deps: StatusDeps = {}): Promise<number> {
  const args = parseToolArgs(argv, {
    minutes: { type: 'string' },
    errors: { type: 'string' },
    filter: { type: 'string' },
    'queue-url': { type: 'string' },
    'dlq-url': { type: 'string' },
    'function-name': { type: 'string' },
    'alarm-topic-arn': { type: 'string' },
  });
  if (args.help) {
    io.out(STATUS_HELP);
    return 0;
  }
  const minutes = numberOption('minutes', args.minutes, 60);
  const errorLines = integerOption('errors', args.errors, 5);
  const context = stageContext({ ...args, env: deps.env });
  const { target } = context;
  const clock = deps.clock ?? systemClock;
  const names = await resolveOutputs(
    context,
    ['ingestQueueUrl', 'deadLetterQueueUrl', 'functionName', 'alarmTopicArn'],
    {
      ingestQueueUrl: args['queue-url'],
      deadLetterQueueUrl: args['dlq-url'],
      functionName: args['function-name'],
      alarmTopicArn: args['alarm-topic-arn'],
    },
  );
  if (args['dry-run']) {
    io.out(`dry run: status only reads; it would read ${Object.values(names).join(', ')}`);
    return 0;
  }
  const sqs = deps.sqs ?? new SQSClient(clientConfig(target, 'sqs'));
  const cloudWatch = deps.cloudWatch ?? new CloudWatchClient(clientConfig(target, 'cloudwatch'));
  const logs = deps.logs ?? new CloudWatchLogsClient(clientConfig(target, 'logs'));
  const lambda = deps.lambda ?? new LambdaClient(clientConfig(target, 'lambda'));
  const end = clock.now();
  const start = end - minutes * 60_000;

  const [ingest, dlq, ages, fn, alarms] = await Promise.all([
    queueInfo(sqs, names.ingestQueueUrl),
    queueInfo(sqs, names.deadLetterQueueUrl),
    oldestMessageAges(cloudWatch, [names.ingestQueueUrl, names.deadLetterQueueUrl], start, end),
    lambda.send(new GetFunctionConfigurationCommand({ FunctionName: names.functionName })),
    alarmsNotifying(cloudWatch, names.alarmTopicArn),
  ]);
  const logGroup = fn.LoggingConfig?.LogGroup ?? `/aws/lambda/${names.functionName}`;
  const errors = await recentErrors(logs, logGroup, args.filter ?? ERROR_FILTER_PATTERN, start, end);

  io.out(`${context.stackName} (${target.region}) at ${new Date(end).toISOString()}`);
  io.out(`ingest queue  ${formatCounts(ingest.counts)}; oldest ${formatAge(ages[0])}`);
  io.out(`dead letters  ${formatCounts(dlq.counts)}; oldest ${formatAge(ages[1])}`);
  io.out(
    `function      ${names.functionName}: ${fn.State ?? '?'}, last update ${fn.LastUpdateStatus ?? '?'}, ${fn.MemorySize ?? '?'} MiB, timeout ${fn.Timeout ?? '?'} s`,
  );
  const byState = (s: string) => alarms.filter((a) => a.state === s).length;
  io.out(
    `alarms        ${alarms.length} on the alarm topic: ${byState('ALARM')} ALARM, ${byState('INSUFFICIENT_DATA')} INSUFFICIENT_DATA, ${byState('OK')} OK`,
  );
  for (const alarm of alarms) {
    const since = alarm.since ? ` since ${alarm.since.toISOString()}` : '';
    const runbook = alarm.state === 'OK' ? undefined : runbookFor(alarm.name);
    io.out(`  ${alarm.state.padEnd(17)} ${alarm.name}${since}${runbook ? ` -> ${runbook}` : ''}`);
  }
  const shown = errors.events.slice(-errorLines).reverse();
  const counted = `${errors.events.length}${errors.partial ? '+ (first pages only)' : ''}`;
  // FilterLogEvents reads oldest first: when the page limit stopped it, the newest errors were never read, and
  // calling the latest of those read "newest" would show an on-call engineer the start of an incident as its state.
  const heading = errors.partial
    ? `; latest ${shown.length} of those read (newer ones were not read: lower --minutes to see them):`
    : `; newest ${shown.length}:`;
  io.out(`errors        ${counted} in the last ${minutes} min in ${logGroup}${shown.length ? heading : ''}`);
  for (const event of shown) {
    io.out(`  ${new Date(event.timestamp ?? 0).toISOString()} ${oneLine(event.message ?? '', 160)}`);
  }
  const needsAttention = byState('ALARM') > 0 || dlq.counts.visible + dlq.counts.inFlight > 0;
  if (needsAttention) {
    io.out('needs attention: follow the runbook named next to each firing alarm (docs/runbooks/)');
  }
  return needsAttention ? 1 : 0;
}

interface AlarmState {
  readonly name: string;
  readonly state: string;
  readonly since: Date | undefined;
}

/** Every alarm whose actions notify the stage's alarm topic: the stack gives each alarm that action. */
async function alarmsNotifying(cloudWatch: CloudWatchClient, topicArn: string): Promise<AlarmState[]> {
  const alarms: AlarmState[] = [];
  let nextToken: string | undefined;
  do {
    const page: DescribeAlarmsCommandOutput = await cloudWatch.send(
      new DescribeAlarmsCommand({
        ActionPrefix: topicArn,
        AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
      alarms.push({ name: a.AlarmName ?? '?', state: a.StateValue ?? '?', since: a.StateUpdatedTimestamp });
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return alarms.sort(
    (a, b) => (ALARM_ORDER[a.state] ?? 3) - (ALARM_ORDER[b.state] ?? 3) || a.name.localeCompare(b.name),
  );
}

/** Latest ApproximateAgeOfOldestMessage (seconds) per queue, from the AWS/SQS metrics. */
async function oldestMessageAges(
  cloudWatch: CloudWatchClient,
  queueUrls: readonly string[],
  start: number,
  end: number,
): Promise<(number | undefined)[]> {
  const { MetricDataResults = [] } = await cloudWatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(start),
      EndTime: new Date(end),
      ScanBy: 'TimestampDescending',
      MetricDataQueries: queueUrls.map((url, i) => ({
        Id: `age${i}`,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateAgeOfOldestMessage',
            Dimensions: [{ Name: 'QueueName', Value: queueNameOf(url) }],
          },
          Period: 60,
          Stat: 'Maximum',
        },
      })),
    }),
  );
  return queueUrls.map((_, i) => MetricDataResults.find((r) => r.Id === `age${i}`)?.Values?.[0]);
}

/** FilterLogEvents pages read at most: a flood of errors or a huge log group cannot stall the screen. */
const MAX_LOG_PAGES = 20;

interface RecentErrors {
  /** Matching events read, oldest first. */
  readonly events: FilteredLogEvent[];
  /** True when the page limit stopped the read: there are more than `events` shows. */
  readonly partial: boolean;
}

async function recentErrors(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  filterPattern: string,
  start: number,
  end: number,
): Promise<RecentErrors> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  try {
    do {
      const page = await logs.send(
        new FilterLogEventsCommand({
          logGroupName,
          filterPattern,
          startTime: start,
          endTime: end,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken && pages < MAX_LOG_PAGES);
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') {
      throw new ToolError(`log group ${logGroupName} not found: has the function ever run?`);
    }
    throw error;
  }
  return {
    events: events.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0)),
    partial: nextToken !== undefined,
  };
}

export function queueNameOf(queueUrl: string): string {
  const name = new URL(queueUrl).pathname.split('/').filter(Boolean).at(-1);
  if (!name) throw new ToolError(`cannot read a queue name from ${queueUrl}`);
  return name;
}

export function formatAge(seconds: number | undefined): string {
  if (seconds === undefined) return 'n/a (no datapoint)';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

if (import.meta.main) await runTool(status);
