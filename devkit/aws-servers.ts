/**
 * Local, offline stand-ins for S3 and DynamoDB: s3rver and dynalite, both real HTTP implementations of the AWS
 * APIs, started in-process on loopback. Used by the processor's handler tests, the local environment
 * (`npm start`), and the reliability and benchmark tools. Any AWS SDK client works against them given the
 * endpoints, path-style S3 addressing and `LOCAL_AWS_CREDENTIALS`.
 *
 * ```ts
 * const aws = await startLocalAws();                        // ephemeral ports, in-memory / temporary data
 * await createBucket(aws.s3Endpoint, 'uploads');
 * await createObjectTable(aws.dynamodbEndpoint, 'objects');
 * const s3 = new S3Client(s3ClientConfig(aws));
 * aws.s3rver.on('event', (e) => ...);                       // S3-shaped notifications (keys NOT URL-encoded)
 * await aws.close();
 * ```
 */

import type { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { abandoningHungRequests, type HttpTimeouts } from '../services/processor/src/clients.ts';
import { acceptAnyCredentials, correctCopySource, serveConsistentObjects } from './s3rver-internals.ts';

// Both are CommonJS without type declarations; these are the parts used here.
interface S3rverOptions {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  allowMismatchedSignatures: boolean;
}
interface S3rverServer extends EventEmitter {
  /** The request handler; served from our own HTTP server (see `listenOn`). */
  callback(): RequestListener;
  close(): Promise<void>;
  httpServer?: Server;
}
interface DynaliteOptions {
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
  path?: string;
}
const requireCjs = createRequire(import.meta.url);
const S3rver = requireCjs('s3rver') as new (options: S3rverOptions) => S3rverServer;
const dynalite = requireCjs('dynalite') as (options: DynaliteOptions) => Server;

/**
 * What this project's own clients send to the emulators. Both accept any well-formed credentials (s3rver through
 * `acceptAnyCredentials`, dynalite by design), as local AWS stand-ins conventionally do. Not secrets.
 */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface LocalAwsOptions {
  /** Interface to listen on. @default '127.0.0.1' (loopback only) */
  readonly host?: string;
  /** S3 port; 0 picks a free one. @default 0 */
  readonly s3Port?: number;
  /** DynamoDB port; 0 picks a free one. @default 0 */
  readonly dynamodbPort?: number;
  /** Directory that keeps data across restarts (`s3/` and `dynamodb/` inside). @default a temporary directory for S3, removed on close, and in-memory DynamoDB */
  readonly dataDir?: string;
  /** Region the clients should use; the emulators accept any. @default 'us-east-1' */
  readonly region?: string;
}

export interface LocalAws {
  /** e.g. `http://127.0.0.1:43121`, with the real port. */
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  readonly region: string;
  /** The s3rver instance: emits 'event' (S3 notification format, keys not URL-encoded) on put, copy and delete. */
  readonly s3rver: EventEmitter;
  /** Stops both servers (open connections included) and removes temporary data. Safe to call twice. */
  close(): Promise<void>;
}

/** How long a dynalite table stays CREATING/DELETING/UPDATING: long enough to exercise waiters, short for tests. */
const TABLE_TRANSITION_MS = 10;

/** Starts s3rver and dynalite on loopback. Ports are ephemeral unless given; the result reports the real ones. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  const temporaryDir =
    options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'local-aws-')) : undefined;
  const s3Dir = join(options.dataDir ?? (temporaryDir as string), 's3');
  await mkdir(s3Dir, { recursive: true });
  acceptAnyCredentials();
  let dynamodbDir: string | undefined;
  if (options.dataDir !== undefined) {
    dynamodbDir = join(options.dataDir, 'dynamodb');
    await mkdir(dynamodbDir, { recursive: true });
  }

  const s3rver = new S3rver({
    address: host,
    port: options.s3Port ?? 0,
    directory: s3Dir,
    silent: true,
    // Path-style only: `http://127.0.0.1:port/bucket/key`, as the processor addresses a custom endpoint.
    vhostBuckets: false,
    // Any credentials are accepted (acceptAnyCredentials); a SigV2 signature cannot be checked without the secret.
    allowMismatchedSignatures: true,
  });
  // Beside the store, on the same file system, so that staged uploads are renamed into place.
  await serveConsistentObjects(s3rver, join(options.dataDir ?? (temporaryDir as string), 's3-staging'));
  const dynamodb = dynalite({
    createTableMs: TABLE_TRANSITION_MS,
    deleteTableMs: TABLE_TRANSITION_MS,
    updateTableMs: TABLE_TRANSITION_MS,
    ...(dynamodbDir !== undefined && { path: dynamodbDir }),
  });

  let s3Address: AddressInfo | undefined;
  let dynamodbAddress: AddressInfo | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([
      s3Address === undefined ? undefined : closeServer(s3rver.httpServer, () => s3rver.close()),
      dynamodbAddress === undefined
        ? undefined
        : closeServer(
            dynamodb,
            () => new Promise<void>((resolve, reject) => dynamodb.close((e) => (e ? reject(e) : resolve()))),
          ),
    ]);
    if (temporaryDir !== undefined) await rm(temporaryDir, { recursive: true, force: true });
  };

  try {
    // s3rver's own run() listens with a callback Node never passes errors to, so a busy port became an
    // unhandled 'error' event (a crash). Serving its handler from our server turns it into a rejection.
    const handle = s3rver.callback();
    const s3Server = createServer((req, res) => {
      correctCopySource(req.headers);
      handle(req, res);
    });
    s3Address = await listenOn(s3Server, options.s3Port ?? 0, host, 'S3');
    s3rver.httpServer = s3Server;
    dynamodbAddress = await listenOn(dynamodb, options.dynamodbPort ?? 0, host, 'DynamoDB');
  } catch (error) {
    await close();
    throw error;
  }

  return {
    s3Endpoint: endpointOf(host, s3Address.port),
    dynamodbEndpoint: endpointOf(host, dynamodbAddress.port),
    region,
    s3rver,
    close,
  };
}

/** A listen error that says which emulator and port it was about (`code` stays Node's, e.g. EADDRINUSE). */
export interface ListenError extends NodeJS.ErrnoException {
  readonly port: number;
  readonly service: 'S3' | 'DynamoDB';
}

/** Listens, rejecting on a listen error (busy or forbidden port) instead of leaving it unhandled. */
function listenOn(
  server: Server,
  port: number,
  host: string,
  service: ListenError['service'],
): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(Object.assign(error, { port, service }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Closes a server without waiting for clients' idle keep-alive connections to time out. */
async function closeServer(server: Server | undefined, close: () => Promise<void>): Promise<void> {
  const closing = close();
  server?.closeAllConnections();
  await closing;
}

const endpointOf = (host: string, port: number): string =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Per attempt, against the local servers: they answer in milliseconds, and in seconds on a loaded machine. An
 * attempt without a response after 10 s is hung (a connection the server dropped unseen) and is retried, so a test
 * or the local environment fails with a TimeoutError naming the limit, or recovers, instead of waiting forever.
 */
export const LOCAL_HTTP_TIMEOUTS: HttpTimeouts = { connectionMs: 5_000, requestMs: 10_000 };

/** S3 client configuration for the local server: endpoint, path-style addressing, region, local credentials. */
export function s3ClientConfig(
  aws: Pick<LocalAws, 's3Endpoint' | 'region'>,
  timeouts: HttpTimeouts = LOCAL_HTTP_TIMEOUTS,
): S3ClientConfig {
  return {
    endpoint: aws.s3Endpoint,
    forcePathStyle: true,
    region: aws.region,
    credentials: LOCAL_AWS_CREDENTIALS,
    requestHandler: abandoningHungRequests(timeouts),
  };
}

/** DynamoDB client configuration for the local server. */
export function dynamodbClientConfig(
  aws: Pick<LocalAws, 'dynamodbEndpoint' | 'region'>,
  timeouts: HttpTimeouts = LOCAL_HTTP_TIMEOUTS,
): DynamoDBClientConfig {
  return {
    endpoint: aws.dynamodbEndpoint,
    region: aws.region,
    credentials: LOCAL_AWS_CREDENTIALS,
    requestHandler: abandoningHungRequests(timeouts),
  };
}

/**
 * Environment for a process (such as the bundled handler in a worker) that should talk to the local servers
 * through the SDK's standard variables, exactly as the processor reads them.
 */
export function localAwsEnvironment(aws: Omit<LocalAws, 's3rver' | 'close'>): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
  };
}

/** Runs `use` with the given client, or with a temporary one for an endpoint, destroyed afterwards. */
async function withClient<C extends { destroy(): void }, T>(
  target: C | string,
  make: (endpoint: string) => C,
  use: (client: C) => Promise<T>,
): Promise<T> {
  if (typeof target !== 'string') return use(target);
  const client = make(target);
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

/** Creates a bucket, given a client or the local S3 endpoint. */
export async function createBucket(target: S3Client | string, name: string): Promise<void> {
  await withClient(
    target,
    (endpoint) => new S3Client(s3ClientConfig({ s3Endpoint: endpoint, region: 'us-east-1' })),
    (s3) => s3.send(new CreateBucketCommand({ Bucket: name })),
  );
}

/**
 * Creates the processor's object table with the stack's key schema (partition key `objectKey`, string; no sort
 * key) and on-demand billing, and waits until it is ACTIVE. Given a client or the local DynamoDB endpoint.
 */
export async function createObjectTable(target: DynamoDBClient | string, tableName: string): Promise<void> {
  await withClient(
    target,
    (endpoint) =>
      new DynamoDBClient(dynamodbClientConfig({ dynamodbEndpoint: endpoint, region: 'us-east-1' })),
    async (client) => {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          KeySchema: [{ AttributeName: 'objectKey', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'objectKey', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      // Throws if the table is not ACTIVE within maxWaitTime seconds.
      await waitUntilTableExists(
        { client, maxWaitTime: 30, minDelay: 0.02, maxDelay: 0.5 },
        { TableName: tableName },
      );
    },
  );
}
