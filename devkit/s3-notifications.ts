import type { EventEmitter } from 'node:events';
import {
  type S3EventRecord,
  s3EventMessage,
  s3EventRecord,
  s3TestEventMessage,
} from '../services/processor/src/s3-event-builder.ts';
import { type Clock, systemClock } from './clock.ts';

/**
 * Turns s3rver's 'event' emissions into the notifications S3 really sends to an SQS queue, so the processor sees
 * locally the same bytes it sees in AWS. s3rver's own events differ from S3's in ways that matter to a consumer:
 * the key is not URL-encoded, the sequencer is the millisecond clock (equal for two writes in the same millisecond,
 * and restarting below a persisted table's sequencers is impossible to rule out), Copy events carry no eTag, the
 * region is always us-east-1 and the bucket ARN is malformed. The records themselves come from the processor's own
 * builder (services/processor/src/s3-event-builder.ts), the one definition of the format.
 */

/** The part of an s3rver event this module reads. */
export interface S3rverEventRecord {
  readonly eventName: string;
  readonly eventTime?: string;
  readonly requestParameters?: { readonly sourceIPAddress?: string };
  readonly s3: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string };
  };
}

export interface S3rverEvent {
  readonly Records: readonly S3rverEventRecord[];
}

/** Object facts read back from the server when s3rver's event lacks them (Copy). */
export interface ObjectFacts {
  readonly size: number;
  readonly eTag: string;
  readonly versionId?: string;
}

/**
 * S3's sequencer: a hexadecimal string that grows with every event on a key. This one grows across all keys, is
 * seeded from the wall clock so that a restart on a persisted data directory continues above every sequencer
 * already stored, and never repeats within a process even when events share a millisecond.
 */
export class SequencerSource {
  private last = 0n;
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  next(): string {
    // Microsecond resolution with room for 1,000 events per millisecond before running ahead of the clock.
    const fromClock = BigInt(this.clock.now()) * 1000n;
    this.last = fromClock > this.last ? fromClock : this.last + 1n;
    return this.last.toString(16).toUpperCase().padStart(16, '0');
  }
}

export interface ToNotificationOptions {
  readonly region: string;
  readonly sequencer: string;
  /** Facts about the object when the event does not carry them. */
  readonly facts?: ObjectFacts;
  /** Id of the bucket's notification configuration. @default 'local-ingest' */
  readonly configurationId?: string;
}

/** Builds the S3 notification record for one s3rver event record. */
export function toNotificationRecord(
  source: S3rverEventRecord,
  options: ToNotificationOptions,
): S3EventRecord {
  const created = source.eventName.startsWith('ObjectCreated:');
  const size = source.s3.object.size ?? options.facts?.size;
  const eTag = source.s3.object.eTag ?? options.facts?.eTag;
  const versionId = options.facts?.versionId;
  return s3EventRecord({
    eventName: source.eventName,
    bucket: source.s3.bucket.name,
    key: source.s3.object.key,
    region: options.region,
    ...(source.eventTime === undefined ? {} : { eventTime: source.eventTime }),
    // S3 omits size and eTag from removal events; a create always has both.
    ...(created && size !== undefined ? { size } : {}),
    ...(created && eTag !== undefined ? { eTag } : {}),
    ...(versionId !== undefined ? { versionId } : {}),
    sequencer: options.sequencer,
    principalId: 'AWS:AIDALOCALEMULATOR0000',
    bucketOwnerId: 'A3LOCALEMULATOR',
    sourceIPAddress: source.requestParameters?.sourceIPAddress ?? '127.0.0.1',
    configurationId: options.configurationId ?? 'local-ingest',
  });
}

/** Options of the emulator that connects s3rver to the ingest queue. */
export interface S3NotificationEmulatorOptions {
  /** s3rver (or anything emitting s3rver-shaped 'event's). */
  readonly source: EventEmitter;
  /** Only events of this bucket are forwarded, as only it has a notification configuration. */
  readonly bucket: string;
  readonly region: string;
  /** Sends one message to the ingest queue. */
  readonly send: (body: string) => void;
  /** Reads size and eTag of an object whose event lacks them. */
  readonly readObjectFacts: (bucket: string, key: string) => Promise<ObjectFacts | undefined>;
  /** Called when an event cannot be forwarded (e.g. its object vanished before its facts could be read). */
  readonly onDropped?: (reason: string, record: S3rverEventRecord) => void;
  /** Only keys under this prefix notify (the stage's keyPrefix filter). @default every key */
  readonly keyPrefix?: string;
  /** Only keys ending with this suffix notify (the stage's keySuffix filter). @default every key */
  readonly keySuffix?: string;
  readonly clock?: Clock;
}

/**
 * Listens to s3rver and sends S3-format notifications, one record per message as S3 does. Starting it plays the
 * part of putting the notification configuration on the bucket, so it first sends an s3:TestEvent.
 */
export class S3NotificationEmulator {
  private readonly options: S3NotificationEmulatorOptions;
  private readonly sequencers: SequencerSource;
  private readonly clock: Clock;
  private readonly pending = new Set<Promise<void>>();
  private readonly listener = (event: S3rverEvent) => this.onEvent(event);
  private started = false;

  constructor(options: S3NotificationEmulatorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.sequencers = new SequencerSource(this.clock);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.send(
      s3TestEventMessage(this.options.bucket, { time: new Date(this.clock.now()).toISOString() }),
    );
    this.options.source.on('event', this.listener);
  }

  /** Stops listening and waits for events still being completed (Copy events read their object first). */
  async stop(): Promise<void> {
    this.options.source.off('event', this.listener);
    this.started = false;
    await Promise.allSettled([...this.pending]);
  }

  private onEvent(event: S3rverEvent): void {
    for (const record of event.Records ?? []) {
      const { bucket, object } = record.s3;
      if (bucket.name !== this.options.bucket) continue;
      if (this.options.keyPrefix && !object.key.startsWith(this.options.keyPrefix)) continue;
      if (this.options.keySuffix && !object.key.endsWith(this.options.keySuffix)) continue;
      // Taken now, in the order s3rver applied the writes, even when the record is completed asynchronously.
      const sequencer = this.sequencers.next();
      const needsFacts =
        record.eventName.startsWith('ObjectCreated:') &&
        (object.size === undefined || object.eTag === undefined);
      if (!needsFacts) {
        this.forward(record, sequencer);
        continue;
      }
      const completion = this.options
        .readObjectFacts(bucket.name, object.key)
        .then(
          (facts) =>
            facts
              ? this.forward(record, sequencer, facts)
              : this.options.onDropped?.('object no longer exists', record),
          (error: unknown) => this.options.onDropped?.(`could not read the object: ${String(error)}`, record),
        )
        .finally(() => this.pending.delete(completion));
      this.pending.add(completion);
    }
  }

  private forward(record: S3rverEventRecord, sequencer: string, facts?: ObjectFacts): void {
    const notification = toNotificationRecord(record, {
      region: this.options.region,
      sequencer,
      ...(facts ? { facts } : {}),
    });
    this.options.send(s3EventMessage(notification));
  }
}
