import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodbClientConfig, s3ClientConfig } from '../../devkit/aws-servers.ts';
import type { ReadyInfo } from '../../local/environment.ts';
import { runStart } from '../../local/start.ts';
import {
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

const START = fileURLToPath(new URL('../../local/start.ts', import.meta.url));

const launched: ChildProcessWithoutNullStreams[] = [];
afterAll(() => {
  // A failed assertion must not leave an environment running.
  for (const child of launched)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** `node local/start.ts` as `npm start` runs it, with its stdout read line by line. */
function launch(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [START, ...args], { env: { ...process.env, ...env } });
  launched.push(child);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const waitForLine = async (match: (line: string) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`no matching line within ${timeoutMs} ms; output so far:\n${lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return { child, lines, exited, waitForLine };
}

async function stop(child: ChildProcessWithoutNullStreams, exited: Promise<[number | null, string | null]>) {
  child.kill('SIGTERM');
  const [code] = await exited;
  return code;
}

describe('npm start: the ready line, per-object lines, clean stop and --data-dir', () => {
  let dataDir: string;
  let readyFile: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'start-data-'));
    readyFile = join(dataDir, '..', `${dataDir.split('/').pop()}-ready.json`);
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(readyFile, { force: true });
  });

  it('processes an uploaded object, stops on SIGTERM with a summary, and keeps the data for the next run', async () => {
    const args = ['--s3-port', '0', '--dynamodb-port', '0', '--data-dir', dataDir];
    const first = launch(args, { LOCAL_READY_FILE: readyFile });
    const info = JSON.parse(await first.waitForLine((l) => l.startsWith('{'), 30_000)) as ReadyInfo;
    expect(first.lines[0]).toBe(JSON.stringify(info));
    expect(info).toMatchObject({ ready: true, stage: 'dev', region: 'eu-west-1' });
    expect(JSON.parse(await readFile(readyFile, 'utf8'))).toEqual(info);
    // The instructions follow the ready line; under load they may not have been read yet when it arrives.
    const upload = `aws s3 cp ./file.png s3://${info.bucket}/ --endpoint-url ${info.s3Endpoint}`;
    await first.waitForLine((l) => l.includes(upload), 30_000);
    expect(first.lines.join('\n')).toContain(upload);

    const s3 = new S3Client(s3ClientConfig(info));
    await s3.send(new PutObjectCommand({ Bucket: info.bucket, Key: 'hello world.txt', Body: 'hello' }));
    s3.destroy();
    await first.waitForLine((l) => /^PROCESSED +hello world\.txt {2}\d+ ms {2}text\/plain$/.test(l), 30_000);

    expect(await stop(first.child, first.exited)).toBe(0);
    expect(first.lines.at(-1)).toBe(
      'Summary: processed 1, rejected 0, deleted 0, duplicates 0, retries 0, dead-lettered 0',
    );
    await expect(readFile(readyFile)).rejects.toThrow(/ENOENT/);

    const second = launch(args, { LOCAL_READY_FILE: readyFile });
    const again = JSON.parse(await second.waitForLine((l) => l.startsWith('{'), 30_000)) as ReadyInfo;
    const dynamodb = new DynamoDBClient(dynamodbClientConfig(again));
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: again.table, Key: { objectKey: { S: 'hello world.txt' } } }),
    );
    dynamodb.destroy();
    expect(Item?.status?.S).toBe('PROCESSED');
    expect(await stop(second.child, second.exited)).toBe(0);
  });
});
