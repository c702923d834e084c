/**
 * Applies one S3 object event: at most one ranged GetObject (creates only) and at most one conditional write.
 * Returns what happened; logging and metrics are the caller's, so this stays a plain function of its inputs.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { inspectObject } from './object-inspector.ts';
import { createdRecord, deletedRecord, type ObjectStatus } from './object-record.ts';
import { checkContent, checkSize, type ObjectLimits, type Rejection } from './object-verdict.ts';
import type { ObjectRecordStore, WriteResult } from './record-store.ts';
import type { ObjectEvent } from './s3-event.ts';

export interface ObjectEventDeps {
  readonly s3: S3Client;
  readonly store: ObjectRecordStore;
  readonly limits: ObjectLimits;
  /** Clock for `processedAt`; injectable so that tests can pin it. */
  readonly now: () => Date;
}

export type ObjectEventResult =
  | {
      /** The item now reflects this event. */
      readonly outcome: 'written';
      readonly status: ObjectStatus;
      readonly contentType?: string;
      readonly rejection?: Rejection;
    }
  | {
      /** Duplicate or older than the item: the conditional write lost. */
      readonly outcome: 'stale';
      readonly current?: Extract<WriteResult, { written: false }>['current'];
    }
  | {
      /** Overtaken by a later change before it could be applied; that change's own event sets the item. */
      readonly outcome: 'superseded';
      readonly why: 'object-gone' | 'object-changed' | 'not-the-recorded-version';
    }
  | { readonly outcome: 'ignored' };

/** Failure of an AWS call for one object event; the message names the call and the object, `cause` the SDK error. */
export class ObjectEventError extends Error {
  constructor(operation: string, event: ObjectEvent, cause: unknown) {
    super(
      `${operation} failed for s3://${event.bucket}/${event.key}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'ObjectEventError';
  }
}

export async function processObjectEvent(
  event: ObjectEvent,
  deps: ObjectEventDeps,
): Promise<ObjectEventResult> {
  switch (event.action) {
    case 'ignore':
      return { outcome: 'ignored' };
    case 'remove': {
      const result = await write(event, () => deps.store.putIfNewer(deletedRecord(event, deps.now())));
      return result.written ? { outcome: 'written', status: 'DELETED' } : stale(result);
    }
    case 'remove-version': {
      const { versionId } = event;
      // classifyEvent returns remove-version only for events that name a version.
      if (versionId === undefined)
        throw new Error(`remove-version event without a versionId: ${event.eventName}`);
      const result = await write(event, () =>
        deps.store.markVersionDeleted({ ...event, versionId }, deps.now()),
      );
      return result.written
        ? { outcome: 'written', status: 'DELETED' }
        : { outcome: 'superseded', why: 'not-the-recorded-version' };
    }
    case 'create':
      return processCreate(event, deps);
  }
}

async function processCreate(event: ObjectEvent, deps: ObjectEventDeps): Promise<ObjectEventResult> {
  // The event's size is authoritative for the version it announces: no need to read an object to reject it.
  const sizeRejection = checkSize(event.size ?? 0, deps.limits);
  if (sizeRejection !== undefined) {
    const record = createdRecord(event, deps.now(), undefined, sizeRejection);
    const result = await write(event, () => deps.store.putIfNewer(record));
    return result.written
      ? { outcome: 'written', status: 'REJECTED', rejection: sizeRejection }
      : stale(result);
  }

  let inspection: Awaited<ReturnType<typeof inspectObject>>;
  try {
    inspection = await inspectObject(deps.s3, event);
  } catch (error) {
    throw new ObjectEventError('GetObject', event, error);
  }
  if (!inspection.found) {
    // Writing anything now could only be a regression: the delete or overwrite that removed this version has a
    // newer sequencer and its own event, which sets the item.
    return { outcome: 'superseded', why: inspection.why === 'gone' ? 'object-gone' : 'object-changed' };
  }

  const verdict = checkContent(
    inspection.head,
    inspection.totalSize,
    inspection.declaredContentType,
    deps.limits,
  );
  const record = createdRecord(
    event,
    deps.now(),
    {
      contentType: verdict.detected.mime,
      eTag: inspection.eTag,
      ...(inspection.declaredContentType !== undefined && {
        declaredContentType: inspection.declaredContentType,
      }),
    },
    verdict.rejection,
  );
  const result = await write(event, () => deps.store.putIfNewer(record));
  if (!result.written) return stale(result);
  return {
    outcome: 'written',
    status: record.status,
    contentType: verdict.detected.mime,
    ...(verdict.rejection !== undefined && { rejection: verdict.rejection }),
  };
}

async function write(event: ObjectEvent, attempt: () => Promise<WriteResult>): Promise<WriteResult> {
  try {
    return await attempt();
  } catch (error) {
    throw new ObjectEventError('DynamoDB write', event, error);
  }
}

function stale(result: Extract<WriteResult, { written: false }>): ObjectEventResult {
  return { outcome: 'stale', ...(result.current !== undefined && { current: result.current }) };
}
