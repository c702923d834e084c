/**
 * Builds S3 event notifications as S3 writes them to an SQS queue (event structure version 2.1, "Event message
 * structure" in the S3 user guide): the one builder for everything that must speak the format without being S3,
 * i.e. the local environment's notification emulator, the backfill tool, the benchmark and the tests. The
 * processor itself only parses (s3-event.ts); nothing in its handler imports this module, so it is not bundled.
 */
import { randomBytes } from 'node:crypto';
import { encodeS3Key } from './s3-key.ts';

/** One S3 event notification record, as S3 writes it. */
export interface S3EventRecord {
  readonly eventVersion: '2.1';
  readonly eventSource: 'aws:s3';
  readonly awsRegion: string;
  readonly eventTime: string;
  readonly eventName: string;
  readonly userIdentity: { readonly principalId: string };
  readonly requestParameters: { readonly sourceIPAddress: string };
  readonly responseElements: { readonly 'x-amz-request-id': string; readonly 'x-amz-id-2': string };
  readonly s3: {
    readonly s3SchemaVersion: '1.0';
    readonly configurationId: string;
    readonly bucket: {
      readonly name: string;
      readonly ownerIdentity: { readonly principalId: string };
      readonly arn: string;
    };
    readonly object: {
      /** Encoded as S3 encodes it (s3-key.ts). */
      readonly key: string;
      readonly size?: number;
      /** Without quotes. */
      readonly eTag?: string;
      readonly versionId?: string;
      /** Absent on some lifecycle events. */
      readonly sequencer?: string;
    };
  };
}

/** What varies between records; everything else is S3's fixed shape. */
export interface S3EventRecordInput {
  /** Without the `s3:` prefix, as S3 sends it, e.g. `ObjectCreated:Put`. */
  readonly eventName: string;
  readonly bucket: string;
  /** The object key as stored (not encoded): encoded here as S3 encodes it. */
  readonly key: string;
  readonly region: string;
  /** ISO-8601. @default now */
  readonly eventTime?: string;
  /** S3 sends size and ETag for creates and omits them from removals; the caller decides by passing them. */
  readonly size?: number;
  /** Quotes, as S3 APIs return ETags, are removed: notifications carry the bare value. */
  readonly eTag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
  /** `responseElements.x-amz-request-id` of the operation. @default 16 random hexadecimal digits */
  readonly requestId?: string;
  /** `responseElements.x-amz-id-2`. @default random, shaped like S3's */
  readonly hostId?: string;
  /** `userIdentity.principalId`: who caused the event. @default 'AWS:AIDAEXAMPLE' */
  readonly principalId?: string;
  /** `s3.bucket.ownerIdentity.principalId`. @default 'A3EXAMPLE' */
  readonly bucketOwnerId?: string;
  /** @default '127.0.0.1' */
  readonly sourceIPAddress?: string;
  /** Id of the bucket's notification configuration that matched. @default 'ObjectEvents' */
  readonly configurationId?: string;
}

/** One notification record for `input`. */
export function s3EventRecord(input: S3EventRecordInput): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.region,
    eventTime: input.eventTime ?? new Date().toISOString(),
    eventName: input.eventName,
    userIdentity: { principalId: input.principalId ?? 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: input.sourceIPAddress ?? '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': input.requestId ?? randomRequestId(),
      'x-amz-id-2': input.hostId ?? randomHostId(),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: input.configurationId ?? 'ObjectEvents',
      bucket: {
        name: input.bucket,
        ownerIdentity: { principalId: input.bucketOwnerId ?? 'A3EXAMPLE' },
        arn: `arn:aws:s3:::${input.bucket}`,
      },
      object: {
        key: encodeS3Key(input.key),
        ...(input.size === undefined ? {} : { size: input.size }),
        ...(input.eTag === undefined ? {} : { eTag: input.eTag.replaceAll('"', '') }),
        ...(input.versionId === undefined ? {} : { versionId: input.versionId }),
        ...(input.sequencer === undefined ? {} : { sequencer: input.sequencer }),
      },
    },
  };
}

/** The SQS message body S3 sends: the records under `Records` (S3 itself sends one record per message). */
export function s3EventMessage(...records: readonly object[]): string {
  return JSON.stringify({ Records: records });
}

export interface S3TestEventOptions {
  /** @default now */
  readonly time?: string;
  /** @default 16 random hexadecimal digits */
  readonly requestId?: string;
  /** @default random, shaped like S3's */
  readonly hostId?: string;
}

/** The message S3 sends to a queue once, when a notification configuration is put on the bucket. */
export function s3TestEventMessage(bucket: string, options: S3TestEventOptions = {}): string {
  return JSON.stringify({
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: options.time ?? new Date().toISOString(),
    Bucket: bucket,
    RequestId: options.requestId ?? randomRequestId(),
    HostId: options.hostId ?? randomHostId(),
  });
}

function randomRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function randomHostId(): string {
  return randomBytes(54).toString('base64');
}
