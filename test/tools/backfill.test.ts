import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  s3ClientConfig,
  startLocalAws,
} from '../../devkit/aws-servers.ts';
import { createHandler } from '../../services/processor/src/processor.ts';
import { decodeS3Key } from '../../services/processor/src/s3-key.ts';
import { backfill } from '../../tools/backfill.ts';
import { decide, FLOOR_SEQUENCER, nextSequencer } from '../../tools/lib/backfill-events.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
/** Keys S3 must encode in notifications: space, plus, parentheses, non-ASCII, a percent sign. */
const KEYS = ['in/a b.png', 'in/c+d (1).png', 'in/é€%.png', 'in/plain.png'];
const OUTSIDE = 'other/skip.png';

let aws: LocalAws;
let s3: S3Client;
let dynamodb: DynamoDBClient;
let workDir: string;
let tableSeq = 0;
const sqs = new SQSClient({ region: 'eu-west-1' });
const sqsMock = mockClient(sqs);
const cfnMock = mockClient(CloudFormationClient);

beforeAll(async () => {
  aws = await startLocalAws();
  s3 = new S3Client(s3ClientConfig(aws));
  dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
  await createBucket(s3, 'uploads');
  for (const key of [...KEYS, OUTSIDE]) {
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: PNG, ContentType: 'image/png' }));
  }
  workDir = await mkdtemp(join(tmpdir(), 'backfill-test-'));
});

afterAll(async () => {
  s3?.destroy();
  dynamodb?.destroy();
  await aws?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

afterEach(() => sqsMock.reset());

/** A fresh table per test: each starts from an empty record store. */
async function freshTable(): Promise<string> {
  tableSeq += 1;
  const name = `objects-${tableSeq}`;
  await createObjectTable(dynamodb, name);
  return name;
}

/** The flags every run here shares: the local bucket, the test's table and a queue URL the SQS mock answers. */
function toolArgs(table: string, ...extra: string[]): string[] {
  return [
    '--stage',
    'dev',
    '--bucket',
    'uploads',
    '--table',
    table,
    '--queue-url',
    'https://sqs/q',
    ...extra,
  ];
}

/** Runs the tool against s3rver + dynalite, capturing what it sends to SQS (one list of bodies per call). */
async function run(table: string, extra: string[], clock = fakeClock()) {
  const sent: string[][] = [];
  sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { MessageBody: string }[] }) => {
    sent.push(input.Entries.map((e) => e.MessageBody));
    return { Successful: [], Failed: [] };
  });
  const io = captureIo();
  const code = await backfill(toolArgs(table, '--prefix', 'in/', ...extra), io, {
    s3,
    dynamodb,
    sqs,
    clock,
    env: NO_REGION_ENV,
    runId: 'run-1',
  });
  return { code, io, sent, bodies: sent.flat() };
}

/** The real processor, in-process, against the same s3rver and dynalite. */
function processor(table: string) {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  const handler = createHandler({
    config: {
      tableName: table,
      maxObjectBytes: 1_000_000,
      allowedContentTypes: new Set(['image/png']),
      processingConcurrency: 4,
    },
    s3,
    dynamodb,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
  });
  const context = {
    functionName: 'processor',
    awsRequestId: 'r',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:1:function:p',
  } as Context;
  return async (bodies: readonly string[]) => {
    const event: SQSEvent = {
      Records: bodies.map((body, i) => ({
        messageId: `m${i}`,
        receiptHandle: `h${i}`,
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 's',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q',
        awsRegion: 'eu-west-1',
      })),
    };
    const response = await handler(event, context);
    expect(response.batchItemFailures).toEqual([]);
  };
}

async function item(table: string, key: string) {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: table, Key: { objectKey: { S: key } } }),
  );
  return Item;
}

/** A real S3 notification for `key` with the given sequencer (what S3 sends on a later upload). */
function realEvent(key: string, sequencer: string, eTag: string): string {
  const encoded = encodeURIComponent(key).replaceAll('%20', '+').replaceAll('%2F', '/');
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventTime: '2025-01-01T00:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'uploads' }, object: { key: encoded, size: PNG.length, eTag, sequencer } },
      },
    ],
  });
}

describe('backfill against s3rver and dynalite, processed by the real handler', () => {
  it('enqueues S3-format events that the processor records under the original keys', async () => {
    const table = await freshTable();
    const { code, bodies, io } = await run(table, ['--checkpoint', join(workDir, 'a.json')]);

    expect(code).toBe(0);
    expect(bodies).toHaveLength(KEYS.length);
    const records = bodies.map((b) => JSON.parse(b).Records[0]);
    expect(records.map((r) => r.s3.object.key).sort()).toEqual(
      ['in/a+b.png', 'in/c%2Bd+%281%29.png', 'in/%C3%A9%E2%82%AC%25.png', 'in/plain.png'].sort(),
    );
    expect(new Set(records.map((r) => r.s3.object.sequencer))).toEqual(new Set([FLOOR_SEQUENCER]));
    expect(records[0]).toMatchObject({
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      responseElements: { 'x-amz-request-id': 'backfill-run-1' },
      s3: { bucket: { name: 'uploads' }, object: { size: PNG.length } },
    });
    expect(io.lines.at(-1)).toBe('sent 4 of 4 listed; this run: missing 4');

    await processor(table)(bodies);
    for (const key of KEYS) expect((await item(table, key))?.status?.S).toBe('PROCESSED');
    expect(await item(table, OUTSIDE)).toBeUndefined();

    // Idempotent: a second run finds every key recorded and sends nothing.
    const again = await run(table, ['--checkpoint', join(workDir, 'a2.json')]);
    expect(again.bodies).toHaveLength(0);
    expect(again.io.lines.at(-1)).toBe('sent 0 of 4 listed; this run: recorded 4');
  });

  it('never overrides a real event, whichever is processed first', async () => {
    const table = await freshTable();
    const { bodies } = await run(table, ['--checkpoint', join(workDir, 'b.json')]);
    const process = processor(table);
    const byKey = new Map(bodies.map((b) => [decodeS3Key(JSON.parse(b).Records[0].s3.object.key), b]));
    const eTag = JSON.parse(bodies[0] as string).Records[0].s3.object.eTag as string;

    // Real event first, backfill event delivered late: the item keeps the real event.
    await process([realEvent('in/plain.png', '0055AED6DCD90281E5', eTag)]);
    await process([byKey.get('in/plain.png') as string]);
    expect((await item(table, 'in/plain.png'))?.sequencer?.S).toBe('0055AED6DCD90281E5'.padStart(32, '0'));

    // Backfill event first, real event after: the real event replaces it.
    await process([byKey.get('in/a b.png') as string]);
    expect((await item(table, 'in/a b.png'))?.sequencer?.S).toBe(FLOOR_SEQUENCER);
    await process([realEvent('in/a b.png', '0000000000000001', eTag)]);
    expect((await item(table, 'in/a b.png'))?.sequencer?.S).toBe('1'.padStart(32, '0'));
  });

  it('reprocesses recorded objects just above their sequencer, and skips items that describe another object', async () => {
    const table = await freshTable();
    const first = await run(table, ['--checkpoint', join(workDir, 'c1.json')]);
    const process = processor(table);
    await process(first.bodies);
    const eTag = (await item(table, 'in/plain.png'))?.eTag?.S as string;
    await process([realEvent('in/plain.png', '00AA', eTag)]);
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          objectKey: { S: 'in/a b.png' },
          status: { S: 'PROCESSED' },
          sequencer: { S: 'BB'.padStart(32, '0') },
          eTag: { S: 'other-etag' },
        },
      }),
    );

    const { bodies, io } = await run(table, [
      '--mode',
      'reprocess',
      '--checkpoint',
      join(workDir, 'c2.json'),
    ]);

    const sequencers = Object.fromEntries(
      bodies.map((b) => {
        const o = JSON.parse(b).Records[0].s3.object;
        return [o.key, o.sequencer];
      }),
    );
    expect(sequencers['in/plain.png']).toBe(nextSequencer('00AA'));
    expect(sequencers['in/a+b.png']).toBeUndefined();
    expect(io.text()).toContain(
      'skipped as changed since listing (an event is pending or newer; re-run later): "in/a b.png"',
    );
    await process(bodies);
    const after = await item(table, 'in/plain.png');
    expect(after?.sequencer?.S).toBe(nextSequencer('00AA'));
  });

  it('sends at most --rate messages per clock tick', async () => {
    const table = await freshTable();
    const clock = fakeClock(Date.UTC(2025, 0, 1, 0, 0, 0, 500));
    const perTick = new Map<number, number>();
    const sent: number[] = [];
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: unknown[] }) => {
      const tick = Math.floor(clock.now() / 1000);
      perTick.set(tick, (perTick.get(tick) ?? 0) + input.Entries.length);
      sent.push(input.Entries.length);
      return { Failed: [] };
    });
    await backfill(toolArgs(table, '--rate', '3', '--checkpoint', join(workDir, 'd.json')), captureIo(), {
      s3,
      dynamodb,
      sqs,
      clock,
      env: NO_REGION_ENV,
    });
    // Five objects in the bucket (four under in/, one outside): 3 + 2, in two ticks.
    expect(sent).toEqual([3, 2]);
    expect([...perTick.values()]).toEqual([3, 2]);
    expect(clock.sleeps).toEqual([500]);
  });

  it('resumes after the last fully sent page: an interrupted run and a --limit run both end with every key sent once', async () => {
    const table = await freshTable();
    const checkpoint = join(workDir, 'e.json');
    const sentKeys: string[] = [];
    let calls = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { MessageBody: string }[] }) => {
      calls += 1;
      if (calls === 2) throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
      sentKeys.push(...input.Entries.map((e) => JSON.parse(e.MessageBody).Records[0].s3.object.key));
      return { Failed: [] };
    });
    const args = toolArgs(table, '--prefix', 'in/', '--page-size', '1', '--checkpoint', checkpoint);
    const deps = { s3, dynamodb, sqs, clock: fakeClock(), env: NO_REGION_ENV };

    await expect(backfill(args, captureIo(), deps)).rejects.toThrow('connection reset');
    const saved = JSON.parse(await readFile(checkpoint, 'utf8'));
    expect(saved).toMatchObject({
      after: sentKeys[0] ? decodeS3Key(sentKeys[0]) : '',
      sent: 1,
      done: false,
    });

    const resumedIo = captureIo();
    await backfill([...args, '--limit', '1'], resumedIo, deps);
    expect(resumedIo.lines).toContain(`resuming after "${saved.after}" (1 listed, 1 sent so far)`);
    await backfill(args, captureIo(), deps);
    expect(sentKeys).toHaveLength(KEYS.length);
    expect(new Set(sentKeys).size).toBe(KEYS.length);
    expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ done: true, sent: 4, listed: 4 });

    const doneIo = captureIo();
    expect(await backfill(args, doneIo, deps)).toBe(0);
    expect(doneIo.text()).toContain('already completed');
  });

  it('sends nothing and writes no checkpoint in a dry run', async () => {
    const table = await freshTable();
    const checkpoint = join(workDir, 'f.json');
    const { bodies, io, sent } = await run(table, ['--dry-run', '--checkpoint', checkpoint]);
    expect(sent).toEqual([]);
    expect(bodies).toEqual([]);
    expect(sqsMock.calls()).toHaveLength(0);
    await expect(stat(checkpoint)).rejects.toThrow(/ENOENT/);
    expect(io.lines.slice(-6)).toEqual([
      'dry run: would send 4 of 4 listed; this run: missing 4',
      'would send an event for (reason, key):',
      ...[...KEYS].sort().map((key) => `  missing   ${JSON.stringify(key)}`),
    ]);
    // Bounded: --show names the first keys and counts the rest.
    const bounded = await run(table, ['--dry-run', '--checkpoint', checkpoint, '--show', '1']);
    expect(bounded.io.lines.slice(-3)).toEqual([
      'would send an event for (reason, key):',
      `  missing   ${JSON.stringify([...KEYS].sort()[0])}`,
      '  ... and 3 more (narrow --prefix, or --limit, to see them)',
    ]);

    // Without a queue URL a dry run still works: it never asks CloudFormation for the queue.
    const noQueue = captureIo();
    const args = [
      '--stage',
      'dev',
      '--bucket',
      'uploads',
      '--table',
      table,
      '--dry-run',
      '--checkpoint',
      checkpoint,
    ];
    expect(await backfill(args, noQueue, { s3, dynamodb, sqs, clock: fakeClock(), env: NO_REGION_ENV })).toBe(
      0,
    );
    expect(cfnMock.calls()).toHaveLength(0);
    expect(noQueue.lines[0]).toContain('-> (no queue: dry run)');
  });
});

describe('backfill numbers', () => {
  it.each([
    ['--page-size', '0.5'],
    ['--limit', '2.5'],
    ['--rate', '1.5'],
    ['--show', '0'],
    ['--page-size', '1001'],
  ])('rejects %s %s before listing anything', async (flag, value) => {
    const table = await freshTable();
    const checkpoint = join(workDir, `numbers-${table}.json`);
    await expect(run(table, [flag, value, '--checkpoint', checkpoint])).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining(`${flag} is "${value}"; must be a whole number`),
    });
    await expect(stat(checkpoint)).rejects.toThrow(/ENOENT/);
  });

  it('names the missing table in one line with the not-found exit code', async () => {
    await expect(run('no-such-table', ['--dry-run'])).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringMatching(/^table no-such-table does not exist \(ResourceNotFoundException\)/),
    });
  });
});

describe('backfill of a versioned bucket', () => {
  it('lists latest versions (skipping keys whose latest is a delete marker) and names the version in each event', async () => {
    const table = await freshTable();
    const versionedS3 = new S3Client({ region: 'eu-west-1' });
    const s3Mock = mockClient(versionedS3);
    const at = new Date('2025-01-01T00:00:00Z');
    s3Mock
      .on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: 'in/b',
        NextVersionIdMarker: 'b1',
        Versions: [
          { Key: 'in/a', VersionId: 'a2', IsLatest: true, Size: 5, ETag: '"ea"', LastModified: at },
          { Key: 'in/a', VersionId: 'a1', IsLatest: false, Size: 4, ETag: '"eo"', LastModified: at },
          { Key: 'in/b', VersionId: 'b2', IsLatest: true, Size: 6, ETag: '"eb"', LastModified: at },
        ],
      })
      .resolvesOnce({
        IsTruncated: false,
        Versions: [{ Key: 'in/c', VersionId: 'c1', IsLatest: false, Size: 1, LastModified: at }],
        DeleteMarkers: [{ Key: 'in/c', VersionId: 'dm', IsLatest: true, LastModified: at }],
      });
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [] });

    await backfill(
      toolArgs(table, '--prefix', 'in/', '--listing', 'versions', '--checkpoint', join(workDir, 'g.json')),
      captureIo(),
      { s3: versionedS3, dynamodb, sqs, clock: fakeClock(), env: NO_REGION_ENV },
    );

    const objects = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? [])
      .map((e) => JSON.parse(e.MessageBody as string).Records[0].s3.object);
    expect(objects.map((o) => [o.key, o.versionId, o.eTag])).toEqual([
      ['in/a', 'a2', 'ea'],
      ['in/b', 'b2', 'eb'],
    ]);
    expect(s3Mock.commandCalls(ListObjectVersionsCommand)[1]?.args[0].input).toMatchObject({
      KeyMarker: 'in/b',
      VersionIdMarker: 'b1',
    });
    expect(JSON.parse(await readFile(join(workDir, 'g.json'), 'utf8')).after).toBe('in/c');
  });

  it('keeps S3 key order (UTF-8) when --limit cuts a page, so the resumed listing skips no key', async () => {
    const table = await freshTable();
    const versionedS3 = new S3Client({ region: 'eu-west-1' });
    const s3Mock = mockClient(versionedS3);
    const at = new Date('2025-01-01T00:00:00Z');
    // U+FFFD sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 (FFFD > D83D).
    s3Mock.on(ListObjectVersionsCommand).resolves({
      IsTruncated: false,
      Versions: [
        { Key: 'in/\uFFFD', VersionId: 'r1', IsLatest: true, Size: 1, LastModified: at },
        { Key: 'in/\u{1F600}', VersionId: 's1', IsLatest: true, Size: 1, LastModified: at },
      ],
    });
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [] });
    const checkpoint = join(workDir, 'h.json');

    await backfill(
      toolArgs(table, '--prefix', 'in/', '--listing', 'versions', '--limit', '1', '--checkpoint', checkpoint),
      captureIo(),
      { s3: versionedS3, dynamodb, sqs, clock: fakeClock(), env: NO_REGION_ENV },
    );

    const versions = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? [])
      .map((e) => JSON.parse(e.MessageBody as string).Records[0].s3.object.versionId);
    expect(versions).toEqual(['r1']);
    expect(JSON.parse(await readFile(checkpoint, 'utf8')).after).toBe('in/\uFFFD');
  });
});

describe('the sequencer rule', () => {
  const listed = {
    key: 'k',
    size: 1,
    eTag: 'e1',
    versionId: 'v1',
    lastModified: new Date('2025-01-01T00:00:00Z'),
  };
  const listedAt = Date.parse('2025-02-01T00:00:00Z');

  it('sends missing keys at the floor and skips recorded ones unless reprocessing', () => {
    expect(decide(listed, undefined, 'missing', listedAt)).toEqual({
      send: true,
      reason: 'missing',
      sequencer: FLOOR_SEQUENCER,
      eventTime: '2025-01-01T00:00:00.000Z',
    });
    expect(
      decide(listed, { status: 'PROCESSED', sequencer: 'A', versionId: 'v1' }, 'missing', listedAt),
    ).toEqual({
      send: false,
      reason: 'recorded',
    });
  });

  it('reprocesses only the recorded version, and a delete that predates the listing as a restore', () => {
    const same = decide(
      listed,
      { status: 'REJECTED', sequencer: '0055AED6DCD90281E5', versionId: 'v1' },
      'reprocess',
      listedAt,
    );
    expect(same).toMatchObject({
      send: true,
      reason: 'reprocess',
      sequencer: '000000000000000055AED6DCD90281E6',
    });
    expect(
      decide(listed, { status: 'PROCESSED', sequencer: 'A', versionId: 'v2' }, 'reprocess', listedAt),
    ).toEqual({
      send: false,
      reason: 'changed',
    });
    const deletedLongAgo = {
      status: 'DELETED',
      sequencer: 'FF',
      versionId: 'marker',
      eventTime: '2025-01-15T00:00:00Z',
    };
    expect(decide(listed, deletedLongAgo, 'reprocess', listedAt)).toMatchObject({
      reason: 'restored',
      sequencer: nextSequencer('FF'),
    });
    const deletedJustNow = { ...deletedLongAgo, eventTime: '2025-01-31T23:59:00Z' };
    expect(decide(listed, deletedJustNow, 'reprocess', listedAt)).toEqual({ send: false, reason: 'changed' });
  });

  it('orders after an item without a sequencer by eventTime', () => {
    const lifecycle = { status: 'DELETED', eventTime: '2025-01-20T00:00:00.000Z' };
    expect(decide(listed, lifecycle, 'reprocess', listedAt)).toMatchObject({
      sequencer: FLOOR_SEQUENCER,
      eventTime: '2025-01-20T00:00:00.001Z',
    });
  });
});
