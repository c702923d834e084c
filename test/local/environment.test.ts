import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../devkit/queue.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../local/environment.ts';

/**
 * The environment's wiring of the deployed function to the queue: the stage's maxReceiveCount and visibility
 * timeout (scaled), the function's partial batch response for a poison message, and the dead-letter store.
 */

let environment: LocalEnvironment;
const lines: string[] = [];

beforeAll(async () => {
  // dev: visibility 181 s -> 0.905 s; batching window 1 s -> 5 ms; function timeout 30 s -> 150 ms.
  environment = await startLocalEnvironment({ stage: 'dev', timeScale: 0.005, log: (l) => lines.push(l) });
  // The s3:TestEvent sent at start-up goes first, in a batch of its own.
  await environment.queue.idle();
});
afterAll(async () => {
  await environment?.close();
});

describe('startLocalEnvironment', () => {
  it("dead-letters a message the deployed function keeps failing, after the stage's maxReceiveCount", async () => {
    const { maxReceiveCount } = environment.deployed.ingestQueue;
    const dead = new Promise<DeadLetter>((resolve) => environment.queue.once('dead-lettered', resolve));
    const redeliveries: number[] = [];
    environment.queue.on('visible-again', ({ receiveCount }) => redeliveries.push(receiveCount));

    environment.queue.enqueue('{"Records": "not a list"}');
    const letter = await dead;

    expect(maxReceiveCount).toBe(3);
    // Alone in its batch, the failing record fails the whole invocation (Powertools' FullBatchFailureError).
    expect(letter).toMatchObject({ receiveCount: maxReceiveCount });
    expect(letter.lastFailure).toMatch(/^invocation failed: InvocationError: FullBatchFailureError/);
    expect(redeliveries).toEqual([1, 2]);
    expect(lines.filter((l) => l.startsWith('RETRY'))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^DEAD-LETTER {2}message .* after 3 receives: invocation failed: /);
    // One invocation for the s3:TestEvent sent at start-up, then one per receive of the poison message.
    expect(environment.lambda.stats()).toMatchObject({ invocations: 1 + maxReceiveCount, functionErrors: 3 });
  });
});
