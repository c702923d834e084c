import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../devkit/clock.ts';
import { type BatchEnd, type DeadLetter, LocalQueue, type LocalQueueOptions } from '../../devkit/queue.ts';

interface Invocation {
  readonly records: SQSRecord[];
  readonly bodies: string[];
  resolve(response?: SQSBatchResponse | null): void;
  reject(error: Error): void;
}

/** A function whose invocations stay open until the test resolves or rejects them. */
function harness(overrides: Partial<LocalQueueOptions> = {}) {
  const clock = new ManualClock();
  const invocations: Invocation[] = [];
  const batchEnds: BatchEnd[] = [];
  const queue = new LocalQueue({
    batchSize: 10,
    batchingWindowMs: 1_000,
    visibilityTimeoutMs: 30_000,
    maxReceiveCount: 3,
    maxConcurrency: 2,
    clock,
    invoke: (records) =>
      new Promise((resolve, reject) =>
        invocations.push({ records, bodies: records.map((r) => r.body), resolve, reject }),
      ),
    ...overrides,
  });
  queue.on('batch-end', (end) => batchEnds.push(end));
  const send = async (...bodies: string[]) => {
    const ids = bodies.map((b) => queue.enqueue(b));
    await settle();
    return ids;
  };
  const open = () => invocations.filter((i) => !('done' in i));
  const finish = async (invocation: Invocation, response?: SQSBatchResponse | null) => {
    invocation.resolve(response);
    Object.assign(invocation, { done: true });
    await settle();
  };
  const crash = async (invocation: Invocation, error = new Error('worker exited with signal SIGKILL')) => {
    invocation.reject(error);
    Object.assign(invocation, { done: true });
    await settle();
  };
  return { clock, queue, invocations, batchEnds, send, open, finish, crash };
}

const failures = (...ids: string[]): SQSBatchResponse => ({
  batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })),
});
const range = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('batching', () => {
  it('invokes with full batches at once and holds a partial batch for the batching window', async () => {
    const h = harness({ maxConcurrency: 5 });
    await h.send(...range(23));

    expect(h.invocations.map((i) => i.bodies.length)).toEqual([10, 10]);
    await h.clock.advance(999);
    expect(h.invocations).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.invocations.map((i) => i.bodies.length)).toEqual([10, 10, 3]);
  });

  it('starts the window at the first message gathered and adds messages that arrive during it', async () => {
    const h = harness();
    await h.send('first');
    await h.clock.advance(600);
    await h.send('second');
    expect(h.invocations).toHaveLength(0);
    await h.clock.advance(400);
    expect(h.invocations.map((i) => i.bodies)).toEqual([['first', 'second']]);
  });

  it('invokes immediately with what is visible when the window is zero', async () => {
    const h = harness({ batchingWindowMs: 0 });
    await h.send('a', 'b');
    await h.send('c');
    expect(h.invocations.map((i) => i.bodies)).toEqual([['a', 'b'], ['c']]);
  });

  it('never builds a batch above the invocation payload limit', async () => {
    const h = harness({ maxBatchBytes: 25, batchingWindowMs: 0, maxConcurrency: 10 });
    await h.send('x'.repeat(10), 'y'.repeat(10), 'z'.repeat(10));
    expect(h.invocations.map((i) => i.bodies.length)).toEqual([2, 1]);
  });

  it('delivers messages in the order they were sent, within and across batches', async () => {
    const h = harness({ batchSize: 3, maxConcurrency: 10 });
    await h.send(...range(7));
    await h.clock.advance(1_000);
    expect(h.invocations.flatMap((i) => i.bodies)).toEqual(range(7));
  });

  it('hands Lambda-shaped records: receive count, timestamps, body digest, source ARN and region', async () => {
    const h = harness({ queueArn: 'arn:aws:sqs:eu-central-1:123456789012:ingest' });
    const start = h.clock.now();
    const [id] = await h.send('{"hello":"world"}');
    await h.clock.advance(1_000);
    const record = h.invocations[0]?.records[0];
    expect(record).toMatchObject({
      messageId: id,
      body: '{"hello":"world"}',
      md5OfBody: createHash('md5').update('{"hello":"world"}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:ingest',
      awsRegion: 'eu-central-1',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(start),
        ApproximateFirstReceiveTimestamp: String(start),
      },
    });
  });
});

describe('partial batch responses and redelivery', () => {
  it('deletes the successes, keeps only the reported failure, and redelivers it after the visibility timeout', async () => {
    const h = harness({ batchingWindowMs: 0 });
    const [, second] = await h.send('a', 'b', 'c');
    const [first] = h.invocations;
    if (!first || !second) throw new Error('expected one invocation');
    await h.finish(first, failures(second));

    expect(h.batchEnds[0]).toMatchObject({ failed: [second] });
    expect(h.batchEnds[0]?.deleted).toHaveLength(2);
    expect(h.queue.stats()).toMatchObject({ deleted: 2, invisible: 1, visible: 0 });

    await h.clock.advance(29_999);
    expect(h.invocations).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.invocations[1]?.bodies).toEqual(['b']);
    expect(h.invocations[1]?.records[0]?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('fails the whole batch when the function throws or its process dies, and redelivers every message', async () => {
    const h = harness({ batchingWindowMs: 0 });
    await h.send('a', 'b');
    const [first] = h.invocations;
    if (!first) throw new Error('expected one invocation');
    await h.crash(first);

    expect(h.batchEnds[0]).toMatchObject({ deleted: [], error: 'Error: worker exited with signal SIGKILL' });
    expect(h.queue.stats()).toMatchObject({ failedInvocations: 1, invisible: 2 });
    await h.clock.advance(30_000);
    expect(h.invocations[1]?.bodies).toEqual(['a', 'b']);
  });

  it('treats a response naming a message outside the batch as a failure of the whole batch, as Lambda does', async () => {
    const h = harness({ batchingWindowMs: 0 });
    await h.send('a', 'b');
    const [first] = h.invocations;
    if (!first) throw new Error('expected one invocation');
    await h.finish(first, failures('not-a-message-of-this-batch'));

    expect(h.batchEnds[0]?.error).toMatch(/not a message of the batch/);
    expect(h.queue.stats()).toMatchObject({ deleted: 0, invisible: 2 });
  });

  it('reads a null or empty response as success for every message', async () => {
    const h = harness({ batchingWindowMs: 0 });
    await h.send('a');
    await h.send('b');
    const [first, second] = h.invocations;
    if (!first || !second) throw new Error('expected two invocations');
    await h.finish(first, null);
    await h.finish(second, { batchItemFailures: [] });
    expect(h.queue.stats()).toMatchObject({ deleted: 2, invisible: 0, visible: 0 });
    expect(h.queue.isIdle()).toBe(true);
  });

  it('deletes the whole batch despite reported failures when the mapping does not report item failures', async () => {
    const h = harness({ batchingWindowMs: 0, reportBatchItemFailures: false });
    const [first] = await h.send('a', 'b');
    const [invocation] = h.invocations;
    if (!invocation || !first) throw new Error('expected one invocation');
    await h.finish(invocation, failures(first));
    expect(h.queue.stats()).toMatchObject({ deleted: 2, invisible: 0 });
  });

  it('redelivers the copy of an invocation that outlives the visibility timeout, and ignores its stale delete', async () => {
    const h = harness({ batchingWindowMs: 0, visibilityTimeoutMs: 5_000 });
    await h.send('slow');
    await h.clock.advance(5_000);
    const [stale, fresh] = h.invocations;
    if (!stale || !fresh) throw new Error('expected the message to be delivered twice');
    expect(fresh.records[0]?.attributes.ApproximateReceiveCount).toBe('2');

    await h.finish(stale);
    expect(h.queue.stats()).toMatchObject({ deleted: 0, invisible: 1 });
    await h.finish(fresh);
    expect(h.queue.stats()).toMatchObject({ deleted: 1, invisible: 0 });
  });
});

describe('dead-letter store', () => {
  it('moves a message that keeps failing after maxReceiveCount receives, without holding up the others', async () => {
    const dead: DeadLetter[] = [];
    const h = harness({ batchingWindowMs: 0, maxReceiveCount: 3 });
    h.queue.on('dead-lettered', (letter) => dead.push(letter));
    const [poison] = await h.send('poison', 'fine');
    if (!poison) throw new Error('expected an id');

    for (let receive = 1; receive <= 3; receive++) {
      const invocation = h.open()[0];
      if (!invocation) throw new Error(`expected delivery ${receive}`);
      expect(invocation.records.find((r) => r.messageId === poison)?.attributes.ApproximateReceiveCount).toBe(
        String(receive),
      );
      await h.finish(invocation, failures(poison));
      expect(h.queue.stats().deleted).toBe(1);
      await h.clock.advance(30_000);
    }

    expect(h.open()).toHaveLength(0);
    expect(h.invocations).toHaveLength(3);
    expect(dead).toEqual([
      expect.objectContaining({
        messageId: poison,
        body: 'poison',
        receiveCount: 3,
        lastFailure: 'reported as a batch item failure',
      }),
    ]);
    expect(h.queue.deadLetters()).toEqual(dead);
    expect(h.queue.stats()).toMatchObject({ deadLettered: 1, deleted: 1, invisible: 0, visible: 0 });
  });

  it('keeps the error of the last failed invocation as the dead letter reason', async () => {
    const h = harness({ batchingWindowMs: 0, maxReceiveCount: 1 });
    await h.send('x');
    const [only] = h.invocations;
    if (!only) throw new Error('expected one invocation');
    await h.crash(only, new Error('Task timed out after 30.00 seconds'));
    await h.clock.advance(30_000);
    expect(h.queue.deadLetters()[0]?.lastFailure).toBe(
      'invocation failed: Error: Task timed out after 30.00 seconds',
    );
  });
});

describe('dead-letter redrive, deletion and restore', () => {
  it('moves a dead letter back with its id and body, receive count reset, and delivers it again', async () => {
    const h = harness({ batchingWindowMs: 0, maxReceiveCount: 1 });
    const [id] = await h.send('comes back');
    const [first] = h.invocations;
    if (!first || !id) throw new Error('expected one invocation');
    await h.finish(first, failures(id));
    await h.clock.advance(30_000);
    expect(h.queue.deadLetters().map((d) => d.messageId)).toEqual([id]);

    expect(h.queue.redriveDeadLetter(id)).toBe(true);
    expect(h.queue.redriveDeadLetter(id)).toBe(false);
    await settle();
    const [, again] = h.invocations;
    expect(again?.records[0]).toMatchObject({
      messageId: id,
      body: 'comes back',
      attributes: { ApproximateReceiveCount: '1' },
    });
    if (!again) throw new Error('expected a redelivery');
    await h.finish(again);
    expect(h.queue.deadLetters()).toEqual([]);
    expect(h.queue.isIdle()).toBe(true);
  });

  it('deletes a dead letter, restores one kept from an earlier run, and lists what a stop would lose', async () => {
    const h = harness({ batchingWindowMs: 0, maxReceiveCount: 1 });
    const letter: DeadLetter = {
      messageId: 'kept-1',
      body: 'from the last run',
      receiveCount: 3,
      sentTimestamp: 1,
      deadLetteredAt: 2,
      lastFailure: 'invocation failed: x',
    };
    h.queue.restoreDeadLetter(letter);
    expect(() => h.queue.restoreDeadLetter(letter)).toThrow(/already exists/);
    expect(h.queue.deadLetters()).toEqual([letter]);
    expect(h.queue.deleteDeadLetter('kept-1')).toBe(true);
    expect(h.queue.deleteDeadLetter('kept-1')).toBe(false);

    await h.send('in flight', 'second');
    expect(h.queue.undelivered().map((m) => [m.body, m.inFlight])).toEqual([
      ['in flight', true],
      ['second', true],
    ]);
  });
});

describe('concurrency and idleness', () => {
  it('keeps at most maxConcurrency batches in flight and starts the next one when a slot frees', async () => {
    const h = harness({ batchSize: 2, batchingWindowMs: 0, maxConcurrency: 2 });
    await h.send(...range(7));
    expect(h.open()).toHaveLength(2);
    expect(h.queue.stats()).toMatchObject({ batchesInFlight: 2, visible: 3 });

    const [first] = h.open();
    if (!first) throw new Error('expected an invocation');
    await h.finish(first);
    expect(h.open()).toHaveLength(2);
    expect(h.invocations.map((i) => i.bodies)).toEqual([
      ['m0', 'm1'],
      ['m2', 'm3'],
      ['m4', 'm5'],
    ]);
  });

  it('resolves idle() only when every message is deleted or dead-lettered and nothing is running', async () => {
    const h = harness({ batchingWindowMs: 0, maxReceiveCount: 2 });
    let idle = false;
    await h.send('ok', 'bad');
    void h.queue.idle().then(() => {
      idle = true;
    });
    const [first] = h.invocations;
    if (!first) throw new Error('expected an invocation');
    await h.finish(first, failures(first.records[1]?.messageId ?? ''));
    expect(idle).toBe(false);
    await h.clock.advance(30_000);
    const [, second] = h.invocations;
    if (!second) throw new Error('expected a redelivery');
    await h.crash(second);
    expect(idle).toBe(false);
    await h.clock.advance(30_000);
    expect(idle).toBe(true);
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('rejects settings SQS or Lambda would not accept', () => {
    expect(
      () =>
        new LocalQueue({
          batchSize: 0,
          batchingWindowMs: 0,
          visibilityTimeoutMs: 1,
          maxReceiveCount: 1,
          maxConcurrency: 1,
          invoke: async () => null,
        }),
    ).toThrow(/batchSize is 0/);
  });
});
