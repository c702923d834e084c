import { describe, expect, it } from 'vitest';
import { classifyEvent, InvalidMessageError, parseMessageBody } from '../src/s3-event.ts';
import { notificationBody, s3Record, testEventBody } from './support/events.ts';

/** The problems a body is rejected with (fails the test if it is accepted). */
function problemsOf(body: string): readonly string[] {
  try {
    parseMessageBody(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMessageError);
    return (error as InvalidMessageError).problems;
  }
  throw new Error('expected the body to be rejected');
}

describe('classifyEvent', () => {
  it.each([
    ['ObjectCreated:Put', undefined, 'create'],
    ['ObjectCreated:Post', undefined, 'create'],
    ['ObjectCreated:Copy', undefined, 'create'],
    ['ObjectCreated:CompleteMultipartUpload', 'v1', 'create'],
    ['ObjectRemoved:Delete', undefined, 'remove'],
    ['ObjectRemoved:Delete', 'v1', 'remove-version'],
    ['ObjectRemoved:DeleteMarkerCreated', 'marker', 'remove'],
    ['LifecycleExpiration:Delete', undefined, 'remove'],
    ['LifecycleExpiration:Delete', 'v1', 'remove-version'],
    ['LifecycleExpiration:DeleteMarkerCreated', 'marker', 'remove'],
    ['LifecycleTransition', undefined, 'ignore'],
    ['ObjectTagging:Put', 'v1', 'ignore'],
    ['ObjectRestore:Completed', undefined, 'ignore'],
  ] as const)('%s (versionId %s) -> %s', (eventName, versionId, action) => {
    expect(classifyEvent(eventName, versionId)).toBe(action);
  });
});

describe('parseMessageBody', () => {
  it('recognises the s3:TestEvent S3 sends when notifications are configured', () => {
    expect(parseMessageBody(testEventBody('my-bucket'))).toEqual({ kind: 'test-event', bucket: 'my-bucket' });
  });

  it('parses every record of a notification, decoding keys and normalising sequencers and times', () => {
    const body = notificationBody(
      s3Record({
        eventName: 'ObjectCreated:Put',
        key: 'photos/my cat+dog.png',
        size: 1024,
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
        sequencer: '0055AED6DCD90281E5',
        eventTime: '2026-01-02T03:04:05.678+00:00',
      }),
      s3Record({ eventName: 'ObjectRemoved:Delete', key: 'old.txt', sequencer: '0055AED6DCD90281E6' }),
    );
    const parsed = parseMessageBody(body);
    expect(parsed).toEqual({
      kind: 'object-events',
      events: [
        {
          action: 'create',
          eventName: 'ObjectCreated:Put',
          eventTime: '2026-01-02T03:04:05.678Z',
          bucket: 'uploads-bucket',
          key: 'photos/my cat+dog.png',
          size: 1024,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
          sequencer: '55AED6DCD90281E5'.padStart(32, '0'),
          s3RequestId: 'C3D13FE58DE4C810',
        },
        {
          action: 'remove',
          eventName: 'ObjectRemoved:Delete',
          eventTime: '2026-01-02T03:04:05.678Z',
          bucket: 'uploads-bucket',
          key: 'old.txt',
          sequencer: '55AED6DCD90281E6'.padStart(32, '0'),
          s3RequestId: 'C3D13FE58DE4C810',
        },
      ],
    });
  });

  it('accepts a lifecycle expiration without a sequencer (eventVersion 2.3 shape)', () => {
    const record = {
      ...s3Record({ eventName: 'LifecycleExpiration:Delete', key: 'expired.log' }),
      eventVersion: '2.3',
      lifecycleEventData: { transitionEventData: null },
    };
    const parsed = parseMessageBody(notificationBody(record));
    expect(parsed.kind === 'object-events' && parsed.events[0]).toMatchObject({
      action: 'remove',
      key: 'expired.log',
    });
    expect(parsed.kind === 'object-events' && parsed.events[0]?.sequencer).toBeUndefined();
  });

  it('treats null fields (as S3 sends for tagging events) as absent', () => {
    const record = s3Record({ eventName: 'ObjectTagging:Put', key: 'tagged.png', eTag: 'abc' });
    (record.s3 as { object: Record<string, unknown> }).object.size = null;
    (record.s3 as { object: Record<string, unknown> }).object.sequencer = null;
    const parsed = parseMessageBody(notificationBody(record));
    expect(parsed.kind === 'object-events' && parsed.events[0]).toMatchObject({ action: 'ignore' });
  });

  it('rejects a body that is not JSON', () => {
    expect(problemsOf('not json')[0]).toMatch(/^body is not JSON/);
  });

  it('rejects JSON that is neither a notification nor a test event, naming the missing field', () => {
    expect(problemsOf(JSON.stringify({ hello: 'world' }))).toEqual([
      'Records: Invalid input: expected array, received undefined',
    ]);
  });

  it('rejects a notification without records', () => {
    expect(problemsOf(JSON.stringify({ Records: [] }))).toEqual([
      'Records: Too small: expected array to have >=1 items',
    ]);
  });

  it('names every missing or malformed field with its path', () => {
    const record = s3Record({ eventName: 'ObjectCreated:Put', key: 'k', size: 1, sequencer: '01' });
    delete (record.s3 as { object: Record<string, unknown> }).object.key;
    record.eventTime = 'yesterday';
    record.eventSource = 'aws:sqs';
    expect(problemsOf(notificationBody(record))).toEqual([
      'Records[0].eventSource: Invalid input: expected "aws:s3"',
      'Records[0].eventTime: Invalid ISO datetime',
      'Records[0].s3.object.key: Invalid input: expected string, received undefined',
    ]);
  });

  it('requires size and sequencer on creates, and says why', () => {
    const record = s3Record({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      key: 'big.zip',
      eTag: 'e-3',
    });
    expect(problemsOf(notificationBody(record))).toEqual([
      'Records[0].s3.object.size: required for ObjectCreated:CompleteMultipartUpload events',
      'Records[0].s3.object.sequencer: required for ObjectCreated:CompleteMultipartUpload events',
    ]);
  });

  it('rejects a negative or fractional size', () => {
    const record = s3Record({ eventName: 'ObjectCreated:Put', key: 'k', size: -1, sequencer: '01' });
    expect(problemsOf(notificationBody(record))[0]).toMatch(/^Records\[0\]\.s3\.object\.size: Too small/);
  });

  it('rejects a key that is not valid URL encoding and a sequencer that is not hex', () => {
    const record = s3Record({ eventName: 'ObjectRemoved:Delete', key: 'x', sequencer: 'XYZ' });
    (record.s3 as { object: Record<string, unknown> }).object.key = 'bad%E0%A4%A';
    expect(problemsOf(notificationBody(record))).toEqual([
      'Records[0].s3.object.key: "bad%E0%A4%A" is not valid URL encoding',
      'Records[0].s3.object.sequencer: sequencer "XYZ" is not hexadecimal',
    ]);
  });

  it('fails the whole message when any record is invalid, so none of it is half-applied', () => {
    const good = s3Record({ eventName: 'ObjectRemoved:Delete', key: 'a', sequencer: '01' });
    const bad = s3Record({ eventName: 'ObjectCreated:Put', key: 'b', sequencer: '02' });
    expect(problemsOf(notificationBody(good, bad))).toEqual([
      'Records[1].s3.object.size: required for ObjectCreated:Put events',
    ]);
  });
});
