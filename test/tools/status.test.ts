import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERROR_FILTER_PATTERN, formatAge, status } from '../../tools/status.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/222222222222/proc-dev-Ingest1';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/222222222222/proc-dev-Dead2';
const TOPIC = 'arn:aws:sns:eu-west-1:222222222222:alarms';
const FLAGS = [
  '--stage',
  'dev',
  '--queue-url',
  QUEUE_URL,
  '--dlq-url',
  DLQ_URL,
  '--function-name',
  'proc-fn',
  '--alarm-topic-arn',
  TOPIC,
];

const sqsMock = mockClient(SQSClient);
const cwMock = mockClient(CloudWatchClient);
const logsMock = mockClient(CloudWatchLogsClient);
const lambdaMock = mockClient(LambdaClient);
const deps = () => ({
  sqs: new SQSClient({ region: 'eu-west-1' }),
  cloudWatch: new CloudWatchClient({ region: 'eu-west-1' }),
  logs: new CloudWatchLogsClient({ region: 'eu-west-1' }),
  lambda: new LambdaClient({ region: 'eu-west-1' }),
  clock: fakeClock(Date.UTC(2025, 5, 1, 12, 0, 0)),
  env: NO_REGION_ENV,
});

function queues(dlqVisible: number) {
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves({
    Attributes: {
      QueueArn: 'arn:q',
      ApproximateNumberOfMessages: '12',
      ApproximateNumberOfMessagesNotVisible: '3',
    },
  });
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({
    Attributes: { QueueArn: 'arn:d', ApproximateNumberOfMessages: String(dlqVisible) },
  });
}

beforeEach(() => {
  cwMock.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'age0', Values: [45, 30] },
      { Id: 'age1', Values: [] },
    ],
  });
  lambdaMock.on(GetFunctionConfigurationCommand).resolves({
    State: 'Active',
    LastUpdateStatus: 'Successful',
    MemorySize: 256,
    Timeout: 30,
    LoggingConfig: { LogGroup: 'proc-dev-FunctionLogGroupABC' },
  });
  logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
});

afterEach(() => {
  sqsMock.reset();
  cwMock.reset();
  logsMock.reset();
  lambdaMock.reset();
});

describe('status', () => {
  it('shows queues, alarms (firing first, all pages) and the newest errors, and exits 1 when an alarm fires', async () => {
    queues(0);
    cwMock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [{ AlarmName: 'a-errors', StateValue: 'OK' }],
        NextToken: 'page2',
      })
      .resolvesOnce({
        MetricAlarms: [
          {
            AlarmName: 'proc-dev-MonitoringIngestOldestMessageAlarmDECEBD51-X1',
            StateValue: 'ALARM',
            StateUpdatedTimestamp: new Date(Date.UTC(2025, 5, 1, 11, 50)),
          },
        ],
      });
    logsMock.on(FilterLogEventsCommand).resolves({
      events: [
        { timestamp: Date.UTC(2025, 5, 1, 11, 10), message: '{"level":"ERROR","message":"old"}' },
        { timestamp: Date.UTC(2025, 5, 1, 11, 30), message: '{"level":"ERROR",\n"message":"newest"}' },
        { timestamp: Date.UTC(2025, 5, 1, 11, 20), message: '{"level":"ERROR","message":"middle"}' },
      ],
    });
    const io = captureIo();

    const code = await status([...FLAGS, '--errors', '2', '--minutes', '30'], io, deps());

    expect(code).toBe(1);
    expect(cwMock.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input)).toEqual([
      { ActionPrefix: TOPIC, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] },
      { ActionPrefix: TOPIC, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken: 'page2' },
    ]);
    expect(logsMock.commandCalls(FilterLogEventsCommand)[0]?.args[0].input).toEqual({
      logGroupName: 'proc-dev-FunctionLogGroupABC',
      filterPattern: ERROR_FILTER_PATTERN,
      startTime: Date.UTC(2025, 5, 1, 11, 30),
      endTime: Date.UTC(2025, 5, 1, 12, 0),
    });
    const metricQuery = cwMock.commandCalls(GetMetricDataCommand)[0]?.args[0].input.MetricDataQueries?.[1];
    expect(metricQuery?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'QueueName', Value: 'proc-dev-Dead2' },
    ]);

    expect(io.lines).toEqual([
      's3-object-processor-dev-processor (eu-west-1) at 2025-06-01T12:00:00.000Z',
      'ingest queue  12 visible, 3 in flight, 0 delayed; oldest 45 s',
      'dead letters  0 visible, 0 in flight, 0 delayed; oldest n/a (no datapoint)',
      'function      proc-fn: Active, last update Successful, 256 MiB, timeout 30 s',
      'alarms        2 on the alarm topic: 1 ALARM, 0 INSUFFICIENT_DATA, 1 OK',
      '  ALARM             proc-dev-MonitoringIngestOldestMessageAlarmDECEBD51-X1 since 2025-06-01T11:50:00.000Z -> docs/runbooks/ingest-oldest-message.md',
      '  OK                a-errors',
      'errors        3 in the last 30 min in proc-dev-FunctionLogGroupABC; newest 2:',
      '  2025-06-01T11:30:00.000Z {"level":"ERROR", "message":"newest"}',
      '  2025-06-01T11:20:00.000Z {"level":"ERROR","message":"middle"}',
      'needs attention: follow the runbook named next to each firing alarm (docs/runbooks/)',
    ]);
  });

  it('exits 0 when every alarm is OK and the DLQ is empty, and 1 as soon as the DLQ holds a message', async () => {
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'x', StateValue: 'OK' }] });
    queues(0);
    expect(await status(FLAGS, captureIo(), deps())).toBe(0);
    queues(1);
    expect(await status(FLAGS, captureIo(), deps())).toBe(1);
  });

  it('stops reading errors after 20 pages and does not call the latest it read the newest', async () => {
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    queues(0);
    let page = 0;
    logsMock.on(FilterLogEventsCommand).callsFake(() => {
      page += 1;
      return {
        events: [{ timestamp: Date.UTC(2025, 5, 1, 11, 0, page), message: `error ${page}` }],
        nextToken: `t${page}`,
      };
    });
    const io = captureIo();

    await status(FLAGS, io, deps());

    expect(logsMock.commandCalls(FilterLogEventsCommand)).toHaveLength(20);
    const heading = io.lines.find((l) => l.startsWith('errors'));
    expect(heading).toContain('20+ (first pages only)');
    expect(heading).not.toContain('newest');
    expect(heading).toContain('newer ones were not read: lower --minutes');
  });

  it('reads nothing but names in a dry run', async () => {
    const io = captureIo();
    expect(await status([...FLAGS, '--dry-run'], io, deps())).toBe(0);
    const calls = [sqsMock.calls(), cwMock.calls(), logsMock.calls(), lambdaMock.calls()].map(
      (c) => c.length,
    );
    expect(calls).toEqual([0, 0, 0, 0]);
    expect(io.text()).toContain('proc-fn');
  });

  it('formats ages for a human', () => {
    expect([formatAge(59.6), formatAge(900), formatAge(9000)]).toEqual(['60 s', '15 min', '2.5 h']);
  });
});
