import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsProxy, AwsProxyLogEntry } from '../devkit/aws-proxy.ts';
import { DYNAMODB_MAX_ATTEMPTS, S3_MAX_ATTEMPTS } from '../services/processor/src/clients.ts';
import { recordOf } from './events.ts';
import {
  type ReliabilityEnv,
  type ReliabilityEnvOptions,
  type SynthesizedProcessor,
  synthesizeProcessor,
  withReliabilityEnv,
} from './harness.ts';

/**
 * AWS faults between the deployed processor and its dependencies. Each case checks the product's promise (every
 * object ends as exactly one correct item, nothing dead-lettered) and how it was kept (SDK retries, bounded).
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

/** Uploads `count` small text objects under `prefix`; returns each key's ETag. */
async function uploadTexts(env: ReliabilityEnv, prefix: string, count: number): Promise<Map<string, string>> {
  const uploads = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const key = `${prefix}/${i}.txt`;
      const { eTag } = await env.upload(key, `object ${i} under ${prefix}\n`, 'text/plain');
      return [key, eTag] as const;
    }),
  );
  return new Map(uploads);
}

/** Requests of one operation grouped by SDK invocation: one group per SDK call, one entry per attempt. */
function attemptsPerCall(proxy: AwsProxy, operation: string): AwsProxyLogEntry[][] {
  const calls = new Map<string, AwsProxyLogEntry[]>();
  for (const entry of proxy.requests()) {
    if (entry.operation !== operation) continue;
    const id = entry.sdkInvocationId ?? `untracked-${calls.size}`;
    calls.set(id, [...(calls.get(id) ?? []), entry]);
  }
  return [...calls.values()];
}

async function expectEveryObjectProcessed(env: ReliabilityEnv, uploads: Map<string, string>): Promise<void> {
  const items = await env.items();
  expect([...items.keys()].sort()).toEqual([...uploads.keys()].sort());
  for (const [key, eTag] of uploads) {
    expect(items.get(key), key).toMatchObject({ status: 'PROCESSED', eTag, contentType: 'text/plain' });
  }
  expect(env.deadLetters()).toEqual([]);
}

describe('DynamoDB faults', () => {
  it('throttling (both exceptions), 500s and lost responses: every object still becomes its item, retries bounded', async () => {
    const writes = ['PutItem', 'UpdateItem'];
    await withEnv(
      {
        seed: 11,
        dynamodbFaults: [
          { operations: writes, fault: 'dynamodb-provisioned-throughput-exceeded', share: 0.15 },
          { operations: writes, fault: 'dynamodb-throttling', share: 0.15 },
          { operations: writes, fault: 'dynamodb-internal-server-error', share: 0.1 },
          { operations: writes, fault: 'response-lost', share: 0.05 },
        ],
      },
      async (env) => {
        const uploads = await uploadTexts(env, 'ddb-faults', 24);
        await env.drained(60_000);

        await expectEveryObjectProcessed(env, uploads);
        // The faults really happened, each kind (the test is not passing on a quiet proxy).
        const faults = env.dynamodbProxy.faultCounts();
        for (const kind of [
          'PutItem dynamodb-provisioned-throughput-exceeded',
          'PutItem dynamodb-throttling',
          'PutItem dynamodb-internal-server-error',
          'PutItem response-lost',
        ]) {
          expect(faults[kind], kind).toBeGreaterThan(0);
        }
        // Retries are the SDK's, bounded by the configured attempts (counted at the proxy, not trusted from the SDK).
        const calls = attemptsPerCall(env.dynamodbProxy, 'PutItem');
        expect(Math.max(...calls.map((c) => c.length))).toBeLessThanOrEqual(DYNAMODB_MAX_ATTEMPTS);
        expect(calls.some((c) => c.length > 1)).toBe(true);
        expect(new Set(calls.flat().map((e) => e.sdkMaxAttempts))).toEqual(new Set([DYNAMODB_MAX_ATTEMPTS]));
      },
    );
  });

  it('a write whose every attempt fails fails only its own message, which succeeds on redelivery', async () => {
    await withEnv(
      {
        // Exactly one SDK call's worth of attempts, for one key: the first delivery exhausts its retries.
        // (500s back off for at most 1.5 s in total, so the batch ends well within the visibility timeout.)
        dynamodbFaults: [
          {
            operations: ['PutItem'],
            fault: 'dynamodb-internal-server-error',
            firstAttempts: DYNAMODB_MAX_ATTEMPTS,
            match: (r) => r.body.toString().includes('hot/3.txt'),
          },
        ],
        visibilityTimeoutMs: 4_000,
      },
      async (env) => {
        const uploads = await uploadTexts(env, 'hot', 8);
        await env.drained(60_000);

        await expectEveryObjectProcessed(env, uploads);
        const redeliveredKeys = env.redelivered.map((id) => keyOfMessage(env, id));
        expect(redeliveredKeys).toEqual(['hot/3.txt']);
        const hotCalls = attemptsPerCall(env.dynamodbProxy, 'PutItem').filter((c) =>
          c.some((e) => e.fault !== undefined),
        );
        expect(hotCalls.map((c) => c.length)).toEqual([DYNAMODB_MAX_ATTEMPTS]);
        expect(env.lambda.stats().functionErrors).toBe(0);
      },
    );
  });
});

describe('S3 faults', () => {
  it('transient 503 SlowDown, 500s and dropped connections on the ranged GET: retried, nothing lost', async () => {
    await withEnv(
      {
        seed: 5,
        // Some GETs fail all 3 attempts (p = 0.45^3): their messages come back after this, as SQS would send them.
        visibilityTimeoutMs: 5_000,
        s3Faults: [
          { operations: ['GetObjectRange'], fault: 's3-slow-down', share: 0.25 },
          { operations: ['GetObjectRange'], fault: 's3-internal-error', share: 0.15 },
          { operations: ['GetObjectRange'], fault: 'connection-reset', share: 0.05 },
        ],
      },
      async (env) => {
        const uploads = await uploadTexts(env, 's3-transient', 30);
        await env.drained(60_000);

        await expectEveryObjectProcessed(env, uploads);
        const faults = env.s3Proxy.faultCounts();
        expect(faults['GetObjectRange s3-slow-down']).toBeGreaterThan(0);
        expect(faults['GetObjectRange s3-internal-error']).toBeGreaterThan(0);
        const calls = attemptsPerCall(env.s3Proxy, 'GetObjectRange');
        expect(Math.max(...calls.map((c) => c.length))).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
        expect(calls.some((c) => c.length > 1)).toBe(true);
        // A call that exhausted its attempts failed only its message: the redelivered ones are exactly those.
        const exhausted = calls.filter((c) => c.length === S3_MAX_ATTEMPTS && c.every((e) => e.fault));
        expect(exhausted.length).toBeGreaterThan(0);
        expect(new Set(env.redelivered).size).toBe(exhausted.length);
      },
    );
  });

  it('a ranged GET that hangs is abandoned by the SDK and retried inside the same invocation', async () => {
    await withEnv(
      {
        s3Faults: [
          {
            operations: ['GetObjectRange'],
            fault: 'timeout',
            firstAttempts: 1,
            match: (r) => r.key === 'hangs/1.txt',
          },
        ],
        // Well above the clients' per-attempt request timeout plus a retry, so only a request the SDK never
        // abandons would make the invocation time out.
        functionTimeoutMs: 15_000,
        visibilityTimeoutMs: 20_000,
      },
      async (env) => {
        const uploads = await uploadTexts(env, 'hangs', 3);
        await env.drained(90_000);

        await expectEveryObjectProcessed(env, uploads);
        expect(env.s3Proxy.faultCounts()).toEqual({ 'GetObjectRange timeout': 1 });
        // Recovered by the SDK's own timeout and retry: no invocation timed out, nothing went back to the queue.
        expect(env.lambda.stats().timeouts).toBe(0);
        expect(env.redelivered).toEqual([]);
      },
    );
  });

  it('an object deleted before its create event is processed: the GET meets a 404, the item ends DELETED', async () => {
    const held: string[] = [];
    await withEnv(
      {
        // Holds back every notification about keys under gone/ until the test releases them.
        deliver: (body, enqueue) => {
          if (body.includes('"key":"gone/')) held.push(body);
          else enqueue(body);
        },
      },
      async (env) => {
        const kept = await uploadTexts(env, 'kept', 4);
        await uploadTexts(env, 'gone', 2);
        for (const key of ['gone/0.txt', 'gone/1.txt']) {
          await env.s3.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: key }));
        }
        expect(held.map((b) => recordOf(b).eventName).sort()).toEqual([
          'ObjectCreated:Put',
          'ObjectCreated:Put',
          'ObjectRemoved:Delete',
          'ObjectRemoved:Delete',
        ]);
        for (const body of held) env.send(body);
        await env.drained(60_000);

        const items = await env.items();
        for (const [key, eTag] of kept) expect(items.get(key)).toMatchObject({ status: 'PROCESSED', eTag });
        for (const key of ['gone/0.txt', 'gone/1.txt']) expect(items.get(key)?.status).toBe('DELETED');
        const goneGets = env.s3Proxy.requests().filter((r) => r.key?.startsWith('gone/'));
        expect(goneGets.map((r) => [r.operation, r.status])).toEqual([
          ['GetObjectRange', 404],
          ['GetObjectRange', 404],
        ]);
        // A 404 is an outcome, not an error: nothing retried, nothing dead-lettered.
        expect(env.redelivered).toEqual([]);
        expect(env.deadLetters()).toEqual([]);
      },
    );
  });
});

function keyOfMessage(env: ReliabilityEnv, messageId: string): string {
  const line = env
    .logRecords()
    .find((r) => r.messageId === messageId && typeof r.key === 'string' && r.key !== '');
  return String(line?.key ?? `unknown message ${messageId}`);
}
