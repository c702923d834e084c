/**
 * Re-processes objects that already exist by listing the bucket and enqueueing the S3 events the processor would
 * have received. Safe against real events by construction (tools/lib/backfill-events.ts), rate-limited, and
 * resumable from a checkpoint file.
 */
import { randomUUID } from 'node:crypto';
import { type AttributeValue, BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetBucketVersioningCommand,
  ListObjectsCommand,
  ListObjectVersionsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { OutputName } from '../lib/config/names.ts';
import {
  type BackfillMode,
  type Decision,
  decide,
  type ListedObject,
  notificationBody,
  type RecordedItem,
} from './lib/backfill-events.ts';
import { type BackfillCheckpoint, readCheckpoint, writeCheckpoint } from './lib/checkpoint.ts';
import {
  type Clock,
  COMMON_HELP,
  EXIT,
  type Io,
  integerOption,
  parseToolArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { RateLimiter } from './lib/rate-limiter.ts';
import { clientConfig, resolveOutputs, stageContext } from './lib/targets.ts';

/** Keys a dry run names by default; the rest are counted. */
const DRY_RUN_KEYS_SHOWN = 50;

export const BACKFILL_HELP = `Usage: npm run backfill -- --stage <name> [options]

Lists the stage's bucket and enqueues, for each current object, the ObjectCreated event S3 would have sent, so
that the processor (re)records it. Real S3 events always take precedence (see docs/runbooks/backfill.md).

Options:
  --prefix <p>              only keys under this prefix (within the stage's notification prefix, if any)
  --mode missing            (default) only objects that have no item in the table: new stage, missed events
  --mode reprocess          also objects whose item describes the same object (after a processor fix)
  --rate <n>                messages per second at most (default 50)
  --page-size <n>           keys per listing page (default 1000)
  --limit <n>               stop after listing this many objects (a trial run; resume continues after them)
  --checkpoint <file>       progress file (default backfill-<stage>.checkpoint.json); an interrupted run resumes
  --restart                 ignore an existing checkpoint and start from the first key
  --show <n>                how many keys a dry run names (default ${DRY_RUN_KEYS_SHOWN}; the rest are counted)
  --listing <kind>          auto (default: versions when the bucket is versioned), versions, or current
  --bucket <name>           bucket instead of the stack output
  --table <name>            table instead of the stack output
  --queue-url <url>         ingest queue URL instead of the stack output
${COMMON_HELP}
A dry run lists and looks up items (reads only) and names the objects it would send an event for, with the
reason (missing: no item); it sends nothing and writes no checkpoint.`;

export interface BackfillDeps {
  readonly s3?: S3Client;
  readonly dynamodb?: DynamoDBClient;
  readonly sqs?: SQSClient;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
  /** Marks this run's events (x-amz-request-id) in the processor's logs. @default a random UUID */
  readonly runId?: string;
}

const SQS_BATCH = 10;
const DYNAMODB_BATCH = 100;
const MAX_ATTEMPTS = 6;

interface Page {
  readonly objects: ListedObject[];
  /** Last key the page covered (also keys skipped as delete markers), for the checkpoint. */
  readonly lastKey: string | undefined;
  readonly listedAt: number;
}

export async function backfill(argv: readonly string[], io: Io, deps: BackfillDeps = {}): Promise<number> {
  const args = parseToolArgs(argv, {
    prefix: { type: 'string' },
    mode: { type: 'string' },
    rate: { type: 'string' },
    'page-size': { type: 'string' },
    limit: { type: 'string' },
    checkpoint: { type: 'string' },
    restart: { type: 'boolean' },
    show: { type: 'string' },
    listing: { type: 'string' },
    bucket: { type: 'string' },
    table: { type: 'string' },
    'queue-url': { type: 'string' },
  });
  if (args.help) {
    io.out(BACKFILL_HELP);
    return 0;
  }
  const mode = (args.mode ?? 'missing') as BackfillMode;
  if (mode !== 'missing' && mode !== 'reprocess') {
    throw new ToolError(`--mode is "${args.mode}"; use missing or reprocess`, EXIT.usage);
  }
  const listing = args.listing ?? 'auto';
  if (!['auto', 'versions', 'current'].includes(listing)) {
    throw new ToolError(`--listing is "${listing}"; use auto, versions or current`, EXIT.usage);
  }
  const rate = integerOption('rate', args.rate, 50);
  // S3 returns at most 1,000 keys a page; a larger --page-size would be silently capped, so it is refused.
  const pageSize = integerOption('page-size', args['page-size'], 1000, 1000);
  const limit = integerOption('limit', args.limit, Number.POSITIVE_INFINITY);
  const keysShown = integerOption('show', args.show, DRY_RUN_KEYS_SHOWN);
  const context = stageContext({ ...args, env: deps.env });
  const { stage, target } = context;
  const notificationPrefix = stage.objects.keyPrefix ?? '';
  if (args.prefix !== undefined && !args.prefix.startsWith(notificationPrefix)) {
    throw new ToolError(
      `--prefix "${args.prefix}" is outside the stage's notification prefix "${notificationPrefix}": the processor never sees those keys`,
      2,
    );
  }
  const prefix = args.prefix ?? notificationPrefix;
  const suffix = stage.objects.keySuffix ?? '';
  const clock = deps.clock ?? systemClock;
  const dryRun = args['dry-run'] === true;
  // A dry run sends nothing, so it needs no queue: it runs with only --bucket and --table (e.g. against emulators).
  const wanted: OutputName[] = ['bucketName', 'tableName'];
  if (!dryRun || args['queue-url'] !== undefined) wanted.push('ingestQueueUrl');
  const resolved: Partial<Record<OutputName, string>> = await resolveOutputs(context, wanted, {
    bucketName: args.bucket,
    tableName: args.table,
    ingestQueueUrl: args['queue-url'],
  });
  const names = {
    bucketName: resolved.bucketName as string,
    tableName: resolved.tableName as string,
    ingestQueueUrl: resolved.ingestQueueUrl ?? '(no queue: dry run)',
  };
  const s3 = deps.s3 ?? new S3Client(clientConfig(target, 's3'));
  const dynamodb = deps.dynamodb ?? new DynamoDBClient(clientConfig(target, 'dynamodb'));
  const sqs = deps.sqs ?? new SQSClient(clientConfig(target, 'sqs'));
  const runId = deps.runId ?? randomUUID();

  const checkpointPath = args.checkpoint ?? `backfill-${stage.stageName}.checkpoint.json`;
  const previous = args.restart ? undefined : await readCheckpoint(checkpointPath);
  if (previous) {
    const compared = resolved.ingestQueueUrl === undefined ? ([] as const) : (['queueUrl'] as const);
    const mismatch = (['bucket', 'prefix', 'mode', ...compared] as const).filter(
      (field) =>
        previous[field] !== { bucket: names.bucketName, prefix, mode, queueUrl: names.ingestQueueUrl }[field],
    );
    if (mismatch.length > 0) {
      throw new ToolError(
        `checkpoint ${checkpointPath} belongs to another run (${mismatch.map((f) => `${f} "${previous[f]}"`).join(', ')}); pass --restart or another --checkpoint`,
        2,
      );
    }
    if (previous.done) {
      io.out(
        `checkpoint ${checkpointPath}: this backfill already completed (${previous.sent} sent); --restart runs it again`,
      );
      return 0;
    }
  }
  const versioned = await useVersions(s3, names.bucketName, listing, io);
  const startedAt = previous?.startedAt ?? new Date(clock.now()).toISOString();
  const totals = {
    listed: previous?.listed ?? 0,
    sent: previous?.sent ?? 0,
    skipped: previous?.skipped ?? 0,
  };
  const reasons: Record<string, number> = {};
  const changedKeys: string[] = [];
  /** What a dry run would send, by key, up to --show keys (the README promises the keys, not just counts). */
  const wouldSend: { readonly key: string; readonly reason: string }[] = [];
  const limiter = new RateLimiter(rate, clock);
  io.out(
    `${dryRun ? 'dry run: ' : ''}backfill s3://${names.bucketName}/${prefix}${suffix ? `*${suffix}` : ''} (${stage.stageName}, mode ${mode}, ${versioned ? 'versioned listing' : 'current objects'}) -> ${names.ingestQueueUrl} at <= ${rate}/s`,
  );
  if (previous?.after !== undefined) {
    io.out(`resuming after "${previous.after}" (${previous.listed} listed, ${previous.sent} sent so far)`);
  }

  let listedThisRun = 0;
  let after = previous?.after;
  /** A dry run writes no checkpoint: it sent nothing, so there is nothing to resume after. */
  const saveCheckpoint = async (done: boolean) => {
    if (dryRun) return;
    await writeCheckpoint(checkpointPath, {
      version: 1,
      bucket: names.bucketName,
      prefix,
      mode,
      queueUrl: names.ingestQueueUrl,
      ...(after === undefined ? {} : { after }),
      ...totals,
      startedAt,
      updatedAt: new Date(clock.now()).toISOString(),
      done,
    } satisfies BackfillCheckpoint);
  };
  const pages = versioned
    ? listVersions(s3, names.bucketName, prefix, after, pageSize, clock)
    : listCurrent(s3, names.bucketName, prefix, after, pageSize, clock);
  for await (const page of pages) {
    const room = limit - listedThisRun;
    const objects = page.objects.slice(0, room).filter((o) => o.key.endsWith(suffix));
    const truncatedByLimit = page.objects.length > room;
    const lastKey = truncatedByLimit ? page.objects[room - 1]?.key : page.lastKey;
    listedThisRun += Math.min(page.objects.length, room);
    const items = await lookUpItems(
      dynamodb,
      names.tableName,
      objects.map((o) => o.key),
      clock,
    );
    const bodies: string[] = [];
    for (const object of objects) {
      const decision: Decision = decide(object, items.get(object.key), mode, page.listedAt);
      reasons[decision.reason] = (reasons[decision.reason] ?? 0) + 1;
      if (!decision.send) {
        totals.skipped += 1;
        if (decision.reason === 'changed' && changedKeys.length < 10) changedKeys.push(object.key);
        continue;
      }
      if (dryRun && wouldSend.length < keysShown) {
        wouldSend.push({ key: object.key, reason: decision.reason });
      }
      bodies.push(
        notificationBody({
          bucket: names.bucketName,
          region: target.region,
          object,
          sequencer: decision.sequencer,
          eventTime: decision.eventTime,
          requestId: `backfill-${runId}`,
        }),
      );
    }
    totals.listed += Math.min(page.objects.length, room);
    if (!dryRun) {
      for (let i = 0; i < bodies.length; i += Math.min(SQS_BATCH, rate)) {
        const batch = bodies.slice(i, i + Math.min(SQS_BATCH, rate));
        await limiter.take(batch.length);
        await sendBatch(sqs, names.ingestQueueUrl, batch, clock);
      }
    }
    totals.sent += bodies.length;
    after = lastKey ?? after;
    await saveCheckpoint(false);
    io.progress(
      `  listed ${totals.listed}, ${dryRun ? 'would send' : 'sent'} ${totals.sent}, skipped ${totals.skipped}${after ? ` (through "${after}")` : ''}`,
    );
    if (listedThisRun >= limit) break;
  }

  const finished = listedThisRun < limit;
  await saveCheckpoint(finished);
  const breakdown = Object.entries(reasons)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  io.out(
    `${dryRun ? 'dry run: would send' : 'sent'} ${totals.sent} of ${totals.listed} listed; this run: ${breakdown || 'nothing listed'}`,
  );
  if (dryRun && totals.sent > 0) {
    io.out(`would send an event for (reason, key):`);
    for (const { key, reason } of wouldSend) io.out(`  ${reason.padEnd(9)} ${JSON.stringify(key)}`);
    const rest = totals.sent - wouldSend.length;
    if (rest > 0) io.out(`  ... and ${rest} more (narrow --prefix, or --limit, to see them)`);
  }
  if (changedKeys.length > 0) {
    io.out(
      `skipped as changed since listing (an event is pending or newer; re-run later): ${changedKeys.map((k) => `"${k}"`).join(', ')}${(reasons.changed ?? 0) > changedKeys.length ? ', ...' : ''}`,
    );
  }
  if (!finished) io.out(`stopped at --limit; run again to continue after "${after}"`);
  return 0;
}

/** Versioned buckets are listed with ListObjectVersions so that events name the version they announce. */
async function useVersions(s3: S3Client, bucket: string, listing: string, io: Io): Promise<boolean> {
  if (listing !== 'auto') return listing === 'versions';
  try {
    const { Status } = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return Status === 'Enabled' || Status === 'Suspended';
  } catch (error) {
    if ((error as Error).name === 'NoSuchBucket') {
      throw new ToolError(`bucket ${bucket} does not exist: check --bucket and --region`, EXIT.notFound);
    }
    // S3 emulators without versioning answer NotImplemented: list current objects instead.
    if ((error as Error).name !== 'NotImplemented') throw error;
    io.progress('  the S3 endpoint does not implement versioning; listing current objects');
    return false;
  }
}

/**
 * Unversioned (or emulated) buckets: ListObjects with a key Marker. The last key of a page is the next page's
 * marker and the checkpoint at once, so pagination and resumption are one mechanism. (ListObjectsV2's opaque
 * continuation tokens would add nothing here, and the local emulator cannot issue them: s3rver encrypts them with
 * DES, which Node 24's OpenSSL 3 no longer provides.)
 */
async function* listCurrent(
  s3: S3Client,
  bucket: string,
  prefix: string,
  after: string | undefined,
  pageSize: number,
  clock: Clock,
): AsyncGenerator<Page> {
  let marker = after;
  for (;;) {
    const listedAt = clock.now();
    const page = await s3.send(
      new ListObjectsCommand({
        Bucket: bucket,
        Prefix: prefix,
        MaxKeys: pageSize,
        ...(marker !== undefined ? { Marker: marker } : {}),
      }),
    );
    const objects = (page.Contents ?? []).map((o) => ({
      key: o.Key as string,
      size: o.Size ?? 0,
      ...(o.ETag ? { eTag: o.ETag.replaceAll('"', '') } : {}),
      lastModified: o.LastModified ?? new Date(listedAt),
    }));
    yield { objects, lastKey: objects.at(-1)?.key, listedAt };
    marker = objects.at(-1)?.key;
    if (!page.IsTruncated || marker === undefined) return;
  }
}

async function* listVersions(
  s3: S3Client,
  bucket: string,
  prefix: string,
  after: string | undefined,
  pageSize: number,
  clock: Clock,
): AsyncGenerator<Page> {
  let keyMarker = after;
  let versionIdMarker: string | undefined;
  for (;;) {
    const listedAt = clock.now();
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        MaxKeys: pageSize,
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    // S3 lists keys in UTF-8 byte order and each key's versions newest first, so a key's latest entry is on the page
    // where the key first appears; a key whose latest entry is a delete marker has no current object. S3's order is
    // kept: --limit cuts the page and checkpoints the last key it kept, and a re-sort in JavaScript's UTF-16 order
    // would put astral characters before U+E000-U+FFFF, so the resumed listing would skip keys S3 orders earlier.
    const objects: ListedObject[] = (page.Versions ?? [])
      .filter((v) => v.IsLatest)
      .map((v) => ({
        key: v.Key as string,
        size: v.Size ?? 0,
        ...(v.ETag ? { eTag: v.ETag.replaceAll('"', '') } : {}),
        ...(v.VersionId && v.VersionId !== 'null' ? { versionId: v.VersionId } : {}),
        lastModified: v.LastModified ?? new Date(listedAt),
      }));
    const keys = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      .map((v) => v.Key as string)
      .sort(compareUtf8);
    yield { objects, lastKey: keys.at(-1), listedAt };
    if (!page.IsTruncated) return;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}

/** S3's key order: UTF-8 bytes, not JavaScript's UTF-16 code units. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The recorded items of `keys`, by key, with BatchGetItem (100 at a time; unprocessed keys retried with backoff). */
async function lookUpItems(
  dynamodb: DynamoDBClient,
  tableName: string,
  keys: readonly string[],
  clock: Clock,
): Promise<Map<string, RecordedItem>> {
  const items = new Map<string, RecordedItem>();
  for (let i = 0; i < keys.length; i += DYNAMODB_BATCH) {
    let pending: Record<string, AttributeValue>[] = keys
      .slice(i, i + DYNAMODB_BATCH)
      .map((k) => ({ objectKey: { S: k } }));
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > MAX_ATTEMPTS)
        throw new ToolError(
          `DynamoDB left ${pending.length} keys unprocessed after ${MAX_ATTEMPTS} attempts (throttled?)`,
        );
      if (attempt > 1) await clock.sleep(Math.min(5000, 100 * 2 ** attempt));
      const response = await dynamodb
        .send(
          new BatchGetItemCommand({
            RequestItems: {
              [tableName]: {
                Keys: pending,
                ProjectionExpression: '#key, #status, sequencer, versionId, eTag, eventTime',
                ExpressionAttributeNames: { '#key': 'objectKey', '#status': 'status' },
              },
            },
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ResourceNotFoundException') throw error;
          throw new ToolError(
            `table ${tableName} does not exist (ResourceNotFoundException): check --table, or that the stage's stack is deployed in this region`,
            EXIT.notFound,
          );
        });
      for (const item of response.Responses?.[tableName] ?? []) {
        const s = (name: string) => item[name]?.S;
        items.set(s('objectKey') as string, {
          status: s('status') ?? '',
          ...(s('sequencer') !== undefined ? { sequencer: s('sequencer') as string } : {}),
          ...(s('versionId') !== undefined ? { versionId: s('versionId') as string } : {}),
          ...(s('eTag') !== undefined ? { eTag: s('eTag') as string } : {}),
          ...(s('eventTime') !== undefined ? { eventTime: s('eventTime') as string } : {}),
        });
      }
      pending = (response.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, AttributeValue>[];
    }
  }
  return items;
}

/** SendMessageBatch, retrying only the entries SQS reports as failed; a page is sent whole or the run stops. */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  clock: Clock,
): Promise<void> {
  let entries = bodies.map((body, i) => ({ Id: String(i), MessageBody: body }));
  for (let attempt = 1; entries.length > 0; attempt += 1) {
    if (attempt > 1) await clock.sleep(Math.min(5000, 100 * 2 ** attempt));
    const { Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
    const failedIds = new Set(Failed.map((f) => f.Id));
    const permanent = Failed.find((f) => f.SenderFault);
    if (permanent || (Failed.length > 0 && attempt >= MAX_ATTEMPTS)) {
      const f = permanent ?? Failed[0];
      throw new ToolError(
        `SQS rejected ${Failed.length} message(s): ${f?.Code} ${f?.Message ?? ''}; the checkpoint still points before this page, so re-running resumes safely`,
      );
    }
    entries = entries.filter((e) => failedIds.has(e.Id));
  }
}

if (import.meta.main) await runTool(backfill);
