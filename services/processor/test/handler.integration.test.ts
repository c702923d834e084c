/**
 * The handler against real S3- and DynamoDB-compatible servers (s3rver, dynalite) on loopback: real HTTP, real
 * SDK clients built by the processor's own `createClients`, real conditional writes.
 */
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AwsFault,
  type AwsProxy,
  type AwsProxyRequestInfo,
  startAwsProxy,
} from '../../../devkit/aws-proxy.ts';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  localAwsEnvironment,
  s3ClientConfig,
  startLocalAws,
} from '../../../devkit/aws-servers.ts';
import { type Clients, createClients, DYNAMODB_MAX_ATTEMPTS } from '../src/clients.ts';
import { createHandler, type SqsHandler } from '../src/processor.ts';
import {
  BUCKET,
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

const TABLE = 'objects-integration';
const MAX_OBJECT_BYTES = 64 * 1024;

let aws: LocalAws;
let proxy: AwsProxy;
let s3: S3Client; // the test's own client, to upload objects
let dynamodb: DynamoDBClient; // the test's own client, to read items
let clients: Clients; // the handler's clients, straight to the servers
let faultyClients: Clients; // the handler's clients, DynamoDB through the fault proxy
let handler: SqsHandler;
let faultyHandler: SqsHandler;
let output: CapturedOutput;

/** A clock that moves one second per call, so that a rewritten item shows a new processedAt. */
let tick = 0;
const clock = () => new Date(Date.UTC(2026, 0, 2, 4, 0, tick++));

/** The object key a DynamoDB request is about (its Key or Item `objectKey`), or the request URL. */
function objectKeyOf(request: AwsProxyRequestInfo): string {
  const parsed = JSON.parse(request.body.toString('utf8') || '{}') as {
    Item?: { objectKey?: { S?: string } };
    Key?: { objectKey?: { S?: string } };
  };
  return parsed.Item?.objectKey?.S ?? parsed.Key?.objectKey?.S ?? request.url;
}

/** Makes the writes of one object key fail with `fault` (the first `times` of them, or all). */
function failWrites(objectKey: string, fault: AwsFault, times?: number): void {
  proxy.setFaults([
    {
      operations: ['PutItem', 'UpdateItem'],
      fault,
      match: (request) => objectKeyOf(request) === objectKey,
      ...(times === undefined ? {} : { limit: times }),
    },
  ]);
}

/** Requests the proxy saw for an object key, faulted or forwarded. */
const requestsFor = (objectKey: string): number =>
  proxy.requests().filter((request) => request.identity === objectKey).length;

function buildHandler(handlerClients: Clients): SqsHandler {
  return createHandler({
    config: {
      tableName: TABLE,
      maxObjectBytes: MAX_OBJECT_BYTES,
      allowedContentTypes: new Set(['image/png', 'image/jpeg', 'text/plain', 'application/json']),
      processingConcurrency: 4,
    },
    ...handlerClients,
    logger: new Logger({ serviceName: 'processor-it', logLevel: 'INFO' }),
    metrics: new Metrics({ namespace: 'ProcessorIT', serviceName: 'processor-it' }),
    now: clock,
  });
}

beforeAll(async () => {
  output = captureOutput();
  aws = await startLocalAws();
  // The handler's clients take region and credentials from the environment, as in Lambda.
  for (const [name, value] of Object.entries(localAwsEnvironment(aws))) vi.stubEnv(name, value);
  await createBucket(aws.s3Endpoint, BUCKET);
  await createObjectTable(aws.dynamodbEndpoint, TABLE);
  proxy = await startAwsProxy({ service: 'dynamodb', upstream: aws.dynamodbEndpoint, identity: objectKeyOf });
  s3 = new S3Client(s3ClientConfig(aws));
  dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
  clients = createClients({ s3Endpoint: aws.s3Endpoint, dynamodbEndpoint: aws.dynamodbEndpoint });
  faultyClients = createClients({ s3Endpoint: aws.s3Endpoint, dynamodbEndpoint: proxy.endpoint });
  handler = buildHandler(clients);
  faultyHandler = buildHandler(faultyClients);
});

afterAll(async () => {
  for (const c of [
    s3,
    dynamodb,
    clients?.s3,
    clients?.dynamodb,
    faultyClients?.s3,
    faultyClients?.dynamodb,
  ]) {
    c?.destroy();
  }
  await proxy?.stop();
  await aws?.close();
  vi.unstubAllEnvs();
  output.restore();
});

/** Uploads an object and returns the facts its S3 event carries. */
async function upload(key: string, body: Uint8Array | string, contentType?: string) {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const result = await s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes, ContentType: contentType }),
  );
  return { size: bytes.length, eTag: (result.ETag ?? '').replaceAll('"', '') };
}

/** The item of a key as plain values (S as string, N as number), or undefined. */
async function itemOf(key: string): Promise<Record<string, string | number> | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: TABLE, Key: { objectKey: { S: key } }, ConsistentRead: true }),
  );
  if (Item === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(Item).map(([k, v]: [string, AttributeValue]) => [
      k,
      v.N !== undefined ? Number(v.N) : (v.S ?? ''),
    ]),
  );
}

const seq = (hex: string) => hex.padStart(32, '0');
const deliver = (h: SqsHandler, ...bodies: string[]) =>
  h(sqsEvent(...bodies.map((b) => sqsMessage(b))), lambdaContext());

describe('created objects', () => {
  it('records a PROCESSED item with the full contract, for a key S3 had to URL-encode', async () => {
    const key = 'photos/2026/my cat+dog été.png';
    const { size, eTag } = await upload(key, SAMPLES.png, 'image/png');

    const response = await deliver(handler, notificationBody(created(key, size, eTag, '0055AED6DCD90281E5')));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await itemOf(key)).toEqual({
      objectKey: key,
      bucket: BUCKET,
      status: 'PROCESSED',
      sequencer: seq('55AED6DCD90281E5'),
      eventName: 'ObjectCreated:Put',
      eventTime: '2026-01-02T03:04:05.678Z',
      processedAt: expect.stringMatching(/^2026-01-02T04:00:\d\d\.000Z$/),
      size,
      eTag,
      contentType: 'image/png',
      declaredContentType: 'image/png',
    });
  });

  it.each([
    ['too large', 'big.txt', 'x'.repeat(MAX_OBJECT_BYTES + 1), 'text/plain', 'OBJECT_TOO_LARGE', undefined],
    ['empty', 'empty.txt', '', 'text/plain', 'EMPTY_OBJECT', undefined],
    [
      'bytes contradict the declared type',
      'fake.png',
      'just text',
      'image/png',
      'CONTENT_TYPE_MISMATCH',
      'text/plain',
    ],
    [
      'type not allowed',
      'archive.zip',
      SAMPLES.zip,
      'application/zip',
      'CONTENT_TYPE_NOT_ALLOWED',
      'application/zip',
    ],
  ])(
    'records REJECTED with a reason when the object is %s',
    async (_case, key, body, type, code, detected) => {
      const { size, eTag } = await upload(key, body, type);
      const response = await deliver(handler, notificationBody(created(key, size, eTag, '01')));
      expect(response).toEqual({ batchItemFailures: [] });
      const item = await itemOf(key);
      expect(item).toMatchObject({ status: 'REJECTED', reasonCode: code, size });
      expect(item?.reason).toMatch(new RegExp(`^${code}: \\S.*\\.$`));
      expect(item?.contentType).toBe(detected);
    },
  );
});

describe('at-least-once and out-of-order delivery', () => {
  it('keeps one item per key when an event is delivered twice, in one batch or across invocations', async () => {
    const key = 'dup/report.json';
    const { size, eTag } = await upload(key, '{"ok":true}', 'application/json');
    const body = notificationBody(created(key, size, eTag, '0A'));

    await deliver(handler, body, body);
    const first = await itemOf(key);
    const again = await deliver(handler, body);

    expect(again).toEqual({ batchItemFailures: [] });
    expect(await itemOf(key)).toEqual(first); // same processedAt: the duplicate was not rewritten
    expect(first).toMatchObject({ status: 'PROCESSED', contentType: 'application/json' });
  });

  it('never lets an older event overwrite a newer one, comparing sequencers of different lengths as numbers', async () => {
    const key = 'order/notes.txt';
    const { size, eTag } = await upload(key, 'same bytes, uploaded twice', 'text/plain');
    // 0x100 is newer than 0xFF although '100' < 'FF' as strings.
    await deliver(
      handler,
      notificationBody(created(key, size, eTag, '100', { eventTime: '2026-01-02T03:00:02.000Z' })),
    );
    await deliver(
      handler,
      notificationBody(created(key, size, eTag, 'FF', { eventTime: '2026-01-02T03:00:01.000Z' })),
    );
    expect(await itemOf(key)).toMatchObject({ sequencer: seq('100'), eventTime: '2026-01-02T03:00:02.000Z' });
    expect(output.logs('Skipped stale').at(-1)).toMatchObject({ key, sequencer: seq('FF') });
  });

  it('marks a deleted object DELETED, and a late create event does not bring it back', async () => {
    const key = 'gone/photo.jpg';
    const { size, eTag } = await upload(key, SAMPLES.jpeg, 'image/jpeg');
    await deliver(handler, notificationBody(created(key, size, eTag, '20')));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

    await deliver(handler, notificationBody(removed(key, '21')));
    const deleted = await itemOf(key);
    expect(deleted).toEqual({
      objectKey: key,
      bucket: BUCKET,
      status: 'DELETED',
      sequencer: seq('21'),
      eventName: 'ObjectRemoved:Delete',
      eventTime: '2026-01-02T03:04:05.678Z',
      processedAt: expect.any(String),
    });

    await deliver(handler, notificationBody(created(key, size, eTag, '20'))); // redelivered: object now 404
    expect(await itemOf(key)).toEqual(deleted);
  });

  it('applies a delete that arrives before its create: the create, older, loses', async () => {
    const key = 'early-delete/a.txt';
    const { size, eTag } = await upload(key, 'hello', 'text/plain');
    await deliver(handler, notificationBody(removed(key, '31')));
    await deliver(handler, notificationBody(created(key, size, eTag, '30')));
    expect(await itemOf(key)).toMatchObject({ status: 'DELETED', sequencer: seq('31') });
  });

  it('skips a create whose object was overwritten before it was read; the newer event sets the item', async () => {
    const key = 'overwritten/a.txt';
    const older = await upload(key, 'first version', 'text/plain');
    const newer = await upload(key, 'second version', 'text/plain');
    await deliver(handler, notificationBody(created(key, older.size, older.eTag, '40')));
    expect(await itemOf(key)).toBeUndefined();
    await deliver(handler, notificationBody(created(key, newer.size, newer.eTag, '41')));
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED', eTag: newer.eTag, sequencer: seq('41') });
  });

  it('orders lifecycle expirations without a sequencer by eventTime', async () => {
    const key = 'lifecycle/old.log';
    const { size, eTag } = await upload(key, 'log line\n', 'text/plain');
    await deliver(
      handler,
      notificationBody(created(key, size, eTag, '50', { eventTime: '2026-01-01T00:00:00.000Z' })),
    );
    const expiration = (eventTime: string) =>
      notificationBody(s3Record({ eventName: 'LifecycleExpiration:Delete', key, eventTime }));

    await deliver(handler, expiration('2025-12-31T00:00:00.000Z')); // older than the item: ignored
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED' });

    await deliver(handler, expiration('2026-01-03T00:00:00.000Z'));
    const expired = await itemOf(key);
    expect(expired).toMatchObject({ status: 'DELETED', eventName: 'LifecycleExpiration:Delete' });
    expect(expired).not.toHaveProperty('sequencer');

    // The redelivered create is older by eventTime: no regression. A later upload wins.
    await deliver(
      handler,
      notificationBody(created(key, size, eTag, '50', { eventTime: '2026-01-01T00:00:00.000Z' })),
    );
    expect(await itemOf(key)).toMatchObject({ status: 'DELETED' });
    await deliver(
      handler,
      notificationBody(created(key, size, eTag, '51', { eventTime: '2026-01-04T00:00:00.000Z' })),
    );
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED', sequencer: seq('51') });
  });

  it('deletes the item for a permanently deleted version only if it is the version on record', async () => {
    const key = 'versioned/doc.txt';
    const { size, eTag } = await upload(key, 'v2 content', 'text/plain');
    await deliver(handler, notificationBody(created(key, size, eTag, '60', { versionId: 'v2' })));

    await deliver(handler, notificationBody(removed(key, '61', { versionId: 'v1' }))); // a noncurrent version
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED', versionId: 'v2' });

    await deliver(handler, notificationBody(removed(key, '62', { versionId: 'v2' })));
    expect(await itemOf(key)).toMatchObject({ status: 'DELETED', versionId: 'v2', sequencer: seq('60') });
    expect(await itemOf(key)).not.toHaveProperty('size');

    // A newer version's create that arrives late still wins: the version delete kept the older sequencer.
    await deliver(handler, notificationBody(created(key, size, eTag, '63', { versionId: 'v3' })));
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED', versionId: 'v3', sequencer: seq('63') });
  });
});

describe('partial batch failures', () => {
  it('acknowledges an s3:TestEvent and fails only a malformed message', async () => {
    const key = 'batch/ok.txt';
    const { size, eTag } = await upload(key, 'fine', 'text/plain');
    const malformed = sqsMessage('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}');
    const test = sqsMessage(testEventBody());
    const good = sqsMessage(notificationBody(created(key, size, eTag, '70')));

    const response = await handler(sqsEvent(malformed, test, good), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: malformed.messageId }] });
    expect(await itemOf(key)).toMatchObject({ status: 'PROCESSED' });
    expect(output.logs('Malformed message').at(-1)).toMatchObject({ messageId: malformed.messageId });
  });

  it('retries a server fault with the SDK and, once attempts are exhausted, fails only that message', async () => {
    failWrites('faults/broken.txt', 'dynamodb-internal-server-error');
    const broken = await upload('faults/broken.txt', 'a', 'text/plain');
    const fine = await upload('faults/fine.txt', 'b', 'text/plain');
    const brokenMessage = sqsMessage(
      notificationBody(created('faults/broken.txt', broken.size, broken.eTag, '80')),
    );
    const fineMessage = sqsMessage(notificationBody(created('faults/fine.txt', fine.size, fine.eTag, '81')));

    const response = await faultyHandler(sqsEvent(brokenMessage, fineMessage), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: brokenMessage.messageId }] });
    expect(requestsFor('faults/broken.txt')).toBe(DYNAMODB_MAX_ATTEMPTS);
    expect(await itemOf('faults/broken.txt')).toBeUndefined();
    expect(await itemOf('faults/fine.txt')).toMatchObject({ status: 'PROCESSED' });
    expect(output.logs('Object event failed').at(-1)).toMatchObject({
      key: 'faults/broken.txt',
      error: { cause: { name: 'InternalServerError' } },
    });
  });

  it('rides out throttling with SDK backoff, without failing the message', async () => {
    failWrites('faults/throttled.txt', 'dynamodb-provisioned-throughput-exceeded', 1);
    const { size, eTag } = await upload('faults/throttled.txt', 'c', 'text/plain');
    const response = await deliver(
      faultyHandler,
      notificationBody(created('faults/throttled.txt', size, eTag, '90')),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(requestsFor('faults/throttled.txt')).toBe(2);
    expect(await itemOf('faults/throttled.txt')).toMatchObject({ status: 'PROCESSED' });
  });

  it('fails the invocation when every message fails, so that Lambda backs off', async () => {
    failWrites('faults/all.txt', 'dynamodb-internal-server-error');
    await expect(
      deliver(faultyHandler, notificationBody(removed('faults/all.txt', '99'))),
    ).rejects.toBeInstanceOf(FullBatchFailureError);
  });
});
