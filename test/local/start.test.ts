import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodbClientConfig, s3ClientConfig } from '../../devkit/aws-servers.ts';
import type { ReadyInfo } from '../../local/environment.ts';
import { ProcessorMetricTotals } from '../../local/object-progress.ts';
import { listReadyFiles, runStart, stopExitCode, summary } from '../../local/start.ts';
import {
  DEFAULT_API_PORT,
  DEFAULT_DYNAMODB_PORT,
  DEFAULT_S3_PORT,
  parseStartOptions,
  UsageError,
} from '../../local/start-options.ts';

describe('parseStartOptions', () => {
  it('uses the fixed default ports and stage dev', () => {
    expect(parseStartOptions([], {})).toEqual({
      stage: 'dev',
      s3Port: DEFAULT_S3_PORT,
      dynamodbPort: DEFAULT_DYNAMODB_PORT,
      apiPort: DEFAULT_API_PORT,
      timeScale: 1,
      verbose: false,
      help: false,
    });
  });

  it('takes environment overrides, and flags over them', () => {
    const env = {
      LOCAL_S3_PORT: '9000',
      LOCAL_DYNAMODB_PORT: '9001',
      LOCAL_STAGE: 'prod',
      LOCAL_DATA_DIR: '/d',
    };
    expect(parseStartOptions([], env)).toMatchObject({
      s3Port: 9000,
      dynamodbPort: 9001,
      stage: 'prod',
      dataDir: '/d',
    });
    expect(parseStartOptions(['--s3-port', '9100', '--stage', 'staging'], env)).toMatchObject({
      s3Port: 9100,
      dynamodbPort: 9001,
      stage: 'staging',
    });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--s3-port', 'http'], /--s3-port is "http"; expected a port number 0\.\.65535/],
    [['--dynamodb-port', '70000'], /--dynamodb-port is "70000"/],
    [['--s3-port', '5000', '--dynamodb-port', '5000'], /both 5000; they must differ/],
    [['--api-port', '4568'], /the S3 and tool API ports are both 4568/],
    [['--time-scale', '0'], /--time-scale is "0"/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseStartOptions(argv, {})).toThrow(UsageError);
    expect(() => parseStartOptions(argv, {})).toThrow(message);
  });

  it('names the environment variable when its value is wrong', () => {
    expect(() => parseStartOptions([], { LOCAL_S3_PORT: '-1' })).toThrow(/LOCAL_S3_PORT is "-1"/);
  });
});

describe('the stop summary', () => {
  const event = (key: string) => JSON.stringify({ Records: [{ s3: { object: { key, sequencer: '01' } } }] });
  const report = {
    processed: 0,
    rejected: 0,
    deleted: 0,
    duplicates: 0,
    skipped: 0,
    noItem: 0,
    retries: 4,
    deadLettered: 1,
    malformed: 0,
    metrics: new ProcessorMetricTotals(),
    undelivered: [
      { body: event('in+flight.png'), inFlight: true },
      { body: event('waiting.png'), inFlight: false },
    ],
    deadLetters: [
      {
        messageId: 'm',
        body: event('dead.png'),
        receiveCount: 3,
        sentTimestamp: 0,
        deadLetteredAt: 0,
        lastFailure: 'invocation failed: ResourceNotFoundException: no table',
      },
    ],
  };

  it('names what the in-memory queue still held, and says it is gone without --data-dir', () => {
    expect(summary(report)).toEqual([
      "Summary: ObjectsProcessed 0, ObjectsRejected 0, ObjectsDeleted 0, StaleEventsSkipped 0, EventsSuperseded 0, EventsIgnored 0, MessagesFailed 0 (the processor's metrics); retries 4, dead-lettered 1, undelivered 2 (the queue)",
      'Undelivered at stop: 2 message(s), 1 in flight and 1 waiting: "in flight.png", "waiting.png"',
      'Dead letters at stop: 1: "dead.png"; last failure: invocation failed: ResourceNotFoundException: no table',
      'They are gone with the in-memory queue (no --data-dir): upload the objects again, or run `npm run backfill` after the next start',
    ]);
    expect(summary({ ...report, keptIn: '/d/queue.json' }).at(-1)).toMatch(
      /^Kept in \/d\/queue\.json: the next start/,
    );
  });

  it('exits 1 when it dropped messages (no --data-dir), and 0 when it kept them or held none', () => {
    expect(stopExitCode(report)).toBe(1);
    expect(stopExitCode({ ...report, undelivered: [] })).toBe(1); // a dead letter alone is a loss too
    expect(stopExitCode({ ...report, deadLetters: [] })).toBe(1);
    expect(stopExitCode({ ...report, keptIn: '/d/queue.json' })).toBe(0);
    expect(stopExitCode({ ...report, undelivered: [], deadLetters: [] })).toBe(0);
  });
});

/** Runs the command in-process until it exits on its own (every error path returns without a stop request). */
async function runToExit(argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runStart(
    argv,
    {},
    {
      stdout: (l) => stdout.push(l),
      stderr: (l) => stderr.push(l),
      stopRequested: new Promise<string>(() => {}),
    },
  );
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

describe('npm start: clear messages for bad input', () => {
  let scratch: string;
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'start-test-'));
    busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    busy.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('prints the usage for --help and exits 0', async () => {
    const result = await runToExit(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--data-dir <dir>');
  });

  it('rejects an invalid flag with exit code 2 and a pointer to --help', async () => {
    const result = await runToExit(['--s3port', '1']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain("npm start: Unknown option '--s3port'");
    expect(result.stderr).toContain('npm start -- --help');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects a data dir that is a file', async () => {
    const file = join(scratch, 'a-file');
    await writeFile(file, 'x');
    const result = await runToExit(['--data-dir', file, '--s3-port', '0', '--dynamodb-port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`npm start: data dir ${file} exists but is not a directory`);
  });

  it('rejects a data dir that cannot be created', async () => {
    const below = join(scratch, 'a-file', 'data');
    const result = await runToExit(['--data-dir', below, '--s3-port', '0', '--dynamodb-port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /data dir .* is not usable \(ENOTDIR\): it must be a directory this user can read/,
    );
  });

  it('says which port is in use and how to choose another', async () => {
    const result = await runToExit(['--s3-port', String(busyPort), '--dynamodb-port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`port ${busyPort} (S3) is already in use`);
    expect(result.stderr).toContain('--s3-port');
  });

  it('names the known stages for an unknown one', async () => {
    const result = await runToExit(['--stage', 'qa', '--s3-port', '0', '--dynamodb-port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown stage "qa"; known stages: dev, staging, prod/);
  });
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const launched: ChildProcessWithoutNullStreams[] = [];
const started: number[] = [];
afterAll(() => {
  // A failed assertion must not leave an environment running.
  for (const child of launched)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose parent is `pid` (Linux /proc): the environment's Lambda workers. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** Whether something accepts connections at the endpoint's port. */
function accepts(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `npm start` exactly as a user, a process manager or a script runs it (npm, then `sh -c`, then node), with the
 * environment's stdout read line by line; the pipe outlives npm, since node holds it too.
 */
function launch(args: string[], env: NodeJS.ProcessEnv) {
  const npm = spawn('npm', ['start', '--silent', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  launched.push(npm);
  const lines: string[] = [];
  let ended = false;
  const reader = createInterface({ input: npm.stdout });
  reader.on('line', (line) => lines.push(line));
  reader.on('close', () => {
    ended = true;
  });
  const waitForLine = async (match: (line: string) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || ended) {
        throw new Error(`no matching line within ${timeoutMs} ms; output so far:\n${lines.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { npm, lines, waitForLine };
}

/** Starts one environment and returns what a stop must clean up: its process, workers, ports and ready file. */
async function startOne(args: string[], readyDir: string) {
  const run = launch(args, { LOCAL_READY_DIR: readyDir });
  const info = JSON.parse(await run.waitForLine((l) => l.startsWith('{"ready":true'), 60_000)) as ReadyInfo;
  const [published] = await listReadyFiles({ LOCAL_READY_DIR: readyDir });
  if (!published) throw new Error('no ready file published');
  started.push(published.pid);
  await run.waitForLine((l) => l.startsWith('Objects as they are processed'), 30_000);
  return { ...run, info, published, workers: await childrenOf(published.pid) };
}

/** After a stop: the summary printed, the process and its workers gone, all three ports and the ready file free. */
async function expectStoppedCleanly(one: Awaited<ReturnType<typeof startOne>>, readyDir: string) {
  const summaryLine = await one.waitForLine((l) => l.startsWith('Summary: '), 15_000);
  await eventually('the environment process exits', () => !isRunning(one.published.pid));
  expect(one.workers.length).toBeGreaterThan(0);
  await eventually('its Lambda workers exit', () => one.workers.every((pid) => !isRunning(pid)));
  for (const endpoint of [one.info.s3Endpoint, one.info.dynamodbEndpoint, one.info.apiEndpoint]) {
    expect(await accepts(endpoint)).toBe(false);
  }
  expect(await listReadyFiles({ LOCAL_READY_DIR: readyDir })).toEqual([]);
  return summaryLine;
}

describe('npm start: the ready line, per-object lines, stopping however it is stopped, and --data-dir', () => {
  let dataDir: string;
  let readyDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'start-data-'));
    readyDir = await mkdtemp(join(tmpdir(), 'start-ready-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(readyDir, { recursive: true, force: true });
  });

  const args = () => ['--s3-port', '0', '--dynamodb-port', '0', '--api-port', '0', '--data-dir', dataDir];

  it('processes an upload, and stops cleanly when only npm gets SIGTERM (as process managers send it)', async () => {
    const first = await startOne(args(), readyDir);
    expect(first.info).toMatchObject({ ready: true, stage: 'dev', region: 'eu-west-1' });
    expect(first.published).toMatchObject({ ...first.info, pid: expect.any(Number) });
    expect(first.published.pid).not.toBe(first.npm.pid);
    // Every printed AWS CLI command names its endpoint and region: v1 ignores AWS_REGION, and any credentials do.
    const cli = first.lines.filter((l) => l.trimStart().startsWith('aws '));
    expect(cli.length).toBeGreaterThanOrEqual(5);
    for (const line of cli)
      expect(line).toMatch(/ --endpoint-url http:\/\/127\.0\.0\.1:\d+ --region eu-west-1$/);
    expect(first.lines.join('\n')).not.toMatch(/export AWS_REGION|S3RVER/);

    // A developer's own credentials, not the emulators' built-in pair.
    const s3 = new S3Client({
      ...s3ClientConfig(first.info),
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await s3.send(new PutObjectCommand({ Bucket: first.info.bucket, Key: 'hello world.txt', Body: 'hello' }));
    s3.destroy();
    await first.waitForLine((l) => /^PROCESSED +hello world\.txt {2}\d+ ms {2}text\/plain$/.test(l), 30_000);
    // A message that cannot be processed, sent through the local SQS API: at stop it is still in the queue.
    const sqs = new SQSClient({
      endpoint: first.info.apiEndpoint,
      region: first.info.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: first.info.ingestQueueUrl,
        MessageBody: '{"Records":"not a list"}',
      }),
    );
    sqs.destroy();

    // The signal reaches npm alone (not its process group): npm and its shell end, the environment must too.
    first.npm.kill('SIGTERM');
    expect(await expectStoppedCleanly(first, readyDir)).toMatch(
      /^Summary: ObjectsProcessed 1, ObjectsRejected 0, ObjectsDeleted 0, StaleEventsSkipped 0, EventsSuperseded 0, EventsIgnored 0, MessagesFailed [01] \(the processor's metrics\); retries [01], dead-lettered 0, undelivered 1 \(the queue\)$/,
    );
    expect(first.lines).toContainEqual(
      expect.stringMatching(/^Undelivered at stop: 1 message\(s\), .*: \(not an S3 event\)$/),
    );
    expect(first.lines).toContain(
      `Kept in ${join(dataDir, 'queue.json')}: the next start on this --data-dir sends the undelivered again and keeps the dead letters for \`npm run redrive\``,
    );
  });

  it('keeps the data for the next run, and stops cleanly when npm dies (SIGKILL: no signal is forwarded)', async () => {
    const second = await startOne(args(), readyDir);
    const dynamodb = new DynamoDBClient(dynamodbClientConfig(second.info));
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: second.info.table, Key: { objectKey: { S: 'hello world.txt' } } }),
    );
    dynamodb.destroy();
    expect(Item?.status?.S).toBe('PROCESSED');
    expect(second.lines).toContain(
      'RESTORED     1 undelivered message(s) and 0 dead letter(s) kept by the last stop',
    );

    second.npm.kill('SIGKILL');
    await expectStoppedCleanly(second, readyDir);
    expect(second.lines).toContainEqual(
      expect.stringMatching(/^Stopping \(npm \(process \d+\) exited\)\.\.\.$/),
    );
  });
});
