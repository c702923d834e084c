/**
 * What the backfill sends for one listed object, and why it can never overwrite the effect of a real S3 event
 * that is newer. The processor keeps one item per key and replaces it only with an event whose sequencer is
 * strictly greater than the recorded one (services/processor/src/record-store.ts). So:
 *
 * - No item for the key (a new stage, a missed notification): the event carries sequencer 0, below every
 *   sequencer S3 issues. Whatever real event exists for the key, earlier or later, in any delivery order, wins.
 *   This is the default mode ("missing") and it cannot lose data.
 * - Item present (mode "reprocess", after a processor fix): the event carries the recorded sequencer + 1, and only
 *   for keys whose item describes exactly the listed object (same version id; same ETag when unversioned), or whose
 *   DELETED item predates the listing that still shows the object (a delete marker was removed). Every real event
 *   that happens after the item was recorded has a larger sequencer, so it is >= recorded + 1: it wins in either
 *   delivery order, except in one case: a real sequencer exactly equal to recorded + 1 that arrives after the
 *   backfill event would be skipped as a duplicate. S3 sequencers carry a high-resolution time component, so
 *   successive events on a key are far more than 1 apart; this residual case is documented and accepted for the
 *   explicit reprocess mode only. Keys whose item changed between listing and lookup are skipped and reported.
 *
 * Re-running is idempotent: in "missing" mode a key recorded by the first run is skipped; in "reprocess" mode the
 * new event reprocesses the same object again and the item ends in the same state.
 */

import { s3EventMessage, s3EventRecord } from '../../services/processor/src/s3-event-builder.ts';
import { normaliseSequencer, SEQUENCER_WIDTH } from '../../services/processor/src/sequencer.ts';

export type BackfillMode = 'missing' | 'reprocess';

/** One current object as the bucket listing reports it. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  /** Without quotes. */
  readonly eTag?: string;
  /** Present when the bucket is versioned and listed with ListObjectVersions. */
  readonly versionId?: string;
  readonly lastModified: Date;
}

/** The part of the processor's item the backfill decides on. */
export interface RecordedItem {
  readonly status: string;
  readonly sequencer?: string;
  readonly versionId?: string;
  readonly eTag?: string;
  readonly eventTime?: string;
}

export type Decision =
  | {
      readonly send: true;
      readonly reason: 'missing' | 'reprocess' | 'restored';
      readonly sequencer: string;
      readonly eventTime: string;
    }
  | { readonly send: false; readonly reason: 'recorded' | 'changed' };

/** Below every sequencer S3 issues: any real event for the key orders after it. */
export const FLOOR_SEQUENCER = '0'.repeat(SEQUENCER_WIDTH);

/** Deletions newer than this before the page was listed may not be visible in the listing yet (clock skew). */
export const DELETE_SKEW_MS = 5 * 60_000;

/** The smallest sequencer that orders after `recorded`. */
export function nextSequencer(recorded: string): string {
  const next = (BigInt(`0x${normaliseSequencer(recorded)}`) + 1n).toString(16).toUpperCase();
  if (next.length > SEQUENCER_WIDTH)
    throw new Error(`sequencer ${recorded} has no successor within ${SEQUENCER_WIDTH} digits`);
  return next.padStart(SEQUENCER_WIDTH, '0');
}

/**
 * Decides whether to send an event for a listed object and with which sequencer and eventTime (see the module
 * comment). `listedAt` is when the page holding the object was listed.
 */
export function decide(
  object: ListedObject,
  item: RecordedItem | undefined,
  mode: BackfillMode,
  listedAt: number,
): Decision {
  const eventTime = object.lastModified.toISOString();
  if (item === undefined) return { send: true, reason: 'missing', sequencer: FLOOR_SEQUENCER, eventTime };
  if (mode === 'missing') return { send: false, reason: 'recorded' };

  const sameObject =
    item.status !== 'DELETED' &&
    (object.versionId !== undefined || item.versionId !== undefined
      ? item.versionId === object.versionId
      : item.eTag !== undefined && item.eTag === object.eTag);
  const restored =
    item.status === 'DELETED' &&
    item.eventTime !== undefined &&
    Date.parse(item.eventTime) < listedAt - DELETE_SKEW_MS;
  if (!sameObject && !restored) return { send: false, reason: 'changed' };
  const reason = restored ? 'restored' : 'reprocess';
  if (item.sequencer !== undefined)
    return { send: true, reason, sequencer: nextSequencer(item.sequencer), eventTime };
  // Items without a sequencer (lifecycle expirations) are ordered by eventTime: order just after the recorded one.
  const after = item.eventTime === undefined ? 0 : Date.parse(item.eventTime) + 1;
  return {
    send: true,
    reason,
    sequencer: FLOOR_SEQUENCER,
    eventTime: new Date(Math.max(after, object.lastModified.getTime())).toISOString(),
  };
}

/**
 * The SQS message S3 itself would send for the object's creation, from the processor's own builder (key encoded as
 * S3 encodes it, ETag without quotes). `requestId` marks backfill events in the processor's logs.
 */
export function notificationBody(args: {
  readonly bucket: string;
  readonly region: string;
  readonly object: ListedObject;
  readonly sequencer: string;
  readonly eventTime: string;
  readonly requestId: string;
}): string {
  const { object } = args;
  return s3EventMessage(
    s3EventRecord({
      eventName: 'ObjectCreated:Put',
      bucket: args.bucket,
      key: object.key,
      region: args.region,
      eventTime: args.eventTime,
      size: object.size,
      ...(object.eTag ? { eTag: object.eTag } : {}),
      ...(object.versionId ? { versionId: object.versionId } : {}),
      sequencer: args.sequencer,
      requestId: args.requestId,
      hostId: 'backfill',
      principalId: 'backfill',
      bucketOwnerId: 'backfill',
      configurationId: 'backfill',
    }),
  );
}
