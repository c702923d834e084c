/**
 * SDK-level behaviour of the whole handler with aws-sdk-client-mock: which AWS requests each event costs, how
 * SDK errors map to batch item failures, what is logged and counted. No network.
 */
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/processor.ts';
import {
  created,
  lambdaContext,
  notificationBody,
  removed,
  s3Record,
  sqsEvent,
  sqsMessage,
  testEventBody,
} from './support/events.ts';
import { type CapturedOutput, captureOutput } from './support/output.ts';
import { SAMPLES } from './support/samples.ts';

const s3Mock = mockClient(S3Client);
const dynamodbMock = mockClient(DynamoDBClient);
const NOW = new Date('2026-01-02T03:04:07.678Z'); // 2 s after the events' eventTime

let output: CapturedOutput;
beforeAll(() => {
  output = captureOutput();
});
afterEach(() => {
  s3Mock.reset();
  dynamodbMock.reset();
  output.clear();
});
afterAll(() => {
  output.restore();
});

function buildHandler(processingConcurrency = 10) {
  return createHandler({
    config: {
      tableName: 'objects',
      maxObjectBytes: 1000,
      allowedContentTypes: new Set(['image/png', 'image/jpeg', 'text/plain']),
      processingConcurrency,
    },
    s3: new S3Client({ region: 'eu-west-1' }),
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    logger: new Logger({ serviceName: 'test-processor', logLevel: 'DEBUG' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'test-processor' }),
    now: () => NOW,
  });
}

/** A GetObject response for the first bytes of an object of `totalSize` bytes. */
function getObjectOutput(head: Uint8Array, totalSize: number, contentType: string, eTag = 'etag-1') {
  return {
    Body: { transformToByteArray: async () => head } as never,
    ContentType: contentType,
    ETag: `"${eTag}"`,
    ContentRange: `bytes 0-${head.length - 1}/${totalSize}`,
    ContentLength: head.length,
  };
}

const throttled = () =>
  new ProvisionedThroughputExceededException({
    message: 'Rate of requests exceeds the allowed throughput.',
    $metadata: {},
  });

describe('requests per event', () => {
  it('costs exactly one ranged GetObject and one conditional PutItem per created object, and no HeadObject', async () => {
    s3Mock.on(GetObjectCommand).resolves(getObjectOutput(SAMPLES.png, 500, 'image/png'));
    dynamodbMock.on(PutItemCommand).resolves({});
    const event = sqsEvent(
      sqsMessage(notificationBody(created('photos/my cat.png', 500, 'etag-1', '0A', { versionId: 'v1' }))),
    );

    const response = await buildHandler()(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3Mock.calls()).toHaveLength(1);
    expect(s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'uploads-bucket',
      Key: 'photos/my cat.png',
      VersionId: 'v1',
      Range: 'bytes=0-4095',
    });
    expect(dynamodbMock.calls()).toHaveLength(1);
    const put = dynamodbMock.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(put?.ConditionExpression).toContain('attribute_not_exists(objectKey) OR sequencer < :sequencer');
    expect(put?.ExpressionAttributeValues?.[':sequencer']).toEqual({ S: '0A'.padStart(32, '0') });
    expect(put?.Item).toMatchObject({
      objectKey: { S: 'photos/my cat.png' },
      status: { S: 'PROCESSED' },
      contentType: { S: 'image/png' },
      declaredContentType: { S: 'image/png' },
    });
  });

  it('costs one write and no S3 request per deleted object', async () => {
    dynamodbMock.on(PutItemCommand).resolves({});
    await buildHandler()(sqsEvent(sqsMessage(notificationBody(removed('gone.txt', '0B')))), lambdaContext());
    expect(s3Mock.calls()).toHaveLength(0);
    expect(dynamodbMock.calls()).toHaveLength(1);
    expect(dynamodbMock.commandCalls(PutItemCommand)[0]?.args[0].input.Item?.status).toEqual({
      S: 'DELETED',
    });
  });

  it('costs one conditional UpdateItem for a permanently deleted version, conditioned on that version', async () => {
    dynamodbMock.on(UpdateItemCommand).resolves({});
    await buildHandler()(
      sqsEvent(sqsMessage(notificationBody(removed('doc.txt', '0C', { versionId: 'v7' })))),
      lambdaContext(),
    );
    expect(s3Mock.calls()).toHaveLength(0);
    const update = dynamodbMock.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(dynamodbMock.calls()).toHaveLength(1);
    expect(update?.ConditionExpression).toBe('versionId = :versionId');
    expect(update?.ExpressionAttributeValues?.[':versionId']).toEqual({ S: 'v7' });
  });

  it('costs nothing for an s3:TestEvent, which is acknowledged', async () => {
    const response = await buildHandler()(sqsEvent(sqsMessage(testEventBody())), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3Mock.calls()).toHaveLength(0);
    expect(dynamodbMock.calls()).toHaveLength(0);
  });

  it('costs no read for an object rejected on its announced size', async () => {
    dynamodbMock.on(PutItemCommand).resolves({});
    await buildHandler()(
      sqsEvent(sqsMessage(notificationBody(created('big.png', 1001, 'e', '0D')))),
      lambdaContext(),
    );
    expect(s3Mock.calls()).toHaveLength(0);
    expect(dynamodbMock.commandCalls(PutItemCommand)[0]?.args[0].input.Item).toMatchObject({
      status: { S: 'REJECTED' },
      reasonCode: { S: 'OBJECT_TOO_LARGE' },
    });
  });

  it('costs nothing for event types that do not change content', async () => {
    const tagging = s3Record({ eventName: 'ObjectTagging:Put', key: 'a.png', eTag: 'e', versionId: 'v1' });
    await buildHandler()(sqsEvent(sqsMessage(notificationBody(tagging))), lambdaContext());
    expect(s3Mock.calls()).toHaveLength(0);
    expect(dynamodbMock.calls()).toHaveLength(0);
    expect(output.metricTotals()).toMatchObject({ EventsIgnored: 1 });
  });
});

describe('outcomes that are not errors', () => {
  it('counts a lost conditional write as a stale event, not a failure', async () => {
    dynamodbMock.on(PutItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { sequencer: { S: '0F'.padStart(32, '0') } },
      }),
    );
    const response = await buildHandler()(
      sqsEvent(sqsMessage(notificationBody(removed('k', '0E')))),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(output.metricTotals()).toMatchObject({ StaleEventsSkipped: 1 });
    expect(output.logs('Skipped stale')[0]).toMatchObject({ current: { sequencer: '0F'.padStart(32, '0') } });
  });

  it('writes nothing when the created object is already gone (its delete event sets the item)', async () => {
    s3Mock
      .on(GetObjectCommand)
      .rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const response = await buildHandler()(
      sqsEvent(sqsMessage(notificationBody(created('vanished.png', 10, 'e', '10')))),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(dynamodbMock.calls()).toHaveLength(0);
    expect(output.metricTotals()).toMatchObject({ EventsSuperseded: 1 });
    expect(output.logs('Skipped superseded')[0]).toMatchObject({ why: 'object-gone' });
  });

  it('writes nothing when the key was overwritten since the event (ETag differs)', async () => {
    s3Mock.on(GetObjectCommand).resolves(getObjectOutput(SAMPLES.png, 10, 'image/png', 'newer-etag'));
    await buildHandler()(
      sqsEvent(sqsMessage(notificationBody(created('a.png', 10, 'older-etag', '11')))),
      lambdaContext(),
    );
    expect(dynamodbMock.calls()).toHaveLength(0);
    expect(output.logs('Skipped superseded')[0]).toMatchObject({ why: 'object-changed' });
  });
});

describe('failures', () => {
  it('fails only the message whose write exhausted its retries; the others are written', async () => {
    s3Mock.on(GetObjectCommand).resolves(getObjectOutput(SAMPLES.text, 20, 'text/plain'));
    dynamodbMock.on(PutItemCommand).resolves({});
    dynamodbMock.on(PutItemCommand, { Item: { objectKey: { S: 'hot.txt' } } }, false).rejects(throttled());
    const ok1 = sqsMessage(notificationBody(created('a.txt', 20, 'etag-1', '01')));
    const hot = sqsMessage(notificationBody(created('hot.txt', 20, 'etag-1', '02')));
    const ok2 = sqsMessage(notificationBody(removed('b.txt', '03')));

    const response = await buildHandler()(sqsEvent(ok1, hot, ok2), lambdaContext('req-42'));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: hot.messageId }] });
    expect(dynamodbMock.commandCalls(PutItemCommand)).toHaveLength(3);
    const [failure] = output.logs('Object event failed');
    expect(failure).toMatchObject({
      level: 'ERROR',
      key: 'hot.txt',
      bucket: 'uploads-bucket',
      messageId: hot.messageId,
      function_request_id: 'req-42',
      error: {
        name: 'ObjectEventError',
        message: expect.stringContaining('DynamoDB write failed for s3://uploads-bucket/hot.txt'),
        cause: { name: 'ProvisionedThroughputExceededException' },
      },
    });
    expect(output.metricTotals()).toMatchObject({
      MessagesFailed: 1,
      ObjectsProcessed: 1,
      ObjectsDeleted: 1,
    });
  });

  it('fails a message if any of its records fails, after applying the others', async () => {
    dynamodbMock.on(PutItemCommand).resolves({});
    dynamodbMock.on(PutItemCommand, { Item: { objectKey: { S: 'bad' } } }, false).rejects(throttled());
    const message = sqsMessage(notificationBody(removed('good', '01'), removed('bad', '02')));
    const response = await buildHandler()(sqsEvent(message, sqsMessage(testEventBody())), lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(dynamodbMock.commandCalls(PutItemCommand)).toHaveLength(2);
  });

  it('fails a malformed message with a log line saying what is wrong, without blocking the rest', async () => {
    dynamodbMock.on(PutItemCommand).resolves({});
    const malformed = sqsMessage(JSON.stringify({ Records: [{ eventSource: 'aws:s3' }] }));
    const good = sqsMessage(notificationBody(removed('k', '01')));

    const response = await buildHandler()(sqsEvent(malformed, good), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: malformed.messageId }] });
    expect(dynamodbMock.calls()).toHaveLength(1);
    const [line] = output.logs('Malformed message');
    expect(line).toMatchObject({ level: 'ERROR', messageId: malformed.messageId });
    expect(line?.problems).toEqual([
      'Records[0].eventTime: Invalid input: expected string, received undefined',
      'Records[0].eventName: Invalid input: expected string, received undefined',
      'Records[0].s3: Invalid input: expected object, received undefined',
    ]);
  });

  it('throws when every message failed, so that Lambda backs off instead of spinning', async () => {
    dynamodbMock.on(PutItemCommand).rejects(throttled());
    const handler = buildHandler();
    await expect(
      handler(sqsEvent(sqsMessage(notificationBody(removed('k', '01'))), sqsMessage('{')), lambdaContext()),
    ).rejects.toBeInstanceOf(FullBatchFailureError);
  });
});

describe('concurrency', () => {
  it('processes the records of a batch concurrently, never more than PROCESSING_CONCURRENCY at once', async () => {
    let inFlight = 0;
    let peak = 0;
    s3Mock.on(GetObjectCommand).callsFake(async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      return getObjectOutput(SAMPLES.jpeg, 100, 'image/jpeg');
    });
    dynamodbMock.on(PutItemCommand).resolves({});
    // 4 messages of 3 records each: the bound spans messages and records alike.
    const messages = Array.from({ length: 4 }, (_, m) =>
      sqsMessage(
        notificationBody(
          ...Array.from({ length: 3 }, (_, r) => created(`m${m}/r${r}.jpg`, 100, 'etag-1', `${m}${r}`)),
        ),
      ),
    );

    const response = await buildHandler(3)(sqsEvent(...messages), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(12);
    expect(peak).toBe(3);
  });
});

describe('observability', () => {
  it('puts bucket, key, versionId, sequencer, messageId and request id on every line about an object', async () => {
    s3Mock.on(GetObjectCommand).resolves(getObjectOutput(SAMPLES.png, 500, 'image/png'));
    dynamodbMock.on(PutItemCommand).resolves({});
    const message = sqsMessage(
      notificationBody(created('p/q r.png', 500, 'etag-1', '0A', { versionId: 'v1' })),
    );
    await buildHandler()(sqsEvent(message), lambdaContext('req-7'));
    const [line] = output.logs('Object PROCESSED');
    expect(line).toMatchObject({
      service: 'test-processor',
      bucket: 'uploads-bucket',
      key: 'p/q r.png',
      versionId: 'v1',
      sequencer: '0A'.padStart(32, '0'),
      messageId: message.messageId,
      function_request_id: 'req-7',
      s3RequestId: 'C3D13FE58DE4C810',
      status: 'PROCESSED',
      contentType: 'image/png',
    });
  });

  it('emits EMF counts per outcome and the processing lag from eventTime', async () => {
    s3Mock.on(GetObjectCommand).resolves(getObjectOutput(SAMPLES.png, 500, 'image/png'));
    dynamodbMock.on(PutItemCommand).resolves({});
    await buildHandler()(
      sqsEvent(
        sqsMessage(
          notificationBody(created('ok.png', 500, 'etag-1', '01'), created('big.png', 5000, 'x', '02')),
        ),
        sqsMessage(notificationBody(removed('old.png', '03'))),
      ),
      lambdaContext(),
    );
    expect(output.metricTotals()).toMatchObject({
      ObjectsProcessed: 1,
      ObjectsRejected: 1,
      ObjectsDeleted: 1,
    });
    expect(output.metricValues('ProcessingLag')).toEqual([2000, 2000, 2000]);
  });
});
