import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectTable, dynamodbClientConfig, s3ClientConfig } from '../../devkit/aws-servers.ts';
import type { DeadLetter } from '../../devkit/queue.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../local/environment.ts';
import { backfill } from '../../tools/backfill.ts';
import { redrive } from '../../tools/redrive.ts';
import { status } from '../../tools/status.ts';
import { captureIo } from '../tools/helpers.ts';

/**
 * The environment's wiring of the deployed function to the queue (the stage's maxReceiveCount and visibility
 * timeout, scaled; the function's partial batch response; the dead-letter store), and the runbook rehearsed with
 * the operator tools through its API endpoint: a table outage dead-letters uploads, `status` shows them and why,
 * the table comes back, `redrive` moves them and they are processed; `backfill` sends what has no item.
 */

let environment: LocalEnvironment;
let s3: S3Client;
let dynamodb: DynamoDBClient;
let workDir: string;
const lines: string[] = [];
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
/** The two dead letters the first phase produces, by cause. */
let dead: { poison: DeadLetter; outage: DeadLetter };

/** The flags an operator copies from `npm start`'s output. */
const toolFlags = () => [
  '--stage',
  'dev',
  '--endpoint',
  environment.info.apiEndpoint,
  '--endpoint',
  `s3=${environment.info.s3Endpoint}`,
  '--endpoint',
  `dynamodb=${environment.info.dynamodbEndpoint}`,
];

const item = async (key: string) =>
  (
    await dynamodb.send(
      new GetItemCommand({
        TableName: environment.info.table,
        Key: { objectKey: { S: key } },
        ConsistentRead: true,
      }),
    )
  ).Item;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms; log:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'environment-test-'));
  // dev: visibility 181 s -> 1.81 s; batching window 1 s -> 10 ms; function timeout 30 s -> 1 s (Lambda's
  // minimum: a table outage must fail on the missing table, not on the timeout, on a loaded machine too).
  environment = await startLocalEnvironment({ stage: 'dev', timeScale: 0.01, log: (l) => lines.push(l) });
  // The s3:TestEvent sent at start-up goes first, in a batch of its own.
  await environment.queue.idle();
  s3 = new S3Client(s3ClientConfig(environment.info));
  dynamodb = new DynamoDBClient(dynamodbClientConfig(environment.info));

  // A first upload warms the function's SDK clients: a cold first call can outlast the scaled 300 ms timeout,
  // and the dead letter's cause would then be the timeout instead of the missing table.
  await s3.send(
    new PutObjectCommand({
      Bucket: environment.info.bucket,
      Key: 'warm.png',
      Body: PNG,
      ContentType: 'image/png',
    }),
  );
  await until('warm.png processed', async () =>
    (await item('warm.png'))?.status?.S === 'PROCESSED' ? true : undefined,
  );

  // Two dead letters at once (they cost three visibility timeouts each): a poison message, and an upload
  // during a table outage.
  const letters = new Map<string, DeadLetter>();
  const both = new Promise<void>((resolve) =>
    environment.queue.on('dead-lettered', (letter) => {
      letters.set(letter.body.includes('outage.png') ? 'outage' : 'poison', letter);
      if (letters.size === 2) resolve();
    }),
  );
  await dynamodb.send(new DeleteTableCommand({ TableName: environment.info.table }));
  await waitUntilTableNotExists(
    { client: dynamodb, maxWaitTime: 10, minDelay: 0.02, maxDelay: 0.2 },
    { TableName: environment.info.table },
  );
  environment.queue.enqueue('{"Records": "not a list"}');
  await s3.send(
    new PutObjectCommand({
      Bucket: environment.info.bucket,
      Key: 'outage.png',
      Body: PNG,
      ContentType: 'image/png',
    }),
  );
  await both;
  dead = { poison: letters.get('poison') as DeadLetter, outage: letters.get('outage') as DeadLetter };
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  dynamodb?.destroy();
  await environment?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('startLocalEnvironment', () => {
  it("dead-letters a message the deployed function keeps failing, after the stage's maxReceiveCount", () => {
    const { maxReceiveCount } = environment.deployed.ingestQueue;
    expect(maxReceiveCount).toBe(3);
    // Alone in its batch, the failing record fails the whole invocation (Powertools' FullBatchFailureError),
    // and the line says what failed underneath, without --verbose.
    expect(dead.poison).toMatchObject({ receiveCount: maxReceiveCount });
    expect(dead.poison.lastFailure).toMatch(
      /^invocation failed: InvocationError: FullBatchFailureError: .* Caused by: InvalidMessageError: /,
    );
    expect(lines.filter((l) => l.startsWith('RETRY') && l.includes('message '))).toHaveLength(3);
    expect(lines).toContainEqual(
      expect.stringMatching(/^DEAD-LETTER {2}message .* after 3 receives: invocation failed: /),
    );
  });

  it('names the cause of an outage dead letter: the missing table', () => {
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^DEAD-LETTER {2}outage\.png after 3 receives: .*Caused by: .*ResourceNotFoundException: /,
      ),
    );
  });
});

describe('the dead-letter runbook, with the operator tools against the local environment', () => {
  it('status shows the dead letters, their age and the errors behind them, and asks for attention', async () => {
    const io = captureIo();
    const code = await status(toolFlags(), io, { env: {} });
    const text = io.lines.join('\n');
    expect(code).toBe(1);
    expect(text).toMatch(/^dead letters {2}2 visible, 0 in flight, 0 delayed; oldest \d+ s$/m);
    expect(text).toMatch(/^ingest queue {2}0 visible, 0 in flight, 0 delayed; oldest 0 s$/m);
    expect(text).toContain(`function      ${environment.info.functionName}: Active`);
    // The processor's own error lines from the function's log group, as FilterLogEvents returns them in AWS.
    expect(text).toMatch(/^errors {8}\d+ in the last 60 min in \/aws\/lambda\/.*; newest 5:$/m);
    expect(text).toContain('Object event failed; the message will be retried');
    expect(text).toContain('Malformed message: not a valid S3 event notification');
    expect(text).toContain('needs attention');
  });

  it('redrive moves them back once the table is back; the upload is then processed', async () => {
    await createObjectTable(dynamodb, environment.info.table);
    const io = captureIo();
    const code = await redrive([...toolFlags(), '--poll-seconds', '0.05'], io, { env: {} });
    expect(io.lines).toContain(
      'before: DLQ 2 visible, 0 in flight, 0 delayed; ingest 0 visible, 0 in flight, 0 delayed',
    );
    expect(io.lines).toContain('move task COMPLETED: 2 messages moved');
    expect(code).toBe(0);
    const processed = await until('outage.png processed after the redrive', async () => {
      const it = await item('outage.png');
      return it?.status?.S === 'PROCESSED' ? it : undefined;
    });
    expect(processed.contentType?.S).toBe('image/png');
  });

  it('backfill sends an event for an object without an item, through the local SQS API', async () => {
    await until('outage.png item', async () => ((await item('outage.png')) ? true : undefined));
    await dynamodb.send(
      new DeleteItemCommand({ TableName: environment.info.table, Key: { objectKey: { S: 'outage.png' } } }),
    );
    const io = captureIo();
    const code = await backfill([...toolFlags(), '--checkpoint', join(workDir, 'backfill.json')], io, {
      env: {},
    });
    expect(code).toBe(0);
    // The table was recreated empty: warm.png has no item either.
    expect(io.lines.at(-1)).toBe('sent 2 of 2 listed; this run: missing 2');
    await until('outage.png recorded again by the backfill', async () =>
      (await item('outage.png'))?.status?.S === 'PROCESSED' ? true : undefined,
    );
  });
});
