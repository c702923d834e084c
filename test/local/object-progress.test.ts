import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../devkit/clock.ts';
import { LocalQueue } from '../../devkit/queue.ts';
import { type ItemSummary, ObjectProgress } from '../../local/object-progress.ts';

const notification = (encodedKey: string, sequencer: string, eventName = 'ObjectCreated:Put') =>
  JSON.stringify({
    Records: [
      { eventName, eventTime: '2025-01-01T00:00:00.000Z', s3: { object: { key: encodedKey, sequencer } } },
    ],
  });

function setup(
  respond: (records: SQSRecord[]) => SQSBatchResponse | Error,
  items: Record<string, ItemSummary>,
) {
  const clock = new ManualClock(Date.parse('2025-01-01T00:00:00.250Z'));
  const queue = new LocalQueue({
    batchSize: 10,
    batchingWindowMs: 0,
    visibilityTimeoutMs: 1_000,
    maxReceiveCount: 2,
    maxConcurrency: 1,
    clock,
    invoke: async (records) => {
      const response = respond(records);
      if (response instanceof Error) throw response;
      return response;
    },
  });
  const lines: string[] = [];
  const progress = new ObjectProgress({
    queue,
    readItem: async (key) => items[key],
    log: (line) => lines.push(line),
    now: () => clock.now(),
  });
  return { clock, queue, lines, progress };
}

describe('ObjectProgress', () => {
  it('prints one line per object with the outcome read from the table and the latency since the event', async () => {
    const s = setup(() => ({ batchItemFailures: [] }), {
      'photos/my cat.png': { status: 'PROCESSED', sequencer: '00A', contentType: 'image/png' },
      'notes.exe': { status: 'REJECTED', sequencer: '00B', reasonCode: 'CONTENT_TYPE_NOT_ALLOWED' },
      gone: { status: 'DELETED', sequencer: '00C' },
    });
    s.queue.enqueue(JSON.stringify({ Event: 's3:TestEvent' }));
    s.queue.enqueue(notification('photos/my+cat.png', '00A'));
    s.queue.enqueue(notification('notes.exe', '00B'));
    s.queue.enqueue(notification('gone', '00C', 'ObjectRemoved:Delete'));
    await s.queue.idle();
    const totals = await s.progress.flush();

    expect(s.lines).toEqual([
      'PROCESSED    photos/my cat.png  250 ms  image/png',
      'REJECTED     notes.exe  250 ms  CONTENT_TYPE_NOT_ALLOWED',
      'DELETED      gone  250 ms',
    ]);
    expect(totals).toMatchObject({ processed: 1, rejected: 1, deleted: 1, duplicates: 0, retries: 0 });
  });

  it('counts a redelivered event and an event older than the item as duplicates', async () => {
    const s = setup(() => ({ batchItemFailures: [] }), { a: { status: 'PROCESSED', sequencer: '0F' } });
    s.queue.enqueue(notification('a', '0F'));
    await s.queue.idle();
    s.queue.enqueue(notification('a', '0F'));
    s.queue.enqueue(notification('a', '0E'));
    await s.queue.idle();
    expect(await s.progress.flush()).toMatchObject({ processed: 1, duplicates: 2 });
    expect(s.lines.map((l) => l.split(' ')[0])).toEqual(['PROCESSED', 'DUPLICATE', 'STALE']);
  });

  it('reports retries with the reason and dead letters with the last failure', async () => {
    const s = setup(() => new Error('boom'), {});
    s.queue.enqueue(notification('poison.png', '01'));
    await settle();
    await s.clock.advance(1_000);
    await s.clock.advance(1_000);
    const totals = await s.progress.flush();

    expect(s.lines).toEqual([
      'RETRY        poison.png  (receive 1) Error: boom',
      'RETRY        poison.png  (receive 2) Error: boom',
      'DEAD-LETTER  poison.png after 2 receives: invocation failed: Error: boom',
    ]);
    expect(totals).toMatchObject({ retries: 2, deadLettered: 1, processed: 0 });
  });

  it('names a failing message that is not an S3 notification by its id', async () => {
    const s = setup(() => new Error('unreadable'), {});
    const id = s.queue.enqueue('not json');
    await settle();
    await s.clock.advance(1_000);
    await s.clock.advance(1_000);
    expect(s.lines).toEqual([
      `RETRY        message ${id}  (receive 1) Error: unreadable`,
      `RETRY        message ${id}  (receive 2) Error: unreadable`,
      `DEAD-LETTER  message ${id} after 2 receives: invocation failed: Error: unreadable`,
    ]);
  });
});
