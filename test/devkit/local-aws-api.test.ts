import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFilterPattern, LocalAwsApi, LocalLogGroup } from '../../devkit/local-aws-api.ts';
import { LocalQueue } from '../../devkit/queue.ts';
import { ERROR_FILTER_PATTERN } from '../../tools/status.ts';

/**
 * The tool-facing API endpoint, spoken to by the AWS SDK's own clients (the oracle for the wire protocols): SQS
 * over the local queue and its dead-letter store, DescribeStacks, GetFunctionConfiguration, CloudWatch and Logs.
 */

/** Messages whose body is "fail" are reported as failures: they dead-letter after one receive. */
const invocations: SQSRecord[][] = [];
const queue = new LocalQueue({
  batchSize: 10,
  batchingWindowMs: 0,
  visibilityTimeoutMs: 20,
  maxReceiveCount: 1,
  maxConcurrency: 1,
  queueArn: 'arn:aws:sqs:eu-west-1:000000000000:stack-ingest',
  invoke: async (records): Promise<SQSBatchResponse> => {
    invocations.push(records);
    return {
      batchItemFailures: records
        .filter((r) => r.body === 'fail')
        .map((r) => ({ itemIdentifier: r.messageId })),
    };
  },
});
const logs = new LocalLogGroup();
let api: LocalAwsApi;
const clientConfig = () => ({
  endpoint: api.endpoint,
  region: 'eu-west-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
let sqs: SQSClient;

beforeAll(async () => {
  api = await LocalAwsApi.start({
    host: '127.0.0.1',
    port: 0,
    queue,
    region: 'eu-west-1',
    stackName: 'stack',
    outputs: () => ({ BucketName: 'b-local', IngestQueueUrl: api.sqs.ingestUrl }),
    ingestQueueName: 'stack-ingest',
    deadLetterQueueName: 'stack-dlq',
    ingestVisibilityTimeoutSeconds: 181,
    deadLetterVisibilityTimeoutSeconds: 30,
    maxReceiveCount: 1,
    function: {
      functionName: 'stack-fn',
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      memoryMiB: 512,
      timeoutSeconds: 30,
      logGroup: '/aws/lambda/stack-fn',
      logFormat: 'JSON',
    },
    logs,
  });
  sqs = new SQSClient(clientConfig());
});
afterAll(async () => {
  sqs?.destroy();
  queue.close();
  await api?.close();
});

const deadLetterCount = () => new Promise<void>((resolve) => queue.once('dead-lettered', () => resolve()));
const counts = async (url: string) =>
  (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ??
  {};

describe('SQS', () => {
  it('sends a batch to the ingest queue (MD5s checked by the SDK), and dead-letters what fails', async () => {
    const dead = deadLetterCount();
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: api.sqs.ingestUrl,
        Entries: [
          { Id: 'a', MessageBody: 'ok' },
          { Id: 'b', MessageBody: 'fail' },
        ],
      }),
    );
    expect(sent.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    await dead;
    expect(await counts(api.sqs.deadLetterUrl)).toMatchObject({
      QueueArn: 'arn:aws:sqs:eu-west-1:000000000000:stack-dlq',
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(JSON.parse((await counts(api.sqs.ingestUrl)).RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:000000000000:stack-dlq',
      maxReceiveCount: 1,
    });
  });

  it('lets a dead letter be looked at (hidden meanwhile), and deleted only with its receipt handle', async () => {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: api.sqs.deadLetterUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(Messages.map((m) => m.Body)).toEqual(['fail']);
    expect(Messages[0]?.Attributes?.DeadLetterQueueSourceArn).toBe(api.sqs.ingestArn);
    expect(await counts(api.sqs.deadLetterUrl)).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    await expect(
      sqs.send(new DeleteMessageCommand({ QueueUrl: api.sqs.deadLetterUrl, ReceiptHandle: 'x/y' })),
    ).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid' });
    // A move task skips the hidden message, as SQS moves only what it can receive.
    const handle = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: api.sqs.deadLetterArn }));
    expect(handle.TaskHandle).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    const { Results } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: api.sqs.deadLetterArn, MaxResults: 1 }),
    );
    expect(Results?.[0]).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesToMove: 0 });
    expect(Results?.[0]?.TaskHandle).toBeUndefined();

    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: api.sqs.deadLetterUrl,
        ReceiptHandle: Messages[0]?.ReceiptHandle,
      }),
    );
    expect(queue.deadLetters()).toEqual([]);
  });

  it('redrives every visible dead letter with a message move task, at the requested rate', async () => {
    const dead = deadLetterCount();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: api.sqs.ingestUrl,
        Entries: [{ Id: 'c', MessageBody: 'fail' }],
      }),
    );
    await dead;
    const before = invocations.length;
    const letter = queue.deadLetters()[0];
    const again = deadLetterCount();
    await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: api.sqs.deadLetterArn,
        DestinationArn: api.sqs.ingestArn,
        MaxNumberOfMessagesPerSecond: 100,
      }),
    );
    await again;
    const { Results } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: api.sqs.deadLetterArn, MaxResults: 10 }),
    );
    expect(Results?.map((r) => [r.Status, r.ApproximateNumberOfMessagesMoved])).toEqual([
      ['COMPLETED', 1],
      ['COMPLETED', 0],
    ]);
    // Delivered again with the same id (and failed again: the cause was not fixed).
    expect(
      invocations
        .slice(before)
        .flat()
        .map((r) => r.messageId),
    ).toEqual([letter?.messageId]);
  });

  it('answers an operation it does not implement as UnsupportedOperation, naming it', async () => {
    await expect(sqs.send(new PurgeQueueCommand({ QueueUrl: api.sqs.ingestUrl }))).rejects.toMatchObject({
      name: 'UnsupportedOperation',
      message: expect.stringContaining('does not implement PurgeQueue'),
    });
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: api.sqs.ingestUrl }))).rejects.toMatchObject({
      name: 'UnsupportedOperation',
    });
    await expect(
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: `${api.endpoint}/000000000000/nope` })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('tells an SQS query-protocol client (an old AWS CLI) which protocol to use', async () => {
    const response = await fetch(api.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20250101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=x',
      },
      body: 'Action=GetQueueAttributes&QueueUrl=x&Version=2012-11-05',
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(
      /<Code>InvalidAction<\/Code><Message>.*JSON protocol.*a current AWS CLI/,
    );
  });
});

describe('the other APIs the tools call', () => {
  it('DescribeStacks returns the local outputs; another stack does not exist', async () => {
    const cfn = new CloudFormationClient(clientConfig());
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'stack' }));
    expect(Stacks?.[0]?.Outputs).toEqual([
      { OutputKey: 'BucketName', OutputValue: 'b-local' },
      { OutputKey: 'IngestQueueUrl', OutputValue: api.sqs.ingestUrl },
    ]);
    await expect(cfn.send(new DescribeStacksCommand({ StackName: 'other' }))).rejects.toThrow(
      /does not exist/,
    );
    cfn.destroy();
  });

  it("GetFunctionConfiguration, DescribeAlarms, GetMetricData and FilterLogEvents with status's pattern", async () => {
    const lambda = new LambdaClient(clientConfig());
    expect(
      await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'stack-fn' })),
    ).toMatchObject({
      State: 'Active',
      MemorySize: 512,
      LoggingConfig: { LogGroup: '/aws/lambda/stack-fn' },
    });
    await expect(
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'x' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    lambda.destroy();

    const cloudWatch = new CloudWatchClient(clientConfig());
    expect((await cloudWatch.send(new DescribeAlarmsCommand({}))).MetricAlarms).toEqual([]);
    const now = Date.now();
    const { MetricDataResults } = await cloudWatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 60_000),
        EndTime: new Date(now),
        MetricDataQueries: ['stack-ingest', 'stack-dlq'].map((queueName, i) => ({
          Id: `age${i}`,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateAgeOfOldestMessage',
              Dimensions: [{ Name: 'QueueName', Value: queueName }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        })),
      }),
    );
    cloudWatch.destroy();
    expect(MetricDataResults?.map((r) => r.Id)).toEqual(['age0', 'age1']);
    expect(MetricDataResults?.[0]?.Values).toEqual([0]);
    expect(MetricDataResults?.[1]?.Values?.[0]).toBeGreaterThan(0);

    logs.add(JSON.stringify({ level: 'INFO', message: 'Object PROCESSED' }), now - 2);
    logs.add(JSON.stringify({ level: 'ERROR', message: 'Object event failed' }), now - 1);
    logs.add('not json at all', now);
    const cwl = new CloudWatchLogsClient(clientConfig());
    const { events } = await cwl.send(
      new FilterLogEventsCommand({
        logGroupName: '/aws/lambda/stack-fn',
        filterPattern: ERROR_FILTER_PATTERN,
        startTime: now - 10_000,
        endTime: now + 1,
      }),
    );
    expect(events?.map((e) => JSON.parse(e.message ?? '{}').message)).toEqual(['Object event failed']);
    await expect(
      cwl.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/other' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    cwl.destroy();
  });

  it('filter patterns: JSON conditions and plain terms; anything else is refused rather than misread', () => {
    const json = compileFilterPattern('{ $.record.status = "timeout" && $.level != "INFO" }');
    expect(json(JSON.stringify({ record: { status: 'timeout' }, level: 'ERROR' }))).toBe(true);
    expect(json(JSON.stringify({ record: { status: 'timeout' }, level: 'INFO' }))).toBe(false);
    expect(compileFilterPattern('ERROR "Task timed out"')('ERROR ... Task timed out after 3 s')).toBe(true);
    expect(() => compileFilterPattern('{ ($.a = 1) }')).toThrow(/beyond what the local log group supports/);
    expect(() => compileFilterPattern('ERROR -DEBUG')).toThrow(/beyond/);
  });
});
