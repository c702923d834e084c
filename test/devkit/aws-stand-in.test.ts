import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  s3ClientConfig,
  startLocalAws,
} from '../../devkit/aws-servers.ts';
import { type AwsStandIn, startAwsStandIn } from '../../devkit/aws-stand-in.ts';

/**
 * The stand-in of the latency benchmarks: a process of its own that records the emulators' answers and then
 * replays them. What matters for the figures: it answers for any key of a recorded shape without touching the
 * emulators, it counts every request, it refuses what it never recorded, and it reports its own CPU.
 */

let aws: LocalAws;
let standIn: AwsStandIn;

beforeAll(async () => {
  aws = await startLocalAws();
  await createBucket(aws.s3Endpoint, 'stand-in');
  await createObjectTable(aws.dynamodbEndpoint, 'stand-in-objects');
  standIn = await startAwsStandIn({ s3Upstream: aws.s3Endpoint, dynamodbUpstream: aws.dynamodbEndpoint });
});

afterAll(async () => {
  await standIn?.stop();
  await aws?.close();
});

describe('AWS stand-in', () => {
  it('records through the emulators, then replays per request shape in its own process', async () => {
    const direct = {
      s3: new S3Client(s3ClientConfig(aws)),
      dynamodb: new DynamoDBClient(dynamodbClientConfig(aws)),
    };
    const via = {
      s3: new S3Client(s3ClientConfig({ s3Endpoint: standIn.s3Endpoint, region: aws.region })),
      dynamodb: new DynamoDBClient(
        dynamodbClientConfig({ dynamodbEndpoint: standIn.dynamodbEndpoint, region: aws.region }),
      ),
    };
    const get = async (Key: string) => {
      const got = await via.s3.send(new GetObjectCommand({ Bucket: 'stand-in', Key, Range: 'bytes=0-3' }));
      return got.Body?.transformToString();
    };
    const put = (key: string) =>
      via.dynamodb.send(
        new PutItemCommand({ TableName: 'stand-in-objects', Item: { objectKey: { S: key } } }),
      );
    try {
      await direct.s3.send(new PutObjectCommand({ Bucket: 'stand-in', Key: 'seeded', Body: 'PNG?' }));
      expect(await get('seeded')).toBe('PNG?');
      await put('recorded');

      expect(await standIn.replayFromNowOn()).toEqual([
        'GET GetObjectRange bytes=0-3 -> 206',
        'POST PutItem -> 200',
      ]);
      await standIn.reset();
      expect(await get('never-uploaded')).toBe('PNG?');
      await put('replayed');
      const refused = await via.dynamodb
        .send(new GetItemCommand({ TableName: 'stand-in-objects', Key: { objectKey: { S: 'x' } } }))
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ $metadata: { httpStatusCode: 501 } });

      const usage = await standIn.usage();
      expect(usage.counts).toEqual({ GetObjectRange: 1, PutItem: 1, GetItem: 1 });
      expect(usage.replayMisses).toBe(1);
      expect(usage.cpuMs).toBeGreaterThan(0);
      // The replayed write never reached dynalite; the recorded one did.
      const item = (key: string) =>
        direct.dynamodb.send(
          new GetItemCommand({ TableName: 'stand-in-objects', Key: { objectKey: { S: key } } }),
        );
      expect((await item('recorded')).Item).toBeDefined();
      expect((await item('replayed')).Item).toBeUndefined();
    } finally {
      for (const client of [...Object.values(direct), ...Object.values(via)]) client.destroy();
    }
  });

  it('holds every answer for the configured latency', async () => {
    const s3 = new S3Client(s3ClientConfig({ s3Endpoint: standIn.s3Endpoint, region: aws.region }));
    try {
      await standIn.setLatency(300);
      const events: string[] = [];
      const answered = s3
        .send(new GetObjectCommand({ Bucket: 'stand-in', Key: 'any', Range: 'bytes=0-3' }))
        .then(() => events.push('answered'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      events.push('50 ms passed');
      await answered;
      expect(events).toEqual(['50 ms passed', 'answered']);
      await expect(standIn.setLatency(-1)).rejects.toThrow(/latency/);
    } finally {
      await standIn.setLatency(0);
      s3.destroy();
    }
  });
});
