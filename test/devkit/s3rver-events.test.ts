import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, type LocalAws, s3ClientConfig, startLocalAws } from '../../devkit/aws-servers.ts';
import type { S3rverEvent } from '../../devkit/s3-notifications.ts';
import { completeS3rverEvents } from '../../devkit/s3rver-events.ts';

let aws: LocalAws;
let s3: S3Client;
const records: Array<{ name: string; key: string }> = [];

beforeAll(async () => {
  aws = await startLocalAws();
  completeS3rverEvents(aws.s3rver).on('event', (event: S3rverEvent) => {
    for (const r of event.Records) records.push({ name: r.eventName, key: r.s3.object.key });
  });
  s3 = new S3Client(s3ClientConfig(aws));
  await createBucket(s3, 'events');
});
afterAll(async () => {
  s3.destroy();
  await aws.close();
});

const removalsOf = (prefix: string) =>
  records.filter((r) => r.name === 'ObjectRemoved:Delete' && r.key.startsWith(prefix)).map((r) => r.key);
const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: 'events', Key: key, Body: key }));

describe('completeS3rverEvents', () => {
  it('raises one removal per object for concurrent deletes under one prefix', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `concurrent/a/b/${i}.txt`);
    await Promise.all(keys.map(put));
    await Promise.all(keys.map((Key) => s3.send(new DeleteObjectCommand({ Bucket: 'events', Key }))));

    expect(removalsOf('concurrent/').sort()).toEqual([...keys].sort());
    const left = await s3.send(new ListObjectsV2Command({ Bucket: 'events', Prefix: 'concurrent/' }));
    expect(left.KeyCount).toBe(0);
  });

  it('raises removals for DeleteObjects (aws s3 rm --recursive), only for objects that existed', async () => {
    await Promise.all(['multi/x.txt', 'multi/y z.txt'].map(put));
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'events',
        Delete: {
          Objects: [{ Key: 'multi/x.txt' }, { Key: 'multi/y z.txt' }, { Key: 'multi/never-existed' }],
        },
      }),
    );
    expect(removalsOf('multi/').sort()).toEqual(['multi/x.txt', 'multi/y z.txt']);
  });

  it("passes creations through once and never repeats s3rver's own removal event", async () => {
    await put('once.txt');
    await s3.send(new DeleteObjectCommand({ Bucket: 'events', Key: 'once.txt' }));
    expect(records.filter((r) => r.key === 'once.txt').map((r) => r.name)).toEqual([
      'ObjectCreated:Put',
      'ObjectRemoved:Delete',
    ]);
  });

  it('returns the same emitter when called twice, so removals are not doubled', () => {
    expect(completeS3rverEvents(aws.s3rver)).toBe(completeS3rverEvents(aws.s3rver));
  });
});
