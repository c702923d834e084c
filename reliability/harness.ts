/**
 * The reliability suites' environment: the local environment's parts (s3rver + dynalite, the S3 notification
 * emulator, the SQS/event-source queue, the deployed bundle in Lambda-like worker processes), composed with a
 * fault-injecting proxy between the processor and each of S3 and DynamoDB. Uploads and the tests' own reads go
 * to the servers directly, so only the processor's calls see faults.
 *
 * It is composed here rather than taken from `startLocalEnvironment` because the processor must talk to the
 * proxies, and because fault tests choose their own queue timings (a 2 s visibility timeout instead of 181 s).
 * Everything else is the stage's as synthesized: bundle, handler, environment, batch size, concurrency, receive
 * limit.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type AwsFaultRule, type AwsProxy, startAwsProxy } from '../devkit/aws-proxy.ts';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
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
import { LocalLambda } from '../devkit/local-lambda.ts';
import { type BatchEnd, type DeadLetter, LocalQueue } from '../devkit/queue.ts';
import { S3NotificationEmulator } from '../devkit/s3-notifications.ts';

/** A synthesized stage, built once per test file and shared by its environments. */
export interface SynthesizedProcessor {
  readonly deployed: DeployedFunction;
  /** Removes the cloud assembly. */
  dispose(): Promise<void>;
}

/** Synthesizes `stage` (bundle included) into a temporary cloud assembly. */
export async function synthesizeProcessor(stage = 'dev'): Promise<SynthesizedProcessor> {
  const outdir = await mkdtemp(join(tmpdir(), 'reliability-cdk-out-'));
  try {
    const deployed = synthesizeDeployedFunction({ stageName: stage, outdir });
    return { deployed, dispose: () => rm(outdir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(outdir, { recursive: true, force: true });
    throw error;
  }
}

export interface ReliabilityEnvOptions {
  readonly processor: SynthesizedProcessor;
  /** Faults the processor's DynamoDB calls meet. @default none */
  readonly dynamodbFaults?: readonly AwsFaultRule[];
  /** Faults the processor's S3 calls meet. @default none */
  readonly s3Faults?: readonly AwsFaultRule[];
  /** Seed of the proxies' fault decisions. @default 1 */
  readonly seed?: number;
  /** Latency the DynamoDB proxy adds to every request, in ms. @default 0 */
  readonly dynamodbLatencyMs?: number;
  /** Queue visibility timeout in ms. @default the stage's (long enough never to expire in a test) */
  readonly visibilityTimeoutMs?: number;
  /** Function timeout in ms. @default the stage's */
  readonly functionTimeoutMs?: number;
  /** Batching window in ms. @default 50 (the stage's 1 s window only slows tests down) */
  readonly batchingWindowMs?: number;
  /**
   * What S3 notifications do on their way to the queue: `enqueue` sends one message. The default sends each
   * notification once; tests duplicate, hold back or reorder them here.
   */
  readonly deliver?: (body: string, enqueue: (body: string) => string) => void;
}

/** One item of the table, attribute values flattened (S and N as strings). */
export type Item = Readonly<Record<string, string>>;

export interface ReliabilityEnv {
  readonly bucket: string;
  readonly table: string;
  readonly deployed: DeployedFunction;
  /** Direct clients (no proxy, no faults) for the tests' uploads and checks. */
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly s3Proxy: AwsProxy;
  readonly dynamodbProxy: AwsProxy;
  readonly queue: LocalQueue;
  readonly lambda: LocalLambda;
  /** Every line the processor wrote (its JSON logs, EMF metrics), in order. */
  readonly processorLogs: string[];
  /** Every batch result, in order of completion. */
  readonly batchEnds: BatchEnd[];
  /** Message ids that became visible again after a failure or an expired visibility timeout. */
  readonly redelivered: string[];
  /** Enqueues a message as SendMessage would (bypassing `deliver`); returns its id. */
  send(body: string): string;
  /** Uploads an object; resolves when S3 has stored it (its notification is then already on its way). */
  upload(key: string, body: Uint8Array | string, contentType?: string): Promise<{ eTag: string }>;
  /** Every item of the table, by objectKey (consistent scan). */
  items(): Promise<Map<string, Item>>;
  /** The object's current ETag (unquoted), or undefined when it does not exist. */
  currentETag(key: string): Promise<string | undefined>;
  /** Resolves when every message was deleted or dead-lettered; fails after `timeoutMs`. */
  drained(timeoutMs: number): Promise<void>;
  /** The processor's JSON log lines, parsed (non-JSON lines are skipped). */
  logRecords(): Array<Record<string, unknown>>;
  deadLetters(): readonly DeadLetter[];
  close(): Promise<void>;
}

/** Runs `use` in a fresh environment and closes it afterwards, also when `use` throws (a failed assertion). */
export async function withReliabilityEnv(
  options: ReliabilityEnvOptions,
  use: (env: ReliabilityEnv) => Promise<void>,
): Promise<void> {
  const env = await startReliabilityEnv(options);
  try {
    await use(env);
  } finally {
    await env.close();
  }
}

const BUCKET = 'reliability-objects';
const TABLE = 'reliability-objects-table';

/** Starts servers, proxies, the worker pool, the queue and the notification path. */
export async function startReliabilityEnv(options: ReliabilityEnvOptions): Promise<ReliabilityEnv> {
  const { deployed } = options.processor;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
  };
  try {
    const aws: LocalAws = await startLocalAws({ region: deployed.stage.region });
    cleanups.push(() => aws.close());
    const s3 = new S3Client({ ...s3ClientConfig(aws), maxAttempts: 5 });
    const dynamodb = new DynamoDBClient({ ...dynamodbClientConfig(aws), maxAttempts: 5 });
    cleanups.push(() => {
      s3.destroy();
      dynamodb.destroy();
    });
    await createBucket(s3, BUCKET);
    await createObjectTable(dynamodb, TABLE);

    const seed = options.seed ?? 1;
    const s3Proxy = await startAwsProxy({
      service: 's3',
      upstream: aws.s3Endpoint,
      faults: options.s3Faults ?? [],
      seed,
    });
    cleanups.push(() => s3Proxy.stop());
    const dynamodbProxy = await startAwsProxy({
      service: 'dynamodb',
      upstream: aws.dynamodbEndpoint,
      faults: options.dynamodbFaults ?? [],
      latencyMs: options.dynamodbLatencyMs ?? 0,
      seed,
      // Keyed by object, not by body bytes (which hold processedAt): the same seed then faults the same writes.
      identity: (request) => objectKeyOf(request.body),
    });
    cleanups.push(() => dynamodbProxy.stop());

    const processorLogs: string[] = [];
    const functionName = `${deployed.stackName}-Function-reliability`;
    const lambda = await LocalLambda.start({
      taskRoot: deployed.assetDir,
      handler: deployed.handler,
      environment: {
        ...resolveEnvironment(deployed, { table: TABLE, bucket: BUCKET }),
        AWS_REGION: aws.region,
        AWS_DEFAULT_REGION: aws.region,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memoryMiB),
        AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: 'reliability',
        AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodbProxy.endpoint,
        TZ: ':UTC',
      },
      timeoutMs: options.functionTimeoutMs ?? deployed.timeoutSeconds * 1000,
      concurrency: deployed.eventSource.maxConcurrency,
      onLog: (line) => processorLogs.push(line),
    });
    cleanups.push(() => lambda.close());

    const queue = new LocalQueue({
      batchSize: deployed.eventSource.batchSize,
      batchingWindowMs: options.batchingWindowMs ?? 50,
      visibilityTimeoutMs:
        options.visibilityTimeoutMs ?? deployed.ingestQueue.visibilityTimeoutSeconds * 1000,
      maxReceiveCount: deployed.ingestQueue.maxReceiveCount,
      maxConcurrency: deployed.eventSource.maxConcurrency,
      reportBatchItemFailures: deployed.eventSource.reportBatchItemFailures,
      region: aws.region,
      invoke: async (records) => (await lambda.invoke({ Records: records })) as never,
    });
    cleanups.push(() => queue.close());
    const batchEnds: BatchEnd[] = [];
    const redelivered: string[] = [];
    queue.on('batch-end', (end) => batchEnds.push(end));
    queue.on('visible-again', ({ messageId }) => redelivered.push(messageId));

    const deliver = options.deliver ?? ((body, enqueue) => enqueue(body));
    const notifications = new S3NotificationEmulator({
      source: aws.s3rver,
      bucket: BUCKET,
      region: aws.region,
      send: (body) => deliver(body, (b) => queue.enqueue(b)),
      readObjectFacts: (bucket, key) => headObject(s3, bucket, key),
    });
    notifications.start();
    cleanups.push(() => notifications.stop());

    return {
      bucket: BUCKET,
      table: TABLE,
      deployed,
      s3,
      dynamodb,
      s3Proxy,
      dynamodbProxy,
      queue,
      lambda,
      processorLogs,
      batchEnds,
      redelivered,
      send: (body) => queue.enqueue(body),
      async upload(key, body, contentType) {
        const out = await s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key,
            Body: body,
            ...(contentType === undefined ? {} : { ContentType: contentType }),
          }),
        );
        return { eTag: (out.ETag ?? '').replaceAll('"', '') };
      },
      items: () => scanItems(dynamodb, TABLE),
      currentETag: async (key) => (await headObject(s3, BUCKET, key))?.eTag,
      drained: (timeoutMs) => drained(queue, timeoutMs),
      logRecords: () => parseJsonLines(processorLogs),
      deadLetters: () => queue.deadLetters(),
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

async function headObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ size: number; eTag: string } | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: head.ContentLength ?? 0, eTag: (head.ETag ?? '').replaceAll('"', '') };
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound') return undefined;
    throw error;
  }
}

function objectKeyOf(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      Item?: { objectKey?: { S?: string } };
      Key?: { objectKey?: { S?: string } };
    };
    return parsed.Item?.objectKey?.S ?? parsed.Key?.objectKey?.S ?? body.toString('base64');
  } catch {
    return body.toString('base64');
  }
}

async function scanItems(dynamodb: DynamoDBClient, table: string): Promise<Map<string, Item>> {
  const items = new Map<string, Item>();
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await dynamodb.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const raw of page.Items ?? []) {
      const item: Record<string, string> = {};
      for (const [name, value] of Object.entries(raw)) {
        const scalar = value.S ?? value.N;
        if (scalar !== undefined) item[name] = scalar;
      }
      if (item.objectKey !== undefined) items.set(item.objectKey, item);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

async function drained(queue: LocalQueue, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`queue not drained after ${timeoutMs} ms: ${JSON.stringify(queue.stats())}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([queue.idle(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function parseJsonLines(lines: readonly string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line that merely starts with '{' is not a log record.
    }
  }
  return out;
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
