/**
 * Builders for the events the processor receives, in the exact shapes AWS sends: S3 notification records (as
 * documented in "Event message structure"), SQS records carrying them, and a Lambda context.
 */
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { s3EventMessage, s3EventRecord, s3TestEventMessage } from '../../src/s3-event-builder.ts';

export interface S3RecordInput {
  readonly eventName: string;
  /** The real (decoded) key; encoded by the builder as S3 encodes it. */
  readonly key: string;
  readonly bucket?: string;
  readonly size?: number;
  readonly eTag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
  readonly eventTime?: string;
}

export const BUCKET = 'uploads-bucket';

/**
 * One S3 notification record from the shared builder (services/processor/src/s3-event-builder.ts) with fixed
 * identities, as a plain object the tests may reshape to make it invalid.
 */
export function s3Record(input: S3RecordInput): Record<string, unknown> {
  const { bucket, eventTime, ...object } = input;
  return {
    ...s3EventRecord({
      ...object,
      bucket: bucket ?? BUCKET,
      region: 'eu-west-1',
      eventTime: eventTime ?? '2026-01-02T03:04:05.678Z',
      principalId: 'AWS:AIDAEXAMPLE',
      sourceIPAddress: '203.0.113.10',
      requestId: 'C3D13FE58DE4C810',
      hostId: 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
      bucketOwnerId: 'A3NL1KOZZKExample',
      configurationId: 'ObjectEvents',
    }),
  };
}

export const created = (
  key: string,
  size: number,
  eTag: string,
  sequencer: string,
  extra: Partial<S3RecordInput> = {},
) => s3Record({ eventName: 'ObjectCreated:Put', key, size, eTag, sequencer, ...extra });

export const removed = (key: string, sequencer: string | undefined, extra: Partial<S3RecordInput> = {}) =>
  s3Record({
    eventName: 'ObjectRemoved:Delete',
    key,
    ...(sequencer !== undefined && { sequencer }),
    ...extra,
  });

/** The message S3 sends once when notifications are configured on a queue. */
export const testEventBody = (bucket = BUCKET): string =>
  s3TestEventMessage(bucket, {
    time: '2026-01-02T03:04:05.678Z',
    requestId: '5582815E1AEA5ADF',
    hostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
  });

export const notificationBody = (...records: Record<string, unknown>[]): string => s3EventMessage(...records);

let messageCounter = 0;

/** An SQS record as Lambda delivers it; `messageId` defaults to a unique id. */
export function sqsMessage(body: string, messageId = `msg-${++messageCounter}`): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1767323045678',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1767323045700',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:222222222222:ingest',
    awsRegion: 'eu-west-1',
  };
}

export const sqsEvent = (...messages: SQSRecord[]): SQSEvent => ({ Records: messages });

export function lambdaContext(awsRequestId = 'req-0001'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'processor',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:222222222222:function:processor',
    memoryLimitInMB: '256',
    awsRequestId,
    logGroupName: '/aws/lambda/processor',
    logStreamName: '2026/01/02/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
