import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../../devkit/aws-proxy.ts';
import { LOCAL_AWS_CREDENTIALS, type LocalAws, startLocalAws } from '../../devkit/aws-servers.ts';

const credentials = LOCAL_AWS_CREDENTIALS;
const region = 'us-east-1';

let aws: LocalAws;
let dynamoUpstream: string;
let s3Upstream: string;
const proxies: AwsProxy[] = [];

async function proxy(options: Parameters<typeof startAwsProxy>[0]): Promise<AwsProxy> {
  const p = await startAwsProxy(options);
  proxies.push(p);
  return p;
}

function dynamoClient(endpoint: string, maxAttempts = 3): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials, maxAttempts, retryMode: 'standard' });
}

function s3Client(endpoint: string, maxAttempts = 3, requestTimeout?: number): S3Client {
  return new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    maxAttempts,
    retryMode: 'standard',
    ...(requestTimeout === undefined
      ? {}
      : { requestHandler: { requestTimeout, throwOnRequestTimeout: true } }),
  });
}

beforeAll(async () => {
  aws = await startLocalAws();
  dynamoUpstream = aws.dynamodbEndpoint;
  s3Upstream = aws.s3Endpoint;
  await dynamoClient(dynamoUpstream).send(
    new CreateTableCommand({
      TableName: 'proxy-test',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await s3Client(s3Upstream).send(new CreateBucketCommand({ Bucket: 'proxy-test' }));
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await aws.close();
});

describe('DynamoDB proxy', () => {
  it('forwards requests unchanged and counts them by X-Amz-Target operation', async () => {
    const ddb = await proxy({ service: 'dynamodb', upstream: dynamoUpstream });
    const client = dynamoClient(ddb.endpoint);
    await client.send(
      new PutItemCommand({ TableName: 'proxy-test', Item: { pk: { S: 'a' }, v: { N: '1' } } }),
    );
    const got = await client.send(new GetItemCommand({ TableName: 'proxy-test', Key: { pk: { S: 'a' } } }));

    expect(got.Item?.v?.N).toBe('1');
    expect(ddb.counts()).toEqual({ PutItem: 1, GetItem: 1 });
    expect(ddb.requests().map((r) => [r.operation, r.status, r.sdkAttempt])).toEqual([
      ['PutItem', 200, 1],
      ['GetItem', 200, 1],
    ]);
    ddb.reset();
    expect(ddb.counts()).toEqual({});
    expect(ddb.requests()).toEqual([]);
  });

  it.each([
    ['dynamodb-provisioned-throughput-exceeded', 'ProvisionedThroughputExceededException', 400],
    ['dynamodb-throttling', 'ThrottlingException', 400],
    ['dynamodb-internal-server-error', 'InternalServerError', 500],
  ] as const)('answers %s so the SDK names it %s and retries it', async (fault, errorName, status) => {
    const ddb = await proxy({
      service: 'dynamodb',
      upstream: dynamoUpstream,
      faults: [{ operations: ['PutItem'], fault, firstAttempts: 1 }],
    });
    const client = dynamoClient(ddb.endpoint, 2);
    const item = { TableName: 'proxy-test', Item: { pk: { S: `retry-${fault}` } } };

    const ok = await client.send(new PutItemCommand(item));

    expect(ok.$metadata.attempts).toBe(2);
    expect(ddb.requests().map((r) => [r.sdkAttempt, r.fault, r.status])).toEqual([
      [1, fault, status],
      [2, undefined, 200],
    ]);
    expect(ddb.faultCounts()).toEqual({ [`PutItem ${fault}`]: 1 });

    // Once faults outlast the retry budget the SDK gives up after exactly maxAttempts, with the service's name.
    ddb.setFaults([{ operations: ['PutItem'], fault }]);
    ddb.reset();
    const failure = await client.send(new PutItemCommand(item)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ name: errorName, $metadata: { httpStatusCode: status, attempts: 2 } });
    expect(ddb.counts()).toEqual({ PutItem: 2 });
  });

  it('response-lost applies the write upstream but the client only sees a dropped connection', async () => {
    const ddb = await proxy({
      service: 'dynamodb',
      upstream: dynamoUpstream,
      faults: [{ operations: ['PutItem'], fault: 'response-lost', firstAttempts: 1 }],
    });
    const client = dynamoClient(ddb.endpoint, 3);
    const conditional = new PutItemCommand({
      TableName: 'proxy-test',
      Item: { pk: { S: 'lost-response' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    });

    // The first attempt created the item; the SDK's retry then fails the condition it just satisfied.
    const failure = await client.send(conditional).catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: 'ConditionalCheckFailedException', $metadata: { attempts: 2 } });
    const log = ddb.requests();
    expect(log.map((r) => [r.fault, r.upstreamStatus, r.status])).toEqual([
      ['response-lost', 200, undefined],
      [undefined, undefined, 400],
    ]);
    // Both attempts belong to one SDK operation: the invocation id groups retries.
    expect(new Set(log.map((r) => r.sdkInvocationId)).size).toBe(1);
    expect(log[0]?.sdkInvocationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('injects a share of faults with a seeded decision that does not depend on arrival order', async () => {
    const rule = { operations: ['PutItem'], fault: 'dynamodb-throttling', share: 0.3 } as const;
    const a = await proxy({ service: 'dynamodb', upstream: dynamoUpstream, faults: [rule], seed: 7 });
    const b = await proxy({ service: 'dynamodb', upstream: dynamoUpstream, faults: [rule], seed: 7 });
    const c = await proxy({ service: 'dynamodb', upstream: dynamoUpstream, faults: [rule], seed: 8 });
    const keys = Array.from({ length: 200 }, (_, i) => `share-${i}`);
    const putAll = (p: AwsProxy, order: readonly string[]) => {
      const client = dynamoClient(p.endpoint, 1);
      return Promise.all(
        order.map((k) =>
          client
            .send(new PutItemCommand({ TableName: 'proxy-test', Item: { pk: { S: k } } }))
            .then(() => undefined)
            .catch(() => k),
        ),
      );
    };

    const failedA = (await putAll(a, keys)).filter(Boolean).sort();
    const failedB = (await putAll(b, [...keys].reverse())).filter(Boolean).sort();
    const failedC = (await putAll(c, keys)).filter(Boolean).sort();

    expect(failedA).toEqual(failedB);
    expect(failedA).not.toEqual(failedC);
    // 200 independent draws at p = 0.3: mean 60, sd 6.5; the seeded outcome is fixed, the band is a sanity check.
    expect(failedA.length).toBeGreaterThan(30);
    expect(failedA.length).toBeLessThan(90);
    expect(a.faultCounts()).toEqual({ 'PutItem dynamodb-throttling': failedA.length });
  });

  it('identity decides which requests count as the same one', async () => {
    const ddb = await proxy({
      service: 'dynamodb',
      upstream: dynamoUpstream,
      faults: [{ operations: ['PutItem'], fault: 'dynamodb-throttling', firstAttempts: 1 }],
      identity: (r) => (JSON.parse(r.body.toString()) as { Item: { pk: { S: string } } }).Item.pk.S,
    });
    const client = dynamoClient(ddb.endpoint, 1);
    const put = (pk: string, v: string) =>
      client.send(new PutItemCommand({ TableName: 'proxy-test', Item: { pk: { S: pk }, v: { S: v } } })).then(
        () => 'ok',
        (e: { name: string }) => e.name,
      );

    // Different bodies, same identity: only the first request of each key is faulted.
    expect(await put('id-a', 'first')).toBe('ThrottlingException');
    expect(await put('id-a', 'second')).toBe('ok');
    expect(await put('id-b', 'first')).toBe('ThrottlingException');
  });

  it('narrows rules by operation, match predicate and limit, and setFaults([]) turns them off', async () => {
    const ddb = await proxy({
      service: 'dynamodb',
      upstream: dynamoUpstream,
      faults: [
        {
          operations: '*',
          fault: 'dynamodb-internal-server-error',
          match: (r) => r.body.toString().includes('poison'),
          limit: 2,
        },
      ],
    });
    const client = dynamoClient(ddb.endpoint, 1);
    const put = (pk: string) =>
      client.send(new PutItemCommand({ TableName: 'proxy-test', Item: { pk: { S: pk } } })).then(
        () => 'ok',
        (e: { name: string }) => e.name,
      );

    expect(await put('healthy')).toBe('ok');
    expect(await put('poison-1')).toBe('InternalServerError');
    expect(await put('poison-2')).toBe('InternalServerError');
    expect(await put('poison-3')).toBe('ok'); // limit reached
    ddb.reset();
    expect(await put('poison-4')).toBe('InternalServerError'); // reset re-arms the limit
    ddb.setFaults([]);
    expect(await put('poison-5')).toBe('ok');
  });

  it('rejects invalid rules and faults of the other service', async () => {
    await expect(
      startAwsProxy({
        service: 'dynamodb',
        upstream: dynamoUpstream,
        faults: [{ operations: '*', fault: 'dynamodb-throttling', share: 1.5 }],
      }),
    ).rejects.toThrow(/share is 1.5/);
    await expect(
      startAwsProxy({
        service: 'dynamodb',
        upstream: dynamoUpstream,
        faults: [{ operations: '*', fault: 's3-slow-down' }],
      }),
    ).rejects.toThrow(/cannot be sent by a dynamodb proxy/);
    await expect(startAwsProxy({ service: 's3', upstream: s3Upstream, latencyMs: -1 })).rejects.toThrow(
      /latencyMs/,
    );
  });

  it('adds the configured latency to every request', async () => {
    const ddb = await proxy({ service: 'dynamodb', upstream: dynamoUpstream, latencyMs: 120 });
    const client = dynamoClient(ddb.endpoint);
    await client.send(new GetItemCommand({ TableName: 'proxy-test', Key: { pk: { S: 'warm' } } }));
    // Checked by order, not by clock (timings belong in `npm run bench`): the proxy's 120 ms timer must have fired
    // before the client got its answer.
    const events: string[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) =>
      realSetTimeout(
        ms === 120
          ? () => {
              events.push('latency elapsed');
              callback();
            }
          : callback,
        ms,
      )) as unknown as typeof setTimeout);
    try {
      await client.send(new GetItemCommand({ TableName: 'proxy-test', Key: { pk: { S: 'x' } } }));
      events.push('answered');
    } finally {
      spy.mockRestore();
    }
    expect(events).toEqual(['latency elapsed', 'answered']);
  });
});

describe('S3 proxy', () => {
  it('classifies S3 requests: ranged GET, GET, HEAD, PUT, DELETE, LIST', async () => {
    const s3 = await proxy({ service: 's3', upstream: s3Upstream });
    const client = s3Client(s3.endpoint);
    const Key = 'dir/a b+c.txt';
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key, Body: 'hello world' }));
    await client.send(new HeadObjectCommand({ Bucket: 'proxy-test', Key }));
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'proxy-test', Key, Range: 'bytes=0-4' }));
    expect(await ranged.Body?.transformToString()).toBe('hello');
    const full = await client.send(new GetObjectCommand({ Bucket: 'proxy-test', Key }));
    expect(await full.Body?.transformToString()).toBe('hello world');
    await client.send(new ListObjectsV2Command({ Bucket: 'proxy-test', Prefix: 'dir/' }));
    await client.send(new DeleteObjectCommand({ Bucket: 'proxy-test', Key }));

    expect(s3.counts()).toEqual({
      PutObject: 1,
      HeadObject: 1,
      GetObjectRange: 1,
      GetObject: 1,
      ListObjects: 1,
      DeleteObject: 1,
    });
    expect(new Set(s3.requests().map((r) => r.key))).toEqual(new Set([Key, undefined]));
  });

  it.each([
    ['s3-slow-down', 503],
    ['s3-internal-error', 500],
  ] as const)('answers %s so the SDK retries it, then succeeds', async (fault, status) => {
    const s3 = await proxy({
      service: 's3',
      upstream: s3Upstream,
      faults: [{ operations: ['GetObjectRange'], fault, firstAttempts: 1 }],
    });
    const client = s3Client(s3.endpoint, 2);
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key: `t-${fault}`, Body: '%PDF-1.7' }));

    const got = await client.send(
      new GetObjectCommand({ Bucket: 'proxy-test', Key: `t-${fault}`, Range: 'bytes=0-3' }),
    );

    expect(await got.Body?.transformToString()).toBe('%PDF');
    expect(got.$metadata.attempts).toBe(2);
    expect(
      s3
        .requests()
        .filter((r) => r.operation === 'GetObjectRange')
        .map((r) => r.status),
    ).toEqual([status, 206]);
  });

  it('records the first answer per request shape and replays it without asking the server', async () => {
    const s3 = await proxy({ service: 's3', upstream: s3Upstream, record: true });
    const client = s3Client(s3.endpoint, 1);
    const keys = ['replay/one.txt', 'replay/two.txt'];
    for (const Key of keys) {
      await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key, Body: 'same content' }));
    }
    const read = async (Key: string) => {
      const got = await client.send(new GetObjectCommand({ Bucket: 'proxy-test', Key, Range: 'bytes=0-3' }));
      return { body: await got.Body?.transformToString(), eTag: got.ETag };
    };
    const recorded = await read(keys[0] as string);
    // Same shape, same content: the recording stays unambiguous.
    expect(await read(keys[1] as string)).toEqual(recorded);
    const recording = s3.recordings();
    expect(Object.keys(recording).sort()).toEqual(['GET GetObjectRange bytes=0-3', 'PUT PutObject']);
    expect(recording['GET GetObjectRange bytes=0-3']).toMatchObject({ status: 206 });

    s3.setReplay(recording);
    // Gone upstream, still answered: the reply comes from the recording, for any key of a recorded shape.
    await s3Client(s3Upstream).send(new DeleteObjectCommand({ Bucket: 'proxy-test', Key: keys[0] }));
    s3.reset();
    expect(await read(keys[0] as string)).toEqual(recorded);
    expect(await read('replay/never-written.txt')).toEqual(recorded);
    // A shape never recorded is refused (501), not forwarded: a benchmark cannot measure something else unawares.
    const unrecorded = await client
      .send(new HeadObjectCommand({ Bucket: 'proxy-test', Key: keys[1] }))
      .catch((e) => e);
    expect(unrecorded).toMatchObject({ $metadata: { httpStatusCode: 501 } });
    expect(s3.requests().map((r) => [r.operation, r.status])).toEqual([
      ['GetObjectRange', 206],
      ['GetObjectRange', 206],
      ['HeadObject', 501],
    ]);
  });

  it('marks a shape whose answers differed while recording as ambiguous, and refuses to replay it', async () => {
    const s3 = await proxy({ service: 's3', upstream: s3Upstream, record: true });
    const client = s3Client(s3.endpoint, 1);
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key: 'amb/a', Body: 'first' }));
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key: 'amb/b', Body: 'other' }));
    for (const Key of ['amb/a', 'amb/b']) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'proxy-test', Key, Range: 'bytes=0-2' }));
      await got.Body?.transformToString();
    }
    const recording = s3.recordings();
    expect(recording['GET GetObjectRange bytes=0-2']?.ambiguous).toBe(true);
    s3.setReplay(recording);
    const refused = await client
      .send(new GetObjectCommand({ Bucket: 'proxy-test', Key: 'amb/a', Range: 'bytes=0-2' }))
      .catch((e) => e);
    expect(refused).toMatchObject({ $metadata: { httpStatusCode: 501 } });
  });

  it('answers ranged GETs with NoSuchKey (not retried) while other requests pass', async () => {
    const s3 = await proxy({
      service: 's3',
      upstream: s3Upstream,
      faults: [{ operations: ['GetObjectRange', 'HeadObject'], fault: 's3-no-such-key' }],
    });
    const client = s3Client(s3.endpoint, 3);
    const Key = 'deleted-meanwhile <&>.bin';
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key, Body: 'x' }));

    const ranged = await client
      .send(new GetObjectCommand({ Bucket: 'proxy-test', Key, Range: 'bytes=0-0' }))
      .catch((e: unknown) => e);
    const head = await client
      .send(new HeadObjectCommand({ Bucket: 'proxy-test', Key }))
      .catch((e: unknown) => e);
    const full = await client.send(new GetObjectCommand({ Bucket: 'proxy-test', Key }));

    expect(ranged).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404, attempts: 1 } });
    expect(head).toMatchObject({ name: 'NotFound', $metadata: { httpStatusCode: 404, attempts: 1 } });
    expect(await full.Body?.transformToString()).toBe('x');
  });

  it('holds timed-out requests until the client gives up; the retry then succeeds', async () => {
    const s3 = await proxy({
      service: 's3',
      upstream: s3Upstream,
      faults: [{ operations: ['GetObjectRange'], fault: 'timeout', firstAttempts: 1 }],
    });
    const client = s3Client(s3.endpoint, 2, 300);
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key: 'slow', Body: 'GIF89a' }));

    const got = await client.send(
      new GetObjectCommand({ Bucket: 'proxy-test', Key: 'slow', Range: 'bytes=0-2' }),
    );

    expect(await got.Body?.transformToString()).toBe('GIF');
    expect(got.$metadata.attempts).toBe(2);
    expect(
      s3
        .requests()
        .filter((r) => r.operation === 'GetObjectRange')
        .map((r) => r.fault),
    ).toEqual(['timeout', undefined]);
  });

  it('drops connections for connection-reset, which the SDK retries', async () => {
    const s3 = await proxy({
      service: 's3',
      upstream: s3Upstream,
      faults: [{ operations: ['HeadObject'], fault: 'connection-reset', firstAttempts: 1 }],
    });
    const client = s3Client(s3.endpoint, 2);
    await client.send(new PutObjectCommand({ Bucket: 'proxy-test', Key: 'reset', Body: 'x' }));

    const head = await client.send(new HeadObjectCommand({ Bucket: 'proxy-test', Key: 'reset' }));

    expect(head.$metadata.attempts).toBe(2);
    expect(s3.counts().HeadObject).toBe(2);
  });

  it('stop() ends held requests instead of hanging', async () => {
    const s3 = await startAwsProxy({
      service: 's3',
      upstream: s3Upstream,
      faults: [{ operations: '*', fault: 'timeout' }],
    });
    const client = s3Client(s3.endpoint, 1);
    const pending = client
      .send(new HeadObjectCommand({ Bucket: 'proxy-test', Key: 'never' }))
      .catch((e) => e);
    await expect.poll(() => s3.heldRequests(), { timeout: 5000 }).toBe(1);

    await s3.stop();

    expect(await pending).toBeInstanceOf(Error);
  });
});
