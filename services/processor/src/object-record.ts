/**
 * The DynamoDB item kept for each object key: the contract integration tests and users rely on (see the README's
 * processor section). Pure builders, one per outcome, and the mapping to DynamoDB attribute values.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Rejection } from './object-verdict.ts';
import type { ObjectEvent } from './s3-event.ts';

export type ObjectStatus = 'PROCESSED' | 'REJECTED' | 'DELETED';

export interface ObjectRecord {
  /** Partition key: the URL-decoded object key. */
  readonly objectKey: string;
  readonly bucket: string;
  readonly status: ObjectStatus;
  /** Normalised sequencer of the event this item reflects; absent only for lifecycle events without one. */
  readonly sequencer?: string;
  readonly eventName: string;
  readonly eventTime: string;
  readonly processedAt: string;
  readonly size?: number;
  readonly eTag?: string;
  readonly versionId?: string;
  /** Detected from the bytes. */
  readonly contentType?: string;
  /** As stored on the object (GetObject's Content-Type), verbatim. */
  readonly declaredContentType?: string;
  /** `CODE: sentence`, for REJECTED items. */
  readonly reason?: string;
  /** The code alone, for REJECTED items, so that they can be filtered without parsing `reason`. */
  readonly reasonCode?: string;
}

/** What reading the object told us, when it was read. */
export interface ContentFacts {
  readonly contentType: string;
  readonly declaredContentType?: string;
  readonly eTag?: string;
}

const base = (event: ObjectEvent, processedAt: Date) => ({
  objectKey: event.key,
  bucket: event.bucket,
  eventName: event.eventName,
  eventTime: event.eventTime,
  processedAt: processedAt.toISOString(),
  ...(event.sequencer !== undefined && { sequencer: event.sequencer }),
  ...(event.versionId !== undefined && { versionId: event.versionId }),
});

/** The item for a created object: PROCESSED, or REJECTED with its reason. `facts` is absent when it was not read. */
export function createdRecord(
  event: ObjectEvent,
  processedAt: Date,
  facts: ContentFacts | undefined,
  rejection: Rejection | undefined,
): ObjectRecord {
  const eTag = event.eTag ?? facts?.eTag;
  return {
    ...base(event, processedAt),
    status: rejection === undefined ? 'PROCESSED' : 'REJECTED',
    ...(event.size !== undefined && { size: event.size }),
    ...(eTag !== undefined && eTag !== '' && { eTag }),
    ...(facts !== undefined && { contentType: facts.contentType }),
    ...(facts?.declaredContentType !== undefined && { declaredContentType: facts.declaredContentType }),
    ...(rejection !== undefined && {
      reason: `${rejection.code}: ${rejection.message}`,
      reasonCode: rejection.code,
    }),
  };
}

/** The item for a key whose object is gone. */
export function deletedRecord(event: ObjectEvent, processedAt: Date): ObjectRecord {
  return { ...base(event, processedAt), status: 'DELETED' };
}

/** DynamoDB attribute values of a record; absent fields are absent attributes (a put replaces the whole item). */
export function toItem(record: ObjectRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(record)) {
    if (typeof value === 'number') item[name] = { N: String(value) };
    else if (typeof value === 'string') item[name] = { S: value };
  }
  return item;
}
