import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_MAX_ATTEMPTS } from '../services/processor/src/clients.ts';
import { notification, recordOf } from './events.ts';
import {
  type ReliabilityEnv,
  type ReliabilityEnvOptions,
  type SynthesizedProcessor,
  synthesizeProcessor,
  withReliabilityEnv,
} from './harness.ts';

/**
 * What SQS and S3 do to messages: duplicates, reordering, test events, malformed and poison messages, and one
 * failing record in a batch. The queue is the local environment's (real SQS semantics); the messages are S3's.
 */

let processor: SynthesizedProcessor;
beforeAll(async () => {
  processor = await synthesizeProcessor();
});
afterAll(async () => {
  await processor?.dispose();
});

const withEnv = (
  options: Omit<ReliabilityEnvOptions, 'processor'>,
  use: (env: ReliabilityEnv) => Promise<void>,
) => withReliabilityEnv({ processor, ...options }, use);

const messagesLogged = (env: ReliabilityEnv, message: string) =>
  env.logRecords().filter((r) => r.message === message);

describe('delivery', () => {
  it('acknowledges the s3:TestEvent S3 sends when notifications are configured, without an item or a retry', async () => {
    await withEnv({}, async (env) => {
      await env.drained(10_000);

      expect(env.queue.stats()).toMatchObject({ enqueued: 1, deleted: 1, receives: 1, deadLettered: 0 });
      expect((await env.items()).size).toBe(0);
      expect(messagesLogged(env, 'Skipped s3:TestEvent')).toHaveLength(1);
    });
  });

  it('every notification delivered 2-3 times: one item per object, one winning write, the rest skipped', async () => {
    let deliveries = 0;
    await withEnv(
      {
        deliver: (body, enqueue) => {
          const copies = body.includes('"Event":"s3:TestEvent"') ? 1 : 2 + (deliveries % 2);
          for (let i = 0; i < copies; i++) {
            enqueue(body);
            deliveries++;
          }
        },
      },
      async (env) => {
        const uploads = new Map<string, string>();
        for (let i = 0; i < 12; i++) {
          const key = `dup/${i}.json`;
          uploads.set(key, (await env.upload(key, `{"n":${i}}`, 'application/json')).eTag);
        }
        await env.drained(30_000);

        const items = await env.items();
        expect(items.size).toBe(12);
        for (const [key, eTag] of uploads)
          expect(items.get(key)).toMatchObject({ status: 'PROCESSED', eTag });
        const objectDeliveries = deliveries - 1;
        expect(objectDeliveries).toBeGreaterThanOrEqual(24);
        // Each delivery tried its one conditional write; exactly one per object won.
        expect(env.dynamodbProxy.counts().PutItem).toBe(objectDeliveries);
        expect(messagesLogged(env, 'Object PROCESSED')).toHaveLength(12);
        expect(
          messagesLogged(env, 'Skipped stale or duplicate event: the item already reflects a newer one'),
        ).toHaveLength(objectDeliveries - 12);
        expect(env.redelivered).toEqual([]);
      },
    );
  });

  it('an older version delivered after the newer one never overwrites it', async () => {
    const held: string[] = [];
    await withEnv(
      {
        deliver: (body, enqueue) => {
          if (body.includes('"key":"order/')) held.push(body);
          else enqueue(body);
        },
      },
      async (env) => {
        const newest = new Map<string, string>();
        for (let i = 0; i < 6; i++) {
          const key = `order/${i}.txt`;
          await env.upload(key, `version 1 of ${i}\n`, 'text/plain');
          newest.set(key, (await env.upload(key, `version 2 of ${i}, longer\n`, 'text/plain')).eTag);
        }
        expect(held).toHaveLength(12);
        const [older, newer] = [held.filter((_, i) => i % 2 === 0), held.filter((_, i) => i % 2 === 1)];
        for (const body of newer) env.send(body);
        await env.drained(30_000);
        for (const body of older) env.send(body);
        await env.drained(30_000);

        const items = await env.items();
        for (const body of newer) {
          const { key, sequencer } = recordOf(body);
          expect(items.get(key)).toMatchObject({ status: 'PROCESSED', eTag: newest.get(key) });
          expect(BigInt(`0x${items.get(key)?.sequencer}`)).toBe(BigInt(`0x${sequencer}`));
        }
        // The late events were recognised as overtaken (their version is gone), not written.
        expect(messagesLogged(env, 'Skipped superseded event')).toHaveLength(6);
        expect(env.dynamodbProxy.counts().PutItem).toBe(6);
      },
    );
  });

  it('orders sequencers of different lengths as numbers, whichever arrives first', async () => {
    await withEnv(
      // The crafted events below stand in for the upload's own notification.
      { deliver: (body, enqueue) => (body.includes('"key":"seq/') ? undefined : enqueue(body)) },
      async (env) => {
        const keys = ['seq/newer-first.txt', 'seq/older-first.txt'];
        const eTags = new Map<string, string>();
        for (const key of keys) eTags.set(key, (await env.upload(key, 'same bytes\n', 'text/plain')).eTag);
        // 0x0100000000000000 (16 digits) is newer than 0xFFFFFFFFFFFFFF (14 digits), though smaller as text.
        const event = (key: string, sequencer: string, eventName: string, eventTime: string) =>
          notification({
            bucket: env.bucket,
            key,
            sequencer,
            eventName,
            eventTime,
            size: 11,
            eTag: eTags.get(key),
          });
        const newer = (key: string) =>
          event(key, '0100000000000000', 'ObjectCreated:Copy', '2025-01-01T00:00:02.000Z');
        const older = (key: string) =>
          event(key, 'FFFFFFFFFFFFFF', 'ObjectCreated:Put', '2025-01-01T00:00:01.000Z');

        env.send(newer('seq/newer-first.txt'));
        env.send(older('seq/older-first.txt'));
        await env.drained(10_000);
        env.send(older('seq/newer-first.txt'));
        env.send(newer('seq/older-first.txt'));
        await env.drained(10_000);

        const items = await env.items();
        for (const key of keys) {
          expect(items.get(key), key).toMatchObject({
            status: 'PROCESSED',
            eventName: 'ObjectCreated:Copy',
            eventTime: '2025-01-01T00:00:02.000Z',
          });
        }
      },
    );
  });

  it('malformed bodies and records missing fields go to the dead-letter store after maxReceiveCount, reason logged, others unaffected', async () => {
    // Short enough to reach the receive limit quickly, long enough that no healthy batch outlives it on a busy machine.
    await withEnv({ visibilityTimeoutMs: 1_500 }, async (env) => {
      const poison = {
        notJson: 'this is not JSON {',
        missingFields: JSON.stringify({
          Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put' }],
        }),
        createWithoutSize: notification({ bucket: env.bucket, key: 'no-size.txt', sequencer: '0A' }),
        emptyRecords: JSON.stringify({ Records: [] }),
      };
      const poisonIds = new Map(Object.entries(poison).map(([name, body]) => [env.send(body), name]));
      const good = new Map<string, string>();
      for (let i = 0; i < 6; i++) {
        good.set(`good/${i}.txt`, (await env.upload(`good/${i}.txt`, `fine ${i}\n`, 'text/plain')).eTag);
      }
      await env.drained(30_000);

      const maxReceiveCount = env.deployed.ingestQueue.maxReceiveCount;
      const dead = env.deadLetters();
      expect(dead.map((d) => poisonIds.get(d.messageId)).sort()).toEqual(Object.keys(poison).sort());
      for (const letter of dead) expect(letter.receiveCount).toBe(maxReceiveCount);

      // The reason is logged, for every receive, naming what is wrong.
      const malformed = messagesLogged(
        env,
        'Malformed message: not a valid S3 event notification; it will be retried, then dead-lettered',
      );
      const problemsOf = (name: string) =>
        malformed
          .filter((r) => poisonIds.get(String(r.messageId)) === name)
          .map((r) => (r.problems as string[]).join('; '));
      expect(problemsOf('notJson')).toHaveLength(maxReceiveCount);
      expect(problemsOf('notJson')[0]).toMatch(/not JSON/);
      expect(problemsOf('missingFields')[0]).toMatch(/Records\[0\]\.(eventTime|s3)/);
      expect(problemsOf('createWithoutSize')[0]).toMatch(/size: required for ObjectCreated:Put/);
      expect(problemsOf('emptyRecords')[0]).toMatch(/Records/);

      // The good objects were not held up: processed on their first receive, never redelivered.
      const items = await env.items();
      for (const [key, eTag] of good) expect(items.get(key)).toMatchObject({ status: 'PROCESSED', eTag });
      expect(env.redelivered.every((id) => poisonIds.has(id))).toBe(true);
      expect(items.size).toBe(good.size);
    });
  });

  it('one failing record in a batch: only its message is retried, the others are deleted and not re-done', async () => {
    const held: string[] = [];
    let firstBatch: readonly SQSRecord[] | undefined;
    await withEnv(
      {
        visibilityTimeoutMs: 3_000,
        // Every attempt of the first GET of batch/4 fails; its redelivery succeeds.
        s3Faults: [
          {
            operations: ['GetObjectRange'],
            fault: 's3-internal-error',
            firstAttempts: S3_MAX_ATTEMPTS,
            match: (r) => r.key === 'batch/4.txt',
          },
        ],
        deliver: (body, enqueue) => (body.includes('"key":"batch/') ? held.push(body) : enqueue(body)),
      },
      async (env) => {
        env.queue.on('batch-start', ({ records }) => {
          if (records.some((r) => r.body.includes('batch/')) && !firstBatch) firstBatch = records;
        });
        for (let i = 0; i < env.deployed.eventSource.batchSize; i++) {
          await env.upload(`batch/${i}.txt`, `record ${i}\n`, 'text/plain');
        }
        await env.drained(10_000);
        for (const body of held) env.send(body); // one tick: one full batch
        await env.drained(30_000);

        const failing = firstBatch?.find((r) => r.body.includes('batch/4.txt'));
        expect(firstBatch).toHaveLength(env.deployed.eventSource.batchSize);
        const firstEnd = env.batchEnds.find((e) => e.failed.includes(failing?.messageId ?? '?'));
        expect(firstEnd?.failed).toEqual([failing?.messageId]);
        expect(firstEnd?.deleted).toHaveLength(env.deployed.eventSource.batchSize - 1);
        expect(firstEnd?.error).toBeUndefined();
        expect(env.redelivered).toEqual([failing?.messageId]);

        const gets = (key: string) => env.s3Proxy.requests().filter((r) => r.key === key);
        for (let i = 0; i < env.deployed.eventSource.batchSize; i++) {
          const key = `batch/${i}.txt`;
          // 3 failed attempts + the redelivery's one for batch/4; exactly one GET for every other object.
          expect(gets(key), key).toHaveLength(key === 'batch/4.txt' ? S3_MAX_ATTEMPTS + 1 : 1);
        }
        const items = await env.items();
        expect([...items.values()].filter((i) => i.status === 'PROCESSED')).toHaveLength(
          env.deployed.eventSource.batchSize,
        );
        expect(env.deadLetters()).toEqual([]);
      },
    );
  });
});
