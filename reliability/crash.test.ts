import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SynthesizedProcessor, startReliabilityEnv, synthesizeProcessor, waitFor } from './harness.ts';

/**
 * The processor's execution environment dies mid-batch (SIGKILL: out of memory, a host failure). Lambda reports
 * the invocation failed; SQS redelivers the batch once its visibility timeout expires. Writes that reached
 * DynamoDB before the kill must not be duplicated or regressed by the redelivery, and nothing may be lost.
 */

let processor: SynthesizedProcessor;
beforeAll(async () => {
  processor = await synthesizeProcessor();
});
afterAll(async () => {
  await processor?.dispose();
});

it('a worker killed mid-batch: the batch is redelivered after the visibility timeout, no loss, no duplicate', async () => {
  const env = await startReliabilityEnv({
    processor,
    // Writes take 300 ms, so a batch is reliably caught with its writes in flight (some already applied).
    dynamodbLatencyMs: 300,
    visibilityTimeoutMs: 2_000,
  });
  try {
    const uploads = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const key = `crash/${i}.txt`;
        uploads.set(key, (await env.upload(key, `survives ${i}\n`, 'text/plain')).eTag);
      }),
    );
    await waitFor(() => (env.dynamodbProxy.counts().PutItem ?? 0) > 0, 10_000, 'a batch writing to DynamoDB');
    const victims = env.lambda.busyPids();
    expect(victims.length).toBeGreaterThan(0);
    for (const pid of victims) process.kill(pid, 'SIGKILL');

    await env.drained(30_000);

    // Every victim was mid-invocation when killed (a batch finishing in the same instant is the only exception).
    expect(env.lambda.stats().crashes).toBeGreaterThanOrEqual(1);
    expect(env.lambda.stats().crashes).toBeLessThanOrEqual(victims.length);
    expect(env.redelivered.length).toBeGreaterThan(0);
    const items = await env.items();
    expect([...items.keys()].sort()).toEqual([...uploads.keys()].sort());
    for (const [key, eTag] of uploads) expect(items.get(key)).toMatchObject({ status: 'PROCESSED', eTag });
    expect(env.deadLetters()).toEqual([]);
    // Writes the killed batch had already sent landed; their redelivered events lost the conditional write
    // instead of writing twice.
    const writes = env.dynamodbProxy.requests().filter((r) => r.operation === 'PutItem');
    const failedConditions = writes.filter((r) => r.status === 400).length;
    expect(failedConditions).toBeGreaterThan(0);
    expect(writes.filter((r) => r.status === 200)).toHaveLength(uploads.size);
    expect(writes.length).toBe(uploads.size + failedConditions);
  } finally {
    await env.close();
  }
});
