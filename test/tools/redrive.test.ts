import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolError } from '../../tools/lib/cli.ts';
import { redrive } from '../../tools/redrive.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/222222222222/dlq';
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:222222222222:dlq';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/222222222222/ingest';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:222222222222:ingest';

const cfn = mockClient(CloudFormationClient);
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'eu-west-1' });

/** Successive answers of GetQueueAttributes for one queue: its visible message count at each call. */
function queueAttributes(url: string, arn: string, ...visible: number[]) {
  let behaviour = sqsMock.on(GetQueueAttributesCommand, { QueueUrl: url });
  for (const count of visible) {
    behaviour = behaviour.resolvesOnce({
      Attributes: {
        QueueArn: arn,
        ApproximateNumberOfMessages: String(count),
        ApproximateNumberOfMessagesNotVisible: '0',
        ApproximateNumberOfMessagesDelayed: '0',
      },
    });
  }
}

beforeEach(() => {
  cfn.on(DescribeStacksCommand, { StackName: 's3-object-processor-dev-processor' }).resolves({
    Stacks: [
      {
        StackName: 's3-object-processor-dev-processor',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'DeadLetterQueueUrl', OutputValue: DLQ_URL },
          { OutputKey: 'IngestQueueUrl', OutputValue: QUEUE_URL },
        ],
      },
    ],
  });
});

afterEach(() => {
  cfn.reset();
  sqsMock.reset();
});

describe('redrive', () => {
  it('moves the DLQ to the ingest queue named by the stack outputs and reports counts before and after', async () => {
    queueAttributes(DLQ_URL, DLQ_ARN, 3, 0);
    queueAttributes(QUEUE_URL, QUEUE_ARN, 0, 3);
    sqsMock
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ Status: 'COMPLETED', StartedTimestamp: 1_000 }] })
      .resolvesOnce({
        Results: [
          {
            Status: 'RUNNING',
            TaskHandle: 'handle-1',
            StartedTimestamp: 2_000,
            ApproximateNumberOfMessagesMoved: 1,
          },
        ],
      })
      .resolvesOnce({
        Results: [{ Status: 'COMPLETED', StartedTimestamp: 2_000, ApproximateNumberOfMessagesMoved: 3 }],
      });
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
    const io = captureIo();
    const clock = fakeClock();

    const code = await redrive(['--stage', 'dev', '--max-per-second', '20', '--poll-seconds', '5'], io, {
      sqs,
      clock,
      env: NO_REGION_ENV,
    });

    expect(code).toBe(0);
    const starts = sqsMock.commandCalls(StartMessageMoveTaskCommand);
    expect(starts.map((c) => c.args[0].input)).toEqual([
      { SourceArn: DLQ_ARN, DestinationArn: QUEUE_ARN, MaxNumberOfMessagesPerSecond: 20 },
    ]);
    expect(sqsMock.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      MaxResults: 1,
    });
    expect(clock.sleeps).toEqual([5000, 5000]);
    expect(io.lines).toContain(
      'before: DLQ 3 visible, 0 in flight, 0 delayed; ingest 0 visible, 0 in flight, 0 delayed',
    );
    expect(io.lines).toContain(
      'after:  DLQ 0 visible, 0 in flight, 0 delayed; ingest 3 visible, 0 in flight, 0 delayed',
    );
    expect(io.progressLines).toContain('  RUNNING: 1 of ? moved');
  });

  it('waits for its own task: an older completed task still listed first is not taken for it', async () => {
    queueAttributes(DLQ_URL, DLQ_ARN, 3, 0);
    queueAttributes(QUEUE_URL, QUEUE_ARN, 0, 3);
    const older = { Status: 'COMPLETED', StartedTimestamp: 1_000, ApproximateNumberOfMessagesMoved: 9 };
    sqsMock
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [older] }) // before starting
      .resolvesOnce({ Results: [older] }) // the new task is not listed yet
      .resolvesOnce({
        Results: [{ Status: 'COMPLETED', StartedTimestamp: 2_000, ApproximateNumberOfMessagesMoved: 3 }],
      });
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
    const io = captureIo();
    const clock = fakeClock();

    const code = await redrive(['--stage', 'dev', '--poll-seconds', '5'], io, {
      sqs,
      clock,
      env: NO_REGION_ENV,
    });

    expect(code).toBe(0);
    expect(clock.sleeps).toEqual([5000, 5000]);
    expect(io.progressLines).toContain('  waiting for SQS to list the new move task');
    expect(io.lines).toContain('move task COMPLETED: 3 messages moved');
  });

  it('sends nothing that changes state in a dry run', async () => {
    queueAttributes(DLQ_URL, DLQ_ARN, 7);
    queueAttributes(QUEUE_URL, QUEUE_ARN, 0);
    sqsMock.on(ListMessageMoveTasksCommand).resolves({ Results: [] });
    const io = captureIo();

    const code = await redrive(['--stage', 'dev', '--dry-run'], io, {
      sqs,
      clock: fakeClock(),
      env: NO_REGION_ENV,
    });

    expect(code).toBe(0);
    expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(io.text()).toContain(`would move ~7 messages from ${DLQ_ARN} to ${QUEUE_ARN}`);
  });

  it('uses explicit queue URLs without calling CloudFormation', async () => {
    queueAttributes('http://q/dlq', DLQ_ARN, 0);
    queueAttributes('http://q/in', QUEUE_ARN, 0);
    sqsMock.on(ListMessageMoveTasksCommand).resolves({ Results: [] });
    const io = captureIo();

    const code = await redrive(
      ['--stage', 'dev', '--dlq-url', 'http://q/dlq', '--queue-url', 'http://q/in'],
      io,
      {
        sqs,
        env: NO_REGION_ENV,
      },
    );

    expect(code).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(io.text()).toContain('the DLQ is empty');
  });

  it('refuses to start while another move task runs from the same DLQ', async () => {
    queueAttributes(DLQ_URL, DLQ_ARN, 4);
    queueAttributes(QUEUE_URL, QUEUE_ARN, 0);
    sqsMock
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: 'RUNNING', TaskHandle: 'busy' }] });

    await expect(redrive(['--stage', 'dev'], captureIo(), { sqs, env: NO_REGION_ENV })).rejects.toThrow(
      /already running.*--task-handle busy/,
    );
    expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('gives up waiting at the timeout with a bounded number of polls and a non-zero exit', async () => {
    queueAttributes(DLQ_URL, DLQ_ARN, 4);
    queueAttributes(QUEUE_URL, QUEUE_ARN, 0);
    sqsMock
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [] })
      .resolves({ Results: [{ Status: 'RUNNING' }] });
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'h' });
    const clock = fakeClock();

    const code = await redrive(
      ['--stage', 'dev', '--timeout-minutes', '1', '--poll-seconds', '10'],
      captureIo(),
      {
        sqs,
        clock,
        env: NO_REGION_ENV,
      },
    );

    expect(code).toBe(1);
    expect(clock.sleeps).toHaveLength(6);
  });

  it('names the missing stack, and rejects an unknown stage before any AWS call', async () => {
    cfn.reset();
    cfn
      .on(DescribeStacksCommand)
      .rejects(new Error('Stack with id s3-object-processor-staging-processor does not exist'));
    await expect(redrive(['--stage', 'staging'], captureIo(), { sqs, env: NO_REGION_ENV })).rejects.toThrow(
      'stack s3-object-processor-staging-processor not found in eu-west-1',
    );

    const unknown = redrive(['--stage', 'qa'], captureIo(), { sqs, env: NO_REGION_ENV });
    await expect(unknown).rejects.toBeInstanceOf(ToolError);
    await expect(unknown).rejects.toThrow('unknown stage "qa"; known stages: dev, staging, prod');
    expect(sqsMock.calls()).toHaveLength(0);
  });
});
