import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../devkit/clock.ts';
import {
  type ObjectFacts,
  S3NotificationEmulator,
  type S3rverEventRecord,
  SequencerSource,
} from '../../devkit/s3-notifications.ts';
import type { S3EventRecord } from '../../services/processor/src/s3-event-builder.ts';

describe('SequencerSource', () => {
  it('grows strictly, as hexadecimal, even for many events in one millisecond', () => {
    const source = new SequencerSource(new ManualClock());
    const values = Array.from({ length: 2_000 }, () => source.next());
    for (const v of values) expect(v).toMatch(/^[0-9A-F]{16,}$/);
    const numbers = values.map((v) => BigInt(`0x${v}`));
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1] as bigint);
  });

  it('continues above the previous run when restarted later (persisted data directory)', async () => {
    const clock = new ManualClock();
    const firstRun = new SequencerSource(clock);
    let last = '';
    for (let i = 0; i < 50; i++) last = firstRun.next();
    await clock.advance(1_000);
    const secondRun = new SequencerSource(clock);
    expect(BigInt(`0x${secondRun.next()}`)).toBeGreaterThan(BigInt(`0x${last}`));
  });
});

const put = (key: string, bucket = 'local-bucket'): { Records: S3rverEventRecord[] } => ({
  Records: [
    {
      eventName: 'ObjectCreated:Put',
      eventTime: '2025-01-01T00:00:00.000Z',
      s3: { bucket: { name: bucket }, object: { key, size: 42, eTag: '"0cc175b9c0f1b6a831c399e269772661"' } },
    },
  ],
});

function emulator(readObjectFacts: (bucket: string, key: string) => Promise<ObjectFacts | undefined>) {
  const source = new EventEmitter();
  const sent: string[] = [];
  const dropped: string[] = [];
  const instance = new S3NotificationEmulator({
    source,
    bucket: 'local-bucket',
    region: 'eu-west-1',
    send: (body) => sent.push(body),
    readObjectFacts,
    onDropped: (reason) => dropped.push(reason),
    clock: new ManualClock(),
  });
  const records = () =>
    sent.slice(1).map((body) => {
      const parsed = JSON.parse(body) as { Records: S3EventRecord[] };
      expect(parsed.Records).toHaveLength(1);
      return parsed.Records[0] as S3EventRecord;
    });
  return { source, sent, dropped, instance, records };
}

const noFacts = async () => undefined;

describe('S3NotificationEmulator', () => {
  it('announces itself with an s3:TestEvent, as S3 does when the notification configuration is put', () => {
    const e = emulator(noFacts);
    e.instance.start();
    expect(JSON.parse(e.sent[0] ?? '')).toMatchObject({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Bucket: 'local-bucket',
    });
  });

  it('sends an S3-format record: encoded key, unquoted eTag, size, sequencer, region and bucket ARN', () => {
    const e = emulator(noFacts);
    e.instance.start();
    e.source.emit('event', put('photos/my cat+dog.png'));
    expect(e.records()).toEqual([
      expect.objectContaining({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventName: 'ObjectCreated:Put',
        eventTime: '2025-01-01T00:00:00.000Z',
        s3: expect.objectContaining({
          bucket: expect.objectContaining({ name: 'local-bucket', arn: 'arn:aws:s3:::local-bucket' }),
          object: {
            key: 'photos/my+cat%2Bdog.png',
            size: 42,
            eTag: '0cc175b9c0f1b6a831c399e269772661',
            sequencer: expect.stringMatching(/^[0-9A-F]{16}$/),
          },
        }),
      }),
    ]);
  });

  it('sends removals without size or eTag, and ignores other buckets', () => {
    const e = emulator(noFacts);
    e.instance.start();
    e.source.emit('event', put('elsewhere.png', 'another-bucket'));
    e.source.emit('event', {
      Records: [
        {
          eventName: 'ObjectRemoved:Delete',
          s3: { bucket: { name: 'local-bucket' }, object: { key: 'a b' } },
        },
      ],
    });
    const [removal] = e.records();
    expect(e.records()).toHaveLength(1);
    expect(removal?.eventName).toBe('ObjectRemoved:Delete');
    expect(removal?.s3.object).toEqual({ key: 'a+b', sequencer: expect.any(String) });
  });

  it('completes Copy events with the object facts, keeping the sequencer of the moment the copy happened', async () => {
    let releaseFacts: (facts: ObjectFacts) => void = () => {};
    const e = emulator(
      (_bucket, key) =>
        new Promise((resolve) => {
          expect(key).toBe('copy of.png');
          releaseFacts = resolve;
        }),
    );
    e.instance.start();
    e.source.emit('event', {
      Records: [
        {
          eventName: 'ObjectCreated:Copy',
          s3: { bucket: { name: 'local-bucket' }, object: { key: 'copy of.png', size: 7 } },
        },
      ],
    });
    e.source.emit('event', put('later.png'));
    releaseFacts({ size: 7, eTag: 'abc', versionId: 'v1' });
    await settle();

    const [later, copy] = e.records();
    expect(copy?.s3.object).toMatchObject({ key: 'copy+of.png', size: 7, eTag: 'abc', versionId: 'v1' });
    expect(BigInt(`0x${copy?.s3.object.sequencer}`)).toBeLessThan(BigInt(`0x${later?.s3.object.sequencer}`));
  });

  it('reports a Copy whose object vanished before it could be read instead of sending a record without facts', async () => {
    const e = emulator(noFacts);
    e.instance.start();
    e.source.emit('event', {
      Records: [
        {
          eventName: 'ObjectCreated:Copy',
          s3: { bucket: { name: 'local-bucket' }, object: { key: 'gone' } },
        },
      ],
    });
    await e.instance.stop();
    expect(e.records()).toHaveLength(0);
    expect(e.dropped).toEqual(['object no longer exists']);
  });

  it('stops forwarding after stop()', async () => {
    const e = emulator(noFacts);
    e.instance.start();
    await e.instance.stop();
    e.source.emit('event', put('after-stop.png'));
    expect(e.records()).toHaveLength(0);
  });
});
