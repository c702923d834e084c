/**
 * `npm start`: the local environment in the foreground. Prints one JSON ready line on stdout, then example
 * commands, then one line per processed object; Ctrl-C (or SIGTERM) stops it within a few seconds with a summary.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LOCAL_AWS_CREDENTIALS } from '../devkit/aws-servers.ts';
import { ConfigError } from '../lib/config/app-config.ts';
import { LocalEnvironmentError, type ReadyInfo, startLocalEnvironment } from './environment.ts';
import type { ProgressTotals } from './object-progress.ts';
import { parseStartOptions, START_ENV, START_USAGE, type StartOptions, UsageError } from './start-options.ts';

/** Where a running `npm start` publishes its ready line, so `npm run integ -- --target local` can attach. */
export function readyFilePath(env: NodeJS.ProcessEnv): string {
  return env[START_ENV.readyFile] || join(tmpdir(), 's3-object-processor-local', 'ready.json');
}

/** Hard limit on shutdown: past it the process exits anyway (a stuck child must not keep the terminal). */
const SHUTDOWN_DEADLINE_MS = 5_000;

export interface StartIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM). */
  readonly stopRequested: Promise<string>;
}

/** Runs the command; resolves with the exit code (0 after a requested stop, 2 for a usage or environment error). */
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
    io.stderr(`npm start: ${error.message}`);
    io.stderr('Run `npm start -- --help` for the options.');
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
  const readyFile = readyFilePath(env);
  await publishReadyFile(readyFile, info).catch((error: Error) =>
    io.stderr(`npm start: could not publish ${readyFile} (integ cannot attach): ${error.message}`),
  );
  io.stdout(JSON.stringify(info));
  for (const line of instructions(info, options)) io.stdout(line);

  const reason = await io.stopRequested;
  io.stdout(`Stopping (${reason})...`);
  let totals: ProgressTotals | undefined;
  try {
    totals = await Promise.race([
      environment.close(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), SHUTDOWN_DEADLINE_MS).unref()),
    ]);
  } finally {
    await removeReadyFile(readyFile, info);
  }
  if (!totals) {
    io.stderr(`npm start: shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
    return 1;
  }
  io.stdout(
    `Summary: processed ${totals.processed}, rejected ${totals.rejected}, deleted ${totals.deleted}, ` +
      `duplicates ${totals.duplicates}, retries ${totals.retries}, dead-lettered ${totals.deadLettered}`,
  );
  return 0;
}

function instructions(info: ReadyInfo, options: StartOptions): string[] {
  const { accessKeyId, secretAccessKey } = LOCAL_AWS_CREDENTIALS;
  return [
    `Local S3 object processor, stage ${info.stage}: running. Ctrl-C stops it.`,
    `  S3        ${info.s3Endpoint}  bucket ${info.bucket}`,
    `  DynamoDB  ${info.dynamodbEndpoint}  table ${info.table}`,
    `  Data      ${options.dataDir ?? 'temporary, removed on exit (--data-dir keeps it)'}`,
    'Try it (the emulators accept only these credentials):',
    `  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_REGION=${info.region}`,
    `  aws s3 cp ./file.png s3://${info.bucket}/ --endpoint-url ${info.s3Endpoint}`,
    `  aws dynamodb scan --table-name ${info.table} --endpoint-url ${info.dynamodbEndpoint}`,
    `  aws dynamodb get-item --table-name ${info.table} --key '{"objectKey":{"S":"file.png"}}' --endpoint-url ${info.dynamodbEndpoint}`,
    `  aws s3 rm s3://${info.bucket}/file.png --endpoint-url ${info.s3Endpoint}`,
    'Objects as they are processed (outcome, key, time since the S3 event):',
  ];
}

async function publishReadyFile(file: string, info: ReadyInfo): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(info)}\n`);
}

async function removeReadyFile(file: string, info: ReadyInfo): Promise<void> {
  // Only our own: a second `npm start` on other ports may have published its own since.
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current.includes(`"s3Endpoint":"${info.s3Endpoint}"`)) await rm(file, { force: true });
}

if (import.meta.main) {
  const stopRequested = new Promise<string>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (stopping) {
          // A second Ctrl-C: the user does not want to wait for the clean shutdown.
          process.exit(130);
        }
        stopping = true;
        resolve(signal);
      });
    }
  });
  let stopping = false;
  const code = await runStart(process.argv.slice(2), process.env, {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    stopRequested,
  });
  process.exit(code);
}
