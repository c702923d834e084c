/**
 * `npm start`: the local environment in the foreground. Prints one JSON ready line on stdout, then example
 * commands, then one line per processed object. It stops within a few seconds with a summary on Ctrl-C, SIGTERM,
 * SIGINT or SIGHUP, and also when the process that started it exits: `npm start` runs it under `sh -c`, and a
 * signal sent to npm alone (a process manager, `npm start & kill $!`) ends npm and the shell but never reaches it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../lib/config/app-config.ts';
import {
  type ClosingReport,
  LocalEnvironmentError,
  type ReadyInfo,
  startLocalEnvironment,
} from './environment.ts';
import { parseBody } from './object-progress.ts';
import { parseStartOptions, START_ENV, START_USAGE, type StartOptions, UsageError } from './start-options.ts';

/** What a running environment publishes for `npm run integ -- --target local`: its ready line and its process. */
export interface ReadyFile extends ReadyInfo {
  readonly pid: number;
  readonly startedAt: string;
}

/** The directory where every running `npm start` publishes its own ready file. */
export function readyFileDir(env: NodeJS.ProcessEnv): string {
  return env[START_ENV.readyDir] || join(tmpdir(), 's3-object-processor-local');
}

/** One file per environment (per process), so a second `npm start` neither overwrites nor removes the first's. */
export function readyFilePath(env: NodeJS.ProcessEnv, pid: number = process.pid): string {
  return join(readyFileDir(env), `ready-${pid}.json`);
}

/** The published ready files, newest first; unreadable ones are skipped. Liveness is the reader's to check. */
export async function listReadyFiles(env: NodeJS.ProcessEnv): Promise<ReadyFile[]> {
  const dir = readyFileDir(env);
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: ReadyFile[] = [];
  for (const name of names.filter((n) => /^ready-\d+\.json$/.test(n))) {
    try {
      files.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as ReadyFile);
    } catch {
      // Being written or removed right now, or not ours: not an environment to attach to.
    }
  }
  return files.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** Hard limit on shutdown: past it the process exits anyway (a stuck child must not keep the terminal). */
const SHUTDOWN_DEADLINE_MS = 5_000;
/** Keys named per list in the stop report; the rest are counted. */
const KEYS_SHOWN = 10;

export interface StartIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** Resolves with the reason when the environment should stop (a signal, the parent's exit). */
  readonly stopRequested: Promise<string>;
  /** Names this environment's ready file. @default process.pid */
  readonly pid?: number;
}

/**
 * Runs the command; resolves with the exit code: 0 after a requested stop, 1 when the stop dropped undelivered
 * messages or dead letters (no --data-dir to keep them) or shutdown overran, 2 for a usage or environment error.
 */
export async function runStart(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: StartIo,
): Promise<number> {
  let options: StartOptions;
  try {
    options = parseStartOptions(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line, as every command of the repository reports a wrong flag.
    io.stderr(`npm start: ${error.message}; see \`npm start -- --help\``);
    return 2;
  }
  if (options.help) {
    io.stdout(START_USAGE);
    return 0;
  }

  let environment: Awaited<ReturnType<typeof startLocalEnvironment>>;
  try {
    environment = await startLocalEnvironment({
      stage: options.stage,
      s3Port: options.s3Port,
      dynamodbPort: options.dynamodbPort,
      apiPort: options.apiPort,
      ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
      timeScale: options.timeScale,
      log: io.stdout,
      ...(options.verbose && { processorLog: io.stderr }),
    });
  } catch (error) {
    if (error instanceof LocalEnvironmentError || error instanceof ConfigError) {
      io.stderr(`npm start: ${error.message}`);
      return 2;
    }
    throw error;
  }

  const { info } = environment;
  const pid = io.pid ?? process.pid;
  const readyFile = readyFilePath(env, pid);
  const published: ReadyFile = { ...info, pid, startedAt: new Date().toISOString() };
  await publishReadyFile(readyFile, published).catch((error: Error) =>
    io.stderr(`npm start: could not publish ${readyFile} (integ cannot attach): ${error.message}`),
  );
  io.stdout(JSON.stringify(info));
  for (const line of instructions(info, options)) io.stdout(line);

  const reason = await io.stopRequested;
  io.stdout(`Stopping (${reason})...`);
  let report: ClosingReport | undefined;
  try {
    report = await Promise.race([
      environment.close(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), SHUTDOWN_DEADLINE_MS).unref()),
    ]);
  } finally {
    await rm(readyFile, { force: true });
  }
  if (!report) {
    io.stderr(`npm start: shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
    return 1;
  }
  for (const line of summary(report)) io.stdout(line);
  return stopExitCode(report);
}

/** 1 when the stop dropped messages (undelivered or dead letters, with no --data-dir to keep them), else 0. */
export function stopExitCode(report: Pick<ClosingReport, 'keptIn' | 'undelivered' | 'deadLetters'>): 0 | 1 {
  const held = report.undelivered.length > 0 || report.deadLetters.length > 0;
  return held && report.keptIn === undefined ? 1 : 0;
}

/** The stop's last lines: the processor's counters, the queue's, and what the queue still held. */
export function summary(report: ClosingReport): string[] {
  const lines = [
    `Summary: ${report.metrics.format()} (the processor's metrics); retries ${report.retries}, dead-lettered ${report.deadLettered}, undelivered ${report.undelivered.length} (the queue)`,
  ];
  const inFlight = report.undelivered.filter((m) => m.inFlight).length;
  if (report.undelivered.length > 0) {
    lines.push(
      `Undelivered at stop: ${report.undelivered.length} message(s), ${inFlight} in flight and ${report.undelivered.length - inFlight} waiting: ${keysOf(report.undelivered.map((m) => m.body))}`,
    );
  }
  if (report.deadLetters.length > 0) {
    lines.push(
      `Dead letters at stop: ${report.deadLetters.length}: ${keysOf(report.deadLetters.map((d) => d.body))}; last failure: ${report.deadLetters.at(-1)?.lastFailure}`,
    );
  }
  if (report.undelivered.length + report.deadLetters.length > 0) {
    lines.push(
      report.keptIn
        ? `Kept in ${report.keptIn}: the next start on this --data-dir sends the undelivered again and keeps the dead letters for \`npm run redrive\``
        : 'They are gone with the in-memory queue (no --data-dir): upload the objects again, or run `npm run backfill` after the next start',
    );
  }
  return lines;
}

function keysOf(bodies: readonly string[]): string {
  const keys = bodies.flatMap((body) => {
    const parsed = parseBody(body);
    return parsed.kind === 'notification'
      ? parsed.entries.map((e) => JSON.stringify(e.key))
      : ['(not an S3 event)'];
  });
  const rest = keys.length - KEYS_SHOWN;
  return `${keys.slice(0, KEYS_SHOWN).join(', ')}${rest > 0 ? `, ... and ${rest} more` : ''}`;
}

/**
 * The commands printed at start. Each `aws` command names its endpoint and region, so it needs nothing else: AWS
 * CLI v1 ignores AWS_REGION (it reads AWS_DEFAULT_REGION or --region), v2 reads both, and the emulators take any
 * credentials the shell has.
 */
export function instructions(info: ReadyInfo, options: Pick<StartOptions, 'dataDir' | 'stage'>): string[] {
  const s3 = `--endpoint-url ${info.s3Endpoint} --region ${info.region}`;
  const dynamodb = `--endpoint-url ${info.dynamodbEndpoint} --region ${info.region}`;
  const api = `--endpoint-url ${info.apiEndpoint} --region ${info.region}`;
  const tools = `--stage ${options.stage} --endpoint ${info.apiEndpoint} --endpoint s3=${info.s3Endpoint} --endpoint dynamodb=${info.dynamodbEndpoint}`;
  return [
    `Local S3 object processor, stage ${info.stage}: running. Ctrl-C stops it.`,
    `  S3        ${info.s3Endpoint}  bucket ${info.bucket}`,
    `  DynamoDB  ${info.dynamodbEndpoint}  table ${info.table}`,
    `  Tool API  ${info.apiEndpoint}  SQS (ingest and dead-letter queues), stack outputs, function, logs`,
    `  Data      ${options.dataDir ?? 'temporary, removed on exit (--data-dir keeps it)'}`,
    'Try it with the AWS CLI (v1 or v2) or any SDK. Any credentials work: your profile, or in a shell without',
    'any, export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
    `  aws s3 cp ./file.png s3://${info.bucket}/ ${s3}`,
    `  aws dynamodb scan --table-name ${info.table} ${dynamodb}`,
    `  aws dynamodb get-item --table-name ${info.table} --key '{"objectKey":{"S":"file.png"}}' ${dynamodb}`,
    `  aws s3 rm s3://${info.bucket}/file.png ${s3}`,
    `  aws sqs receive-message --queue-url ${info.deadLetterQueueUrl} --attribute-names All ${api}`,
    'The operator tools, as against a stage:',
    `  npm run status -- ${tools}`,
    `  npm run redrive -- ${tools}`,
    `  npm run backfill -- ${tools} --dry-run`,
    'Objects as they are processed (outcome, key, time since the S3 event):',
  ];
}

async function publishReadyFile(file: string, ready: ReadyFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(ready)}\n`);
  // Renamed into place: a reader never sees half a file.
  await rename(`${file}.tmp`, file);
}

/** How often the parent is checked: a stop within a second of npm's, without measurable cost. */
const PARENT_POLL_MS = 250;

/**
 * The process whose exit should stop this one besides its parent: under `npm start` the parent is the `sh -c`
 * npm runs scripts with, and when npm itself is killed (SIGKILL, a crashed terminal) that shell lives on, waiting
 * for us; so npm, the shell's parent, is watched too. Read once at start, from /proc (Linux) or ps (macOS).
 */
export function npmProcess(env: NodeJS.ProcessEnv, parent: number = process.ppid): number | undefined {
  if (env.npm_lifecycle_event === undefined || process.platform === 'win32') return undefined;
  try {
    const stat = readFileSync(`/proc/${parent}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid > 1 ? ppid : undefined;
  } catch {
    try {
      const ppid = Number(
        execFileSync('ps', ['-o', 'ppid=', '-p', String(parent)], { encoding: 'utf8' }).trim(),
      );
      return ppid > 1 ? ppid : undefined;
    } catch {
      return undefined;
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves when the process should stop: on a signal, or when its parent (or, under npm, npm) exits: a parent's
 * exit re-parents this process, so process.ppid changes; Node has no parent-death signal to ask for. A second
 * signal exits at once, for a user who does not want to wait for the clean shutdown.
 */
export function stopSignals(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise<string>((resolve) => {
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      resolve(reason);
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (stopping) process.exit(130);
        stop(signal);
      });
    }
    const parent = process.ppid;
    const npm = npmProcess(env, parent);
    const watch = setInterval(() => {
      const gone =
        process.ppid !== parent
          ? `its parent process ${parent}`
          : npm !== undefined && !isRunning(npm)
            ? `npm (process ${npm})`
            : undefined;
      if (gone) {
        clearInterval(watch);
        stop(`${gone} exited`);
      }
    }, PARENT_POLL_MS);
    watch.unref();
  });
}

if (import.meta.main) {
  // A reader that went away (the terminal or the parent's pipe) must not crash the shutdown that follows.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const code = await runStart(process.argv.slice(2), process.env, {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    stopRequested: stopSignals(),
  });
  process.exit(code);
}
