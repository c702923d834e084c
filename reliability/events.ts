/**
 * Hand-made S3 notifications for the cases real uploads cannot produce on demand: a chosen sequencer (shorter or
 * longer than usual), a declared size the object does not have, a removal with a newer sequencer, or records with
 * fields missing. Built with the processor's own record builder, the one the notification emulator uses too.
 */
import { s3EventMessage, s3EventRecord } from '../services/processor/src/s3-event-builder.ts';
import { decodeS3Key } from '../services/processor/src/s3-key.ts';

export interface CraftedEvent {
  readonly bucket: string;
  /** The object key, as stored (the builder URL-encodes it as S3 does). */
  readonly key: string;
  readonly sequencer: string;
  /** @default 'ObjectCreated:Put' */
  readonly eventName?: string;
  /** @default now */
  readonly eventTime?: string;
  /** Creates only. */
  readonly size?: number;
  /** Creates only. */
  readonly eTag?: string;
}

/** One SQS message body holding the given records, as S3 would send it. */
export function notification(...events: readonly CraftedEvent[]): string {
  return s3EventMessage(
    ...events.map((e) =>
      s3EventRecord({
        eventName: e.eventName ?? 'ObjectCreated:Put',
        bucket: e.bucket,
        key: e.key,
        region: 'eu-west-1',
        sequencer: e.sequencer,
        ...(e.eventTime === undefined ? {} : { eventTime: e.eventTime }),
        ...(e.size === undefined ? {} : { size: e.size }),
        ...(e.eTag === undefined ? {} : { eTag: e.eTag }),
      }),
    ),
  );
}

/** The (decoded) key and sequencer of the single record of a notification the emulator sent. */
export function recordOf(body: string): { key: string; sequencer: string; eventName: string } {
  const record = (
    JSON.parse(body) as {
      Records: Array<{ eventName: string; s3: { object: { key: string; sequencer: string } } }>;
    }
  ).Records[0];
  if (!record) throw new Error(`not an S3 notification: ${body.slice(0, 200)}`);
  return {
    key: decodeS3Key(record.s3.object.key),
    sequencer: record.s3.object.sequencer,
    eventName: record.eventName,
  };
}
