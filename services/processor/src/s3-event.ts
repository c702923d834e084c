/**
 * The S3 event notification format (as delivered in an SQS message body) and its translation into the events the
 * processor acts on. Validation happens here, before any I/O: a message that does not match fails as a whole
 * with every problem listed, and none of its records is processed.
 *
 * The schema is written against the shapes AWS documents and sends, not taken from Powertools' parser: its S3
 * record schema requires size, eTag and sequencer on every record (so it rejects every ObjectRemoved event and
 * sequencer-less lifecycle records) and an IP address in requestParameters.sourceIPAddress (lifecycle events
 * carry "s3.amazonaws.com"). Only the fields the processor uses are checked; the rest may vary freely.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { decodeS3Key } from './s3-key.ts';
import { normaliseSequencer } from './sequencer.ts';

// Readable validation messages ("expected string, received undefined") instead of zod/mini's bare "Invalid input".
z.config(en());

/**
 * What the processor does with an event:
 * - `create`: an object was written (Put, Post, Copy, CompleteMultipartUpload): inspect it and record the verdict;
 * - `remove`: the key no longer has a current object (unversioned delete, delete marker created): mark it DELETED;
 * - `remove-version`: one version was permanently deleted: mark DELETED only if it is the version on record;
 * - `ignore`: events that do not change the object's content (tagging, ACL, restore, transition, replication).
 */
export type ObjectAction = 'create' | 'remove' | 'remove-version' | 'ignore';

/** One S3 record, validated and decoded. */
export interface ObjectEvent {
  readonly action: ObjectAction;
  readonly eventName: string;
  /** ISO-8601 UTC with milliseconds, normalised so that string order is time order. */
  readonly eventTime: string;
  readonly bucket: string;
  /** The object key, decoded (see s3-key.ts). */
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
  readonly versionId?: string;
  /** Normalised (see sequencer.ts); absent on some lifecycle events. */
  readonly sequencer?: string;
  /** S3's request id of the operation that raised the event, for correlating with S3 access logs. */
  readonly s3RequestId?: string;
}

export type ParsedMessage =
  | { readonly kind: 'test-event'; readonly bucket?: string }
  | { readonly kind: 'object-events'; readonly events: readonly ObjectEvent[] };

/** Raised for a message body that is not a valid S3 event notification; `problems` says what is wrong, where. */
export class InvalidMessageError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Not a valid S3 event notification: ${problems.join('; ')}`);
    this.name = 'InvalidMessageError';
    this.problems = problems;
  }
}

const text = z.string().check(z.minLength(1));
// S3 sends null for fields that do not apply to an event type; null and absent mean the same here.
const optional = <T extends z.ZodMiniType>(schema: T) => z.nullish(schema);

const S3RecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventTime: z.iso.datetime({ offset: true }),
  eventName: text,
  responseElements: optional(z.object({ 'x-amz-request-id': optional(z.string()) })),
  s3: z.object({
    bucket: z.object({ name: text }),
    object: z.object({
      key: text,
      size: optional(z.int().check(z.nonnegative())),
      eTag: optional(z.string()),
      versionId: optional(z.string()),
      sequencer: optional(z.string()),
    }),
  }),
});
type S3Record = z.infer<typeof S3RecordSchema>;

const NotificationSchema = z.object({ Records: z.array(S3RecordSchema).check(z.minLength(1)) });
const TestEventSchema = z.object({ Event: z.literal('s3:TestEvent'), Bucket: z.optional(z.string()) });

const REMOVE_KEY_EVENTS: ReadonlySet<string> = new Set([
  'ObjectRemoved:DeleteMarkerCreated',
  'LifecycleExpiration:DeleteMarkerCreated',
]);
const REMOVE_EVENTS: ReadonlySet<string> = new Set(['ObjectRemoved:Delete', 'LifecycleExpiration:Delete']);

/** Maps an S3 event name (without the `s3:` prefix, as S3 sends it) to what the processor does with it. */
export function classifyEvent(eventName: string, versionId: string | undefined): ObjectAction {
  if (eventName.startsWith('ObjectCreated:')) return 'create';
  if (REMOVE_KEY_EVENTS.has(eventName)) return 'remove';
  // A Delete that names a version removes that version only (versioned bucket); without one, the object.
  if (REMOVE_EVENTS.has(eventName)) return versionId === undefined ? 'remove' : 'remove-version';
  return 'ignore';
}

/**
 * Parses an SQS message body. Throws `InvalidMessageError` for anything that is not an S3 test event or a
 * notification whose every record is valid for its event type.
 */
export function parseMessageBody(body: string): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InvalidMessageError([`body is not JSON (${(error as Error).message})`]);
  }
  const test = TestEventSchema.safeParse(json);
  if (test.success)
    return { kind: 'test-event', ...(test.data.Bucket !== undefined && { bucket: test.data.Bucket }) };

  const parsed = NotificationSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidMessageError(parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  const problems: string[] = [];
  const events = parsed.data.Records.map((r, i) => toObjectEvent(r, `Records[${i}]`, problems));
  if (problems.length > 0) throw new InvalidMessageError(problems);
  return { kind: 'object-events', events };
}

function toObjectEvent(record: S3Record, at: string, problems: string[]): ObjectEvent {
  const o = record.s3.object;
  const versionId = o.versionId ?? undefined;
  const action = classifyEvent(record.eventName, versionId);
  let key = o.key;
  try {
    key = decodeS3Key(o.key);
  } catch {
    problems.push(`${at}.s3.object.key: "${o.key}" is not valid URL encoding`);
  }
  let sequencer: string | undefined;
  if (o.sequencer != null) {
    try {
      sequencer = normaliseSequencer(o.sequencer);
    } catch (error) {
      problems.push(`${at}.s3.object.sequencer: ${(error as Error).message}`);
    }
  }
  if (action === 'create') {
    // Without a size the limit cannot be enforced, and without a sequencer the create could not be ordered
    // against later events of the same key: S3 always sends both for creates, so their absence is an error.
    if (o.size == null) problems.push(`${at}.s3.object.size: required for ${record.eventName} events`);
    if (o.sequencer == null)
      problems.push(`${at}.s3.object.sequencer: required for ${record.eventName} events`);
  }
  const s3RequestId = record.responseElements?.['x-amz-request-id'] ?? undefined;
  return {
    action,
    eventName: record.eventName,
    eventTime: new Date(record.eventTime).toISOString(),
    bucket: record.s3.bucket.name,
    key,
    ...(o.size != null && { size: o.size }),
    ...(o.eTag != null && o.eTag !== '' && { eTag: o.eTag }),
    ...(versionId !== undefined && { versionId }),
    ...(sequencer !== undefined && { sequencer }),
    ...(s3RequestId !== undefined && { s3RequestId }),
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}${acc === '' ? '' : '.'}${String(p)}`),
      '',
    ) || '(body)'
  );
}
