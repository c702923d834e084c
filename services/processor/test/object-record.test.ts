import { describe, expect, it } from 'vitest';
import { createdRecord, deletedRecord, toItem } from '../src/object-record.ts';
import type { ObjectEvent } from '../src/s3-event.ts';

const processedAt = new Date('2026-01-02T03:04:06.000Z');
const createEvent: ObjectEvent = {
  action: 'create',
  eventName: 'ObjectCreated:Put',
  eventTime: '2026-01-02T03:04:05.678Z',
  bucket: 'uploads',
  key: 'photos/cat 1.png',
  size: 2048,
  eTag: 'abc123',
  versionId: 'v1',
  sequencer: '0A'.padStart(32, '0'),
};

describe('item built for each event type', () => {
  it('created and accepted: PROCESSED with size, eTag, versionId, detected and declared types', () => {
    const record = createdRecord(
      createEvent,
      processedAt,
      { contentType: 'image/png', declaredContentType: 'image/png', eTag: 'abc123' },
      undefined,
    );
    expect(toItem(record)).toEqual({
      objectKey: { S: 'photos/cat 1.png' },
      bucket: { S: 'uploads' },
      status: { S: 'PROCESSED' },
      sequencer: { S: '0A'.padStart(32, '0') },
      eventName: { S: 'ObjectCreated:Put' },
      eventTime: { S: '2026-01-02T03:04:05.678Z' },
      processedAt: { S: '2026-01-02T03:04:06.000Z' },
      size: { N: '2048' },
      eTag: { S: 'abc123' },
      versionId: { S: 'v1' },
      contentType: { S: 'image/png' },
      declaredContentType: { S: 'image/png' },
    });
  });

  it('created and rejected after reading: REJECTED with reason and reasonCode', () => {
    const record = createdRecord(
      createEvent,
      processedAt,
      { contentType: 'image/jpeg', declaredContentType: 'image/png' },
      {
        code: 'CONTENT_TYPE_MISMATCH',
        message: 'The object is declared as image/png but its bytes are image/jpeg.',
      },
    );
    expect(record).toMatchObject({
      status: 'REJECTED',
      contentType: 'image/jpeg',
      declaredContentType: 'image/png',
      reason: 'CONTENT_TYPE_MISMATCH: The object is declared as image/png but its bytes are image/jpeg.',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
    });
  });

  it('created and rejected on size alone: no content attributes, since the object was not read', () => {
    const record = createdRecord({ ...createEvent, size: 10_000 }, processedAt, undefined, {
      code: 'OBJECT_TOO_LARGE',
      message: 'too big',
    });
    expect(record).not.toHaveProperty('contentType');
    expect(record).not.toHaveProperty('declaredContentType');
    expect(record).toMatchObject({
      status: 'REJECTED',
      size: 10_000,
      eTag: 'abc123',
      reasonCode: 'OBJECT_TOO_LARGE',
    });
  });

  it('created without an eTag in the event (as some emulators send Copy): the eTag read from the object is used', () => {
    const { eTag: _, ...withoutETag } = createEvent;
    const record = createdRecord(
      withoutETag,
      processedAt,
      { contentType: 'image/png', eTag: 'from-get' },
      undefined,
    );
    expect(record.eTag).toBe('from-get');
  });

  it('deleted: DELETED with ordering fields only, no size or content attributes', () => {
    const event: ObjectEvent = {
      action: 'remove',
      eventName: 'ObjectRemoved:DeleteMarkerCreated',
      eventTime: '2026-01-02T04:00:00.000Z',
      bucket: 'uploads',
      key: 'photos/cat 1.png',
      versionId: 'marker-1',
      sequencer: '0B'.padStart(32, '0'),
    };
    expect(toItem(deletedRecord(event, processedAt))).toEqual({
      objectKey: { S: 'photos/cat 1.png' },
      bucket: { S: 'uploads' },
      status: { S: 'DELETED' },
      sequencer: { S: '0B'.padStart(32, '0') },
      eventName: { S: 'ObjectRemoved:DeleteMarkerCreated' },
      eventTime: { S: '2026-01-02T04:00:00.000Z' },
      processedAt: { S: '2026-01-02T03:04:06.000Z' },
      versionId: { S: 'marker-1' },
    });
  });

  it('lifecycle delete without a sequencer: the item has no sequencer attribute', () => {
    const event: ObjectEvent = {
      action: 'remove',
      eventName: 'LifecycleExpiration:Delete',
      eventTime: '2026-02-01T00:00:01.000Z',
      bucket: 'uploads',
      key: 'old.log',
    };
    expect(toItem(deletedRecord(event, processedAt))).not.toHaveProperty('sequencer');
  });
});
