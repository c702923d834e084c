import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMessageBody } from '../src/s3-event.ts';
import { s3EventMessage, s3EventRecord, s3TestEventMessage } from '../src/s3-event-builder.ts';

describe('s3EventRecord', () => {
  it('writes event structure 2.1 with the key encoded as S3 encodes it and the ETag without quotes', () => {
    const record = s3EventRecord({
      eventName: 'ObjectCreated:Put',
      bucket: 'uploads',
      key: 'photos/my cat+dog.png',
      region: 'eu-west-1',
      eventTime: '2026-01-02T03:04:05.678Z',
      size: 42,
      eTag: '"0cc175b9c0f1b6a831c399e269772661"',
      versionId: 'v1',
      sequencer: '0055AED6DCD90281E5',
      requestId: 'C3D13FE58DE4C810',
      hostId: 'host',
    });
    expect(record).toEqual({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2026-01-02T03:04:05.678Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'host' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'ObjectEvents',
        bucket: { name: 'uploads', ownerIdentity: { principalId: 'A3EXAMPLE' }, arn: 'arn:aws:s3:::uploads' },
        object: {
          key: 'photos/my+cat%2Bdog.png',
          size: 42,
          eTag: '0cc175b9c0f1b6a831c399e269772661',
          versionId: 'v1',
          sequencer: '0055AED6DCD90281E5',
        },
      },
    });
  });

  it('leaves out what the caller does not give (removals carry no size or ETag)', () => {
    const record = s3EventRecord({ eventName: 'ObjectRemoved:Delete', bucket: 'b', key: 'k', region: 'r' });
    expect(record.s3.object).toEqual({ key: 'k' });
    expect(record.responseElements['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
  });
});

describe('what the builder writes, the parser reads', () => {
  it('gives back every hostile key, size, version and sequencer', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
        fc.nat(),
        fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: 1, maxLength: 20 }),
        (key, size, sequencer) => {
          const body = s3EventMessage(
            s3EventRecord({
              eventName: 'ObjectCreated:Put',
              bucket: 'uploads',
              key,
              region: 'eu-west-1',
              size,
              eTag: 'e',
              versionId: 'v',
              sequencer,
            }),
          );
          const parsed = parseMessageBody(body);
          expect(parsed.kind === 'object-events' && parsed.events[0]).toMatchObject({
            action: 'create',
            key,
            size,
            versionId: 'v',
            sequencer: sequencer.padStart(32, '0'),
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('recognises the test event', () => {
    expect(parseMessageBody(s3TestEventMessage('uploads'))).toEqual({
      kind: 'test-event',
      bucket: 'uploads',
    });
  });
});
