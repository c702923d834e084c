import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  localAwsEnvironment,
  s3ClientConfig,
  startLocalAws,
} from '../../devkit/aws-servers.ts';

/** Resolves true if something accepts TCP connections at the endpoint. */
function accepts(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startLocalAws', () => {
  let aws: LocalAws;
  let s3: S3Client;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    aws = await startLocalAws();
    s3 = new S3Client(s3ClientConfig(aws));
    dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
  });
  afterAll(async () => {
    s3.destroy();
    dynamodb.destroy();
    await aws.close();
  });

  it('listens on loopback, on real ephemeral ports it reports', () => {
    expect(aws.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(aws.dynamodbEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(aws.s3Endpoint).port).not.toBe('0');
    expect(aws.s3Endpoint).not.toBe(aws.dynamodbEndpoint);
    expect(aws.region).toBe('us-east-1');
  });

  it('serves the S3 API (path-style) and emits S3-shaped events', async () => {
    await createBucket(s3, 'bucket-a');
    const emitted = new Promise<{ Records: { eventName: string; s3: { object: { key: string } } }[] }>(
      (resolve) => aws.s3rver.once('event', resolve),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: 'dir/a b.txt', Body: 'hello' }));
    const event = await emitted;
    expect(event.Records[0]).toMatchObject({
      eventName: 'ObjectCreated:Put',
      s3: { object: { key: 'dir/a b.txt' } },
    });
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bucket-a', Key: 'dir/a b.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello');
  });

  it('creates a bucket given only the endpoint', async () => {
    await createBucket(aws.s3Endpoint, 'bucket-b');
    await s3.send(new PutObjectCommand({ Bucket: 'bucket-b', Key: 'k', Body: 'v' }));
  });

  it("creates the object table with the stack's key schema, on demand, and returns once it is ACTIVE", async () => {
    await createObjectTable(aws.dynamodbEndpoint, 'objects-a');
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: 'objects-a' }));
    expect(Table).toMatchObject({
      TableStatus: 'ACTIVE',
      KeySchema: [{ AttributeName: 'objectKey', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'objectKey', AttributeType: 'S' }],
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
    });
    await createObjectTable(dynamodb, 'objects-b');
    await dynamodb.send(new PutItemCommand({ TableName: 'objects-b', Item: { objectKey: { S: 'k' } } }));
  });

  it('gives a child process the SDK standard variables that reach these servers', () => {
    expect(localAwsEnvironment(aws)).toEqual({
      AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
  });
});

describe('LocalAws.close', () => {
  it('stops both servers despite open keep-alive connections, and is safe to call twice', async () => {
    const aws = await startLocalAws();
    const s3 = new S3Client(s3ClientConfig(aws));
    await createBucket(s3, 'bucket-c'); // leaves a pooled keep-alive connection open
    await aws.close();
    await aws.close();
    s3.destroy();
    expect(await accepts(aws.s3Endpoint)).toBe(false);
    expect(await accepts(aws.dynamodbEndpoint)).toBe(false);
  });

  it('keeps S3 objects and DynamoDB items across a restart when given a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'aws-servers-test-'));
    try {
      const first = await startLocalAws({ dataDir });
      await createBucket(first.s3Endpoint, 'kept');
      await createObjectTable(first.dynamodbEndpoint, 'kept-objects');
      const s3 = new S3Client(s3ClientConfig(first));
      const dynamodb = new DynamoDBClient(dynamodbClientConfig(first));
      await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'persisted' }));
      await dynamodb.send(new PutItemCommand({ TableName: 'kept-objects', Item: { objectKey: { S: 'k' } } }));
      s3.destroy();
      dynamodb.destroy();
      await first.close();
      expect(existsSync(join(dataDir, 's3'))).toBe(true);

      const second = await startLocalAws({ dataDir });
      const s3Again = new S3Client(s3ClientConfig(second));
      const dynamodbAgain = new DynamoDBClient(dynamodbClientConfig(second));
      try {
        const object = await s3Again.send(new GetObjectCommand({ Bucket: 'kept', Key: 'k' }));
        expect(await object.Body?.transformToString()).toBe('persisted');
        const item = await dynamodbAgain.send(
          new GetItemCommand({ TableName: 'kept-objects', Key: { objectKey: { S: 'k' } } }),
        );
        expect(item.Item).toEqual({ objectKey: { S: 'k' } });
      } finally {
        s3Again.destroy();
        dynamodbAgain.destroy();
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('startLocalAws on a busy port', () => {
  it.each(['S3', 'DynamoDB'] as const)(
    'rejects with the service and port when the %s port is taken',
    async (service) => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const busy = (blocker.address() as AddressInfo).port;
      try {
        const start = startLocalAws(service === 'S3' ? { s3Port: busy } : { dynamodbPort: busy });
        await expect(start).rejects.toMatchObject({ code: 'EADDRINUSE', port: busy, service });
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    },
  );
});
