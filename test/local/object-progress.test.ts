import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../devkit/clock.ts';
import { LocalQueue } from '../../devkit/queue.ts';
import { type ItemSummary, ObjectProgress, ProcessorMetricTotals } from '../../local/object-progress.ts';

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

  it('tells a redelivered event (DUPLICATE) from one the item has moved past (SKIPPED)', async () => {
    const s = setup(() => ({ batchItemFailures: [] }), { a: { status: 'PROCESSED', sequencer: '0F' } });
    s.queue.enqueue(notification('a', '0F'));
    await s.queue.idle();
    s.queue.enqueue(notification('a', '0F'));
    s.queue.enqueue(notification('a', '0E'));
    await s.queue.idle();
    expect(await s.progress.flush()).toMatchObject({ processed: 1, duplicates: 1, skipped: 1 });
    expect(s.lines.map((l) => l.split(' ')[0])).toEqual(['PROCESSED', 'DUPLICATE', 'SKIPPED']);
    expect(s.lines[2]).toMatch(/a newer event for the key is recorded$/);
  });

  it('says NO-ITEM when the processor recorded nothing for the key', async () => {
    const s = setup(() => ({ batchItemFailures: [] }), {});
    s.queue.enqueue(notification('overwritten.png', '0A'));
    await s.queue.idle();
    expect(await s.progress.flush()).toMatchObject({ noItem: 1, processed: 0 });
    expect(s.lines).toEqual([
      'NO-ITEM      overwritten.png  250 ms  nothing recorded for the key (the object changed or went before it was read?)',
    ]);
  });

  it("names a batch item failure's cause from the processor's log when it has one", async () => {
    const clock = new ManualClock();
    const queue = new LocalQueue({
      batchSize: 10,
      batchingWindowMs: 0,
      visibilityTimeoutMs: 1_000,
      maxReceiveCount: 1,
      maxConcurrency: 1,
      clock,
      invoke: async (records) => ({
        batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })),
      }),
    });
    const lines: string[] = [];
    new ObjectProgress({
      queue,
      readItem: async () => undefined,
      log: (line) => lines.push(line),
      failureCause: () => 'ProvisionedThroughputExceededException: slow down',
    });
    queue.enqueue(notification('a.png', '01'));
    await settle();
    await clock.advance(1_000);
    expect(lines.at(-1)).toBe(
      'DEAD-LETTER  a.png after 1 receives: reported as a batch item failure: ProvisionedThroughputExceededException: slow down',
    );
  });
});

describe('ProcessorMetricTotals', () => {
  it("sums the processor's EMF counters by metric name, and ignores other lines", () => {
    const totals = new ProcessorMetricTotals();
    const emf = (values: Record<string, number | number[]>) =>
      JSON.stringify({
        _aws: {
          Timestamp: 0,
          CloudWatchMetrics: [
            {
              Namespace: 'S',
              Dimensions: [['service']],
              Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })),
            },
          ],
        },
        service: 's3-object-processor',
        ...values,
      });
    totals.addLine(emf({ ObjectsProcessed: 2, EventsSuperseded: [1, 1, 1] }));
    totals.addLine(emf({ StaleEventsSkipped: 1, ObjectsProcessed: 1 }));
    totals.addLine('{"level":"INFO","message":"Object PROCESSED"}');
    totals.addLine('not json "_aws"');
    expect(totals.format()).toBe(
      'ObjectsProcessed 3, ObjectsRejected 0, ObjectsDeleted 0, StaleEventsSkipped 1, EventsSuperseded 3, EventsIgnored 0, MessagesFailed 0',
    );
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
