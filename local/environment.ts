import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse } from 'aws-lambda';
import {
  dynamodbClientConfig,
  type ListenError,
  LOCAL_AWS_CREDENTIALS,
  type LocalAws,
  s3ClientConfig,
  startLocalAws,
} from '../devkit/aws-servers.ts';
import {
  type DeployedFunction,
  resolveEnvironment,
  synthesizeDeployedFunction,
} from '../devkit/deployed-function.ts';
import { LocalAwsApi, LocalLogGroup } from '../devkit/local-aws-api.ts';
import { LocalLambda } from '../devkit/local-lambda.ts';
import { type DeadLetter, LocalQueue } from '../devkit/queue.ts';
import { S3NotificationEmulator } from '../devkit/s3-notifications.ts';
import { completeS3rverEvents } from '../devkit/s3rver-events.ts';
import { OUTPUT_KEYS } from '../lib/config/names.ts';
import { ObjectProgress, ProcessorMetricTotals, type ProgressTotals } from './object-progress.ts';

/**
 * The whole local environment: S3 and DynamoDB emulators, the S3 -> SQS notification path, the queue with its
 * event source mapping, and the processor's deployed bundle running in Lambda-like execution environments. Every
 * setting of the function, queue and mapping is read from the chosen stage's synthesized template.
 */

export interface LocalEnvironmentOptions {
  /** Stage whose processor runs locally. @default 'dev' */
  readonly stage?: string;
  /** Interface the emulators listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** S3 port; 0 picks a free one. @default 0 */
  readonly s3Port?: number;
  /** DynamoDB port; 0 picks a free one. @default 0 */
  readonly dynamodbPort?: number;
  /** Port of the API endpoint for the operator tools (SQS, CloudFormation, Lambda, CloudWatch, Logs). @default 0 */
  readonly apiPort?: number;
  /** Keeps objects and items here across runs. @default a temporary directory, removed on close */
  readonly dataDir?: string;
  /**
   * Multiplies the stage's visibility timeout, batching window and function timeout (they keep their ratios,
   * except that the function timeout stays at least Lambda's minimum of 1 s while the visibility timeout allows).
   * Tests of redelivery use e.g. 0.01. @default 1
   */
  readonly timeScale?: number;
  /** One line per processed object, retry and dead letter. @default discarded */
  readonly log?: (line: string) => void;
  /** Every line the function writes (its JSON logs and EMF metrics). @default discarded */
  readonly processorLog?: (line: string) => void;
}

/** What `npm start` prints as its ready line, and what integration tests attach with. */
export interface ReadyInfo {
  readonly ready: true;
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  /** The API endpoint the operator tools use for everything but S3 and DynamoDB (devkit/local-aws-api.ts). */
  readonly apiEndpoint: string;
  readonly bucket: string;
  readonly table: string;
  readonly ingestQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly functionName: string;
  readonly region: string;
  readonly stage: string;
  /** The stage's MAX_OBJECT_BYTES: integration tests size their oversized object from it. */
  readonly maxObjectBytes: number;
  /** The stage's notification key filter ('' when none): integration tests name their keys to match it. */
  readonly keyPrefix: string;
  readonly keySuffix: string;
}

export interface LocalEnvironment {
  readonly info: ReadyInfo;
  readonly deployed: DeployedFunction;
  readonly queue: LocalQueue;
  readonly lambda: LocalLambda;
  readonly api: LocalAwsApi;
  readonly progress: ObjectProgress;
  /** The processor's own counters, from its EMF output. */
  readonly metrics: ProcessorMetricTotals;
  /** Stops everything within a few seconds and removes temporary data; returns what was done and left. */
  close(): Promise<ClosingReport>;
}

/** What a stop leaves behind: the totals, and the messages the in-memory queue had not delivered. */
export interface ClosingReport extends ProgressTotals {
  readonly metrics: ProcessorMetricTotals;
  /** Messages not yet deleted when the queue stopped (received by an invocation, or waiting), oldest first. */
  readonly undelivered: ReadonlyArray<{ readonly body: string; readonly inFlight: boolean }>;
  readonly deadLetters: readonly DeadLetter[];
  /** Where they were kept for the next start (with --data-dir), else undefined: they are gone. */
  readonly keptIn?: string;
}

/** A problem the person starting the environment can fix; its message says how. */
export class LocalEnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalEnvironmentError';
  }
}

/** Local resource names: fixed per stage so that a persisted data directory finds its bucket and table again. */
export function localResourceNames(project: string, stage: string): { bucket: string; table: string } {
  return { bucket: `${project}-${stage}-local`, table: `${project}-${stage}-local-objects` };
}

const FAKE_ACCOUNT = '000000000000';

/** SQS's default visibility timeout, which the stack leaves on its dead-letter queue. */
const DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS = 30;

/** With --data-dir, the queue's undelivered messages and dead letters are kept here between runs. */
const QUEUE_FILE = 'queue.json';
interface QueueFile {
  readonly version: 1;
  readonly undelivered: readonly string[];
  readonly deadLetters: readonly DeadLetter[];
}

export async function startLocalEnvironment(
  options: LocalEnvironmentOptions = {},
): Promise<LocalEnvironment> {
  const stageName = options.stage ?? 'dev';
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0))
    throw new LocalEnvironmentError(`time scale is ${timeScale}; must be a positive number`);
  const dataDir = options.dataDir === undefined ? undefined : await usableDataDir(options.dataDir);
  const scratch = await mkdtemp(join(tmpdir(), 's3-object-processor-local-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(scratch, { recursive: true, force: true })];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };

  try {
    // Cheap checks first: a busy port should not cost a synth to report.
    await assertPortsFree(options);
    const deployed = synthesize(stageName, join(scratch, 'cdk.out'));
    const region = deployed.stage.region;
    const names = localResourceNames(deployed.project, stageName);

    const aws = await startServers(options, region, dataDir);
    cleanups.push(() => aws.close());
    const s3 = new S3Client(s3ClientConfig(aws));
    const dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
    cleanups.push(async () => {
      s3.destroy();
      dynamodb.destroy();
    });
    await ensureBucket(s3, names.bucket);
    await ensureTable(dynamodb, names.table, deployed);

    const functionName = `${deployed.stackName}-Function-local`;
    const logGroup = `/aws/lambda/${functionName}`;
    // Every line the function writes is kept (FilterLogEvents) and its metrics summed; --verbose also prints them.
    const logs = new LocalLogGroup();
    const metrics = new ProcessorMetricTotals();
    const failures = new FailureCauses();
    const lambda = await LocalLambda.start({
      taskRoot: deployed.assetDir,
      handler: deployed.handler,
      environment: {
        ...resolveEnvironment(deployed, names),
        ...lambdaRuntimeEnvironment(deployed, functionName, region),
        // Stand-ins for the execution role's credentials and for the AWS endpoints (the SDK's standard variables).
        AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: 'local',
        AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
      },
      timeoutMs: functionTimeoutMs(deployed, timeScale),
      concurrency: deployed.eventSource.maxConcurrency,
      onLog: (line) => {
        logs.add(line);
        metrics.addLine(line);
        failures.addLine(line);
        options.processorLog?.(line);
      },
    }).catch((error: unknown) => {
      throw new LocalEnvironmentError(`the processor bundle failed to start: ${(error as Error).message}`);
    });
    cleanups.push(() => lambda.close());

    const queue = new LocalQueue({
      batchSize: deployed.eventSource.batchSize,
      batchingWindowMs: deployed.eventSource.maxBatchingWindowSeconds * 1000 * timeScale,
      visibilityTimeoutMs: deployed.ingestQueue.visibilityTimeoutSeconds * 1000 * timeScale,
      maxReceiveCount: deployed.ingestQueue.maxReceiveCount,
      maxConcurrency: deployed.eventSource.maxConcurrency,
      reportBatchItemFailures: deployed.eventSource.reportBatchItemFailures,
      queueArn: `arn:aws:sqs:${region}:${FAKE_ACCOUNT}:${deployed.stackName}-ingest`,
      region,
      // Whatever the function returns goes to the queue as is: it validates the response the way Lambda does.
      invoke: async (records) => (await lambda.invoke({ Records: records })) as SQSBatchResponse | null,
    });
    cleanups.push(async () => queue.close());
    const restored = dataDir === undefined ? undefined : await restoreQueue(queue, join(dataDir, QUEUE_FILE));

    const ingestQueueName = `${deployed.stackName}-ingest`;
    const deadLetterQueueName = `${deployed.stackName}-dlq`;
    let outputs: Record<string, string> = {};
    const api = await LocalAwsApi.start({
      host: options.host ?? '127.0.0.1',
      port: options.apiPort ?? 0,
      queue,
      region,
      account: FAKE_ACCOUNT,
      stackName: deployed.stackName,
      outputs: () => outputs,
      ingestQueueName,
      deadLetterQueueName,
      ingestVisibilityTimeoutSeconds: deployed.ingestQueue.visibilityTimeoutSeconds,
      deadLetterVisibilityTimeoutSeconds: DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: deployed.ingestQueue.maxReceiveCount,
      function: {
        functionName,
        runtime: deployed.runtime,
        handler: deployed.handler,
        memoryMiB: deployed.memoryMiB,
        timeoutSeconds: deployed.timeoutSeconds,
        logGroup,
        logFormat: deployed.logFormat,
      },
      logs,
    }).catch((error: NodeJS.ErrnoException) => {
      throw portError(error, options.apiPort ?? 0, 'tool API');
    });
    cleanups.push(() => api.close());
    outputs = {
      [OUTPUT_KEYS.bucketName]: names.bucket,
      [OUTPUT_KEYS.tableName]: names.table,
      [OUTPUT_KEYS.ingestQueueUrl]: api.sqs.ingestUrl,
      [OUTPUT_KEYS.deadLetterQueueUrl]: api.sqs.deadLetterUrl,
      [OUTPUT_KEYS.functionName]: functionName,
      [OUTPUT_KEYS.alarmTopicArn]: `arn:aws:sns:${region}:${FAKE_ACCOUNT}:${deployed.stackName}-alarms`,
    };

    const log = options.log ?? (() => {});
    const progress = new ObjectProgress({
      queue,
      log,
      failureCause: (messageId) => failures.of(messageId),
      readItem: async (objectKey) => {
        const { Item } = await dynamodb.send(
          new GetItemCommand({
            TableName: names.table,
            Key: { objectKey: { S: objectKey } },
            ConsistentRead: true,
          }),
        );
        if (!Item) return undefined;
        return {
          status: Item.status?.S ?? '?',
          ...(Item.sequencer?.S !== undefined && { sequencer: Item.sequencer.S }),
          ...(Item.reasonCode?.S !== undefined && { reasonCode: Item.reasonCode.S }),
          ...(Item.contentType?.S !== undefined && { contentType: Item.contentType.S }),
        };
      },
    });

    const notifications = new S3NotificationEmulator({
      source: completeS3rverEvents(aws.s3rver),
      bucket: names.bucket,
      region,
      send: (body) => queue.enqueue(body),
      readObjectFacts: async (bucket, key) => {
        try {
          const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          return { size: head.ContentLength ?? 0, eTag: head.ETag ?? '' };
        } catch (error) {
          if ((error as { name?: string }).name === 'NotFound') return undefined;
          throw error;
        }
      },
      onDropped: (reason, record) => log(`DROPPED      ${record.s3.object.key}  ${reason}`),
      ...(deployed.notificationFilter.prefix !== undefined && {
        keyPrefix: deployed.notificationFilter.prefix,
      }),
      ...(deployed.notificationFilter.suffix !== undefined && {
        keySuffix: deployed.notificationFilter.suffix,
      }),
    });
    notifications.start();
    cleanups.push(() => notifications.stop());

    const info: ReadyInfo = {
      ready: true,
      s3Endpoint: aws.s3Endpoint,
      dynamodbEndpoint: aws.dynamodbEndpoint,
      apiEndpoint: api.endpoint,
      bucket: names.bucket,
      table: names.table,
      ingestQueueUrl: api.sqs.ingestUrl,
      deadLetterQueueUrl: api.sqs.deadLetterUrl,
      functionName,
      region,
      stage: stageName,
      maxObjectBytes: Number(resolveEnvironment(deployed, names).MAX_OBJECT_BYTES),
      keyPrefix: deployed.stage.objects.keyPrefix ?? '',
      keySuffix: deployed.stage.objects.keySuffix ?? '',
    };
    if (restored && (restored.undelivered > 0 || restored.deadLetters > 0)) {
      log(
        `RESTORED     ${restored.undelivered} undelivered message(s) and ${restored.deadLetters} dead letter(s) kept by the last stop`,
      );
    }
    let closing: Promise<ClosingReport> | undefined;
    return {
      info,
      deployed,
      queue,
      lambda,
      api,
      progress,
      metrics,
      close: () => {
        closing ??= (async () => {
          await notifications.stop();
          api.sqs.close();
          queue.close();
          await lambda.close();
          const totals = await Promise.race([
            progress.flush(),
            new Promise<ProgressTotals>((r) => setTimeout(() => r(progress.totalsSoFar()), 1_000).unref()),
          ]);
          // After the queue stopped, whatever it still holds was never deleted: in flight or waiting.
          const undelivered = queue.undelivered().map(({ body, inFlight }) => ({ body, inFlight }));
          const deadLetters = queue.deadLetters();
          const keptIn =
            dataDir === undefined
              ? undefined
              : await keepQueue(join(dataDir, QUEUE_FILE), undelivered, deadLetters).catch(() => undefined);
          await cleanUp();
          return {
            ...totals,
            deadLettered: deadLetters.length,
            metrics,
            undelivered,
            deadLetters,
            ...(keptIn ? { keptIn } : {}),
          };
        })();
        return closing;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Lambda's shortest function timeout. */
const LAMBDA_MIN_TIMEOUT_MS = 1_000;

/**
 * The function's timeout, scaled with the other timings, but never below Lambda's minimum of 1 s (a first SDK call
 * in a fresh worker can take a few hundred milliseconds, which a 150 ms timeout would turn into a spurious
 * "Task timed out") unless the scaled visibility timeout is shorter: an invocation must still end before its
 * message can be delivered again.
 */
function functionTimeoutMs(deployed: DeployedFunction, timeScale: number): number {
  const scaled = deployed.timeoutSeconds * 1000 * timeScale;
  const visibility = deployed.ingestQueue.visibilityTimeoutSeconds * 1000 * timeScale;
  return Math.min(Math.max(scaled, LAMBDA_MIN_TIMEOUT_MS), visibility);
}

function synthesize(stageName: string, outdir: string): DeployedFunction {
  try {
    return synthesizeDeployedFunction({ stageName, outdir });
  } catch (error) {
    throw new LocalEnvironmentError(`could not synthesize stage "${stageName}": ${(error as Error).message}`);
  }
}

/** Variables the Lambda service sets in every execution environment of this function. */
function lambdaRuntimeEnvironment(
  deployed: DeployedFunction,
  functionName: string,
  region: string,
): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${deployed.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memoryMiB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'local',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    ...(deployed.logFormat === 'JSON' && { AWS_LAMBDA_LOG_FORMAT: 'JSON' }),
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
  };
}

/** Creates the directory if needed and proves it can be read and written, with a message that says what is wrong. */
async function usableDataDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info && !info.isDirectory())
      throw new LocalEnvironmentError(`data dir ${path} exists but is not a directory`);
    await mkdir(path, { recursive: true });
    await access(path, constants.R_OK | constants.W_OK | constants.X_OK);
    const probe = join(path, '.write-probe');
    await writeFile(probe, '');
    await rm(probe);
    return path;
  } catch (error) {
    if (error instanceof LocalEnvironmentError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new LocalEnvironmentError(
      `data dir ${path} is not usable (${code ?? (error as Error).message}): it must be a directory this user can read and write`,
    );
  }
}

async function startServers(
  options: LocalEnvironmentOptions,
  region: string,
  dataDir: string | undefined,
): Promise<LocalAws> {
  try {
    return await startLocalAws({
      host: options.host ?? '127.0.0.1',
      s3Port: options.s3Port ?? 0,
      dynamodbPort: options.dynamodbPort ?? 0,
      // Without a data dir: a temporary directory for objects and an in-memory table, gone on close.
      ...(dataDir !== undefined && { dataDir }),
      region,
    });
  } catch (error) {
    const e = error as Partial<ListenError>;
    if (e.port !== undefined && e.service !== undefined) throw portError(e as ListenError, e.port, e.service);
    throw error;
  }
}

const PORT_FLAGS: Record<string, string> = {
  S3: '--s3-port',
  DynamoDB: '--dynamodb-port',
  'tool API': '--api-port',
};

function portError(error: NodeJS.ErrnoException, port: number, service: string): Error {
  if (error.code === 'EADDRINUSE') {
    const flag = PORT_FLAGS[service] ?? '--help';
    return new LocalEnvironmentError(
      `port ${port} (${service}) is already in use (another \`npm start\`?); stop it or choose another port with ${flag}`,
    );
  }
  if (error.code === 'EACCES') {
    return new LocalEnvironmentError(
      `not allowed to listen on port ${port} (${service}); choose a port above 1023`,
    );
  }
  return error;
}

/**
 * Fails fast on a busy port before the synth runs. startLocalAws reports one too, but only after the synth; the
 * check here has a race with other processes, which that later error covers.
 */
async function assertPortsFree(options: LocalEnvironmentOptions): Promise<void> {
  for (const [port, service] of [
    [options.s3Port ?? 0, 'S3'],
    [options.dynamodbPort ?? 0, 'DynamoDB'],
    [options.apiPort ?? 0, 'tool API'],
  ] as const) {
    if (port !== 0) await assertPortFree(options.host ?? '127.0.0.1', port, service);
  }
}

async function assertPortFree(host: string, port: number, service: string): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => reject(portError(error, port, service)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    // A persisted data directory already has it.
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}

/** Creates the table with the stack's key schema, or checks that a persisted one has that schema. */
async function ensureTable(
  dynamodb: DynamoDBClient,
  table: string,
  deployed: DeployedFunction,
): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({ TableName: table, ...deployed.tableKeys, BillingMode: 'PAY_PER_REQUEST' }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
    const schema = JSON.stringify(Table?.KeySchema);
    if (schema !== JSON.stringify(deployed.tableKeys.KeySchema)) {
      throw new LocalEnvironmentError(
        `table ${table} in the data dir has key schema ${schema}, not the stack's ${JSON.stringify(deployed.tableKeys.KeySchema)}; use another --data-dir`,
      );
    }
  }
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: 30, minDelay: 0.02, maxDelay: 0.5 },
    { TableName: table },
  );
}

/** Writes what the queue still held, for the next start on this data directory; returns the file. */
async function keepQueue(
  file: string,
  undelivered: ReadonlyArray<{ readonly body: string }>,
  deadLetters: readonly DeadLetter[],
): Promise<string | undefined> {
  if (undelivered.length === 0 && deadLetters.length === 0) {
    await rm(file, { force: true });
    return undefined;
  }
  const content: QueueFile = { version: 1, undelivered: undelivered.map((m) => m.body), deadLetters };
  await writeFile(`${file}.tmp`, JSON.stringify(content));
  await rename(`${file}.tmp`, file);
  return file;
}

/** Puts back what the last stop kept: undelivered messages are sent again, dead letters stay dead letters. */
async function restoreQueue(
  queue: LocalQueue,
  file: string,
): Promise<{ undelivered: number; deadLetters: number } | undefined> {
  let kept: QueueFile;
  try {
    kept = JSON.parse(await readFile(file, 'utf8')) as QueueFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalEnvironmentError(
      `${file} is unreadable (${(error as Error).message}); remove it to start with an empty queue`,
    );
  }
  for (const letter of kept.deadLetters ?? []) queue.restoreDeadLetter(letter);
  for (const body of kept.undelivered ?? []) queue.enqueue(body);
  await rm(file, { force: true });
  return { undelivered: kept.undelivered?.length ?? 0, deadLetters: kept.deadLetters?.length ?? 0 };
}

/**
 * The processor's last error per message id, read from its JSON log lines (Powertools logs an Error as
 * `{ name, message, ... }` under `error`): the cause of a batch item failure, which the queue sees only as a
 * message id in the partial batch response. Bounded: the oldest entries go first.
 */
class FailureCauses {
  private readonly causes = new Map<string, string>();

  addLine(line: string): void {
    if (!line.includes('"ERROR"') || !line.includes('"messageId"')) return;
    let entry: {
      level?: unknown;
      messageId?: unknown;
      message?: unknown;
      error?: { name?: unknown; message?: unknown };
    };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.level !== 'ERROR' || typeof entry.messageId !== 'string') return;
    const cause =
      entry.error && typeof entry.error.name === 'string'
        ? `${entry.error.name}: ${String(entry.error.message ?? '')}`
        : String(entry.message ?? '');
    this.causes.delete(entry.messageId);
    this.causes.set(entry.messageId, cause.replace(/\s+/g, ' ').slice(0, 300));
    if (this.causes.size > 10_000) this.causes.delete(this.causes.keys().next().value as string);
  }

  of(messageId: string): string | undefined {
    return this.causes.get(messageId);
  }
}
