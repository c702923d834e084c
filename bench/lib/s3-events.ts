import { createHash, randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  s3EventMessage,
  s3EventRecord,
  s3TestEventMessage,
} from '../../services/processor/src/s3-event-builder.ts';

/**
 * S3 event notifications wrapped in SQS records, in the shapes AWS documents ("Event message structure" in the
 * S3 user guide), from the processor's own builder: keys encoded as S3 encodes them, hexadecimal sequencers,
 * s3:TestEvent as S3 sends it when a notification is configured. The benchmark builds its events directly (not
 * through the local emulator) so that it measures the handler on exactly the events it names.
 */

/** Where the events say they come from; the handler does not check it, but a tuning payload should be truthful. */
export interface EventOrigin {
  readonly region: string;
  readonly queueArn: string;
}

const BENCH_ORIGIN: EventOrigin = {
  region: 'eu-west-1',
  queueArn: 'arn:aws:sqs:eu-west-1:123456789012:bench-ingest',
};

/** A hexadecimal sequencer that sorts (left-padded) in the order of `n`, as S3's do per key. */
export function sequencer(n: number): string {
  return n.toString(16).toUpperCase().padStart(16, '0');
}

export interface ObjectEventInput {
  readonly bucket: string;
  readonly key: string;
  readonly sequencer: string;
  /** For creates: the object's size and ETag (S3 sends no size or ETag on deletes). */
  readonly object?: { readonly size: number; readonly eTag: string };
  /** @default 'ObjectCreated:Put' when `object` is given, else 'ObjectRemoved:Delete' */
  readonly eventName?: string;
  readonly eventTime?: Date;
}

/** The SQS message body S3 sends for one object event. */
function notificationBody(input: ObjectEventInput, origin: EventOrigin): string {
  const created = input.object !== undefined;
  return s3EventMessage(
    s3EventRecord({
      eventName: input.eventName ?? (created ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete'),
      bucket: input.bucket,
      key: input.key,
      region: origin.region,
      eventTime: (input.eventTime ?? new Date()).toISOString(),
      ...(input.object ? { size: input.object.size, eTag: input.object.eTag } : {}),
      sequencer: input.sequencer,
      principalId: 'AWS:AIDABENCH',
      requestId: 'BENCHREQUEST',
      hostId: 'bench/host/id',
      bucketOwnerId: 'A1BENCH',
      configurationId: 'bench-notification',
    }),
  );
}

function sqsRecord(body: string, origin: EventOrigin): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: `bench-${randomUUID()}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'AIDABENCH',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: origin.queueArn,
    awsRegion: origin.region,
  };
}

/** One SQS message per object event: how S3 -> SQS delivers them (one record per notification). */
export function objectEventMessages(
  inputs: readonly ObjectEventInput[],
  origin: EventOrigin = BENCH_ORIGIN,
): SQSEvent {
  return {
    Records: inputs.map((input) => sqsRecord(notificationBody(input, origin), origin)),
  };
}

/** The s3:TestEvent S3 sends once when a notification configuration is created. */
export function testEventMessage(bucket: string): SQSEvent {
  const body = s3TestEventMessage(bucket, { requestId: 'BENCHTESTEVENT', hostId: 'bench/host/id' });
  return { Records: [sqsRecord(body, BENCH_ORIGIN)] };
}

/** A Lambda context good enough for a handler that reads the request id and the remaining time. */
export function lambdaContext(timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'bench-processor',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${BENCH_ORIGIN.region}:123456789012:function:bench-processor`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/bench-processor',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The smallest content that passes a magic-bytes check as image/png: the 8-byte signature and an IHDR chunk. */
export const PNG_BYTES = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082',
  'hex',
);
