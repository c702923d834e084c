/**
 * AWS SDK clients, created once per execution environment (module scope of the handler) and reused across
 * invocations, so that TCP/TLS connections and credentials are reused too.
 *
 * Retries are explicit rather than inherited from AWS_MAX_ATTEMPTS/AWS_RETRY_MODE, because the record-level
 * failure semantics depend on them. Mode 'standard' (the AWS SDKs reference guide's recommendation "for all
 * workloads"): exponential backoff with full jitter, a longer base for throttling errors (1 s in this SDK, 50 ms
 * otherwise) and a retry quota that stops retrying when most calls fail, so that an outage does not become a
 * retry storm. Not 'adaptive': the guide scopes it to "single-resource, throttling-heavy, latency-tolerant"
 * clients and it can delay first attempts; here one client serves every record of a batch, and SQS redelivery
 * is the outer retry. Attempts: DynamoDB 5 (on-demand tables throttle briefly while they scale; worst-case
 * throttling backoff 1+2+4+8 = 15 s), S3 3 (a ranged GET of an existing object rarely fails twice; worst case
 * 3 s). Together they stay inside the shortest function timeout (30 s).
 *
 * Beyond that, the clients skip SDK work this job does not need (each setting measured on its own by
 * `npm run bench`, "SDK settings" table; retries, timeouts and every request sent are unchanged):
 * - `cacheMiddleware`: resolve each command's middleware stack once per client instead of at every send. Safe
 *   because nothing here adds middleware to a single command;
 * - S3 checksums `WHEN_REQUIRED`: a ranged GET of a few KB gets no full-object checksum from S3 to validate, and
 *   nothing is uploaded, so the default (WHEN_SUPPORTED) only asks for a checksum mode and inspects every response.
 * Measured and left at their defaults (no measurable saving): DynamoDB's account-ID endpoint mode, a fixed
 * endpoint provider, more sockets per agent, S3 Express session auth.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { ProcessorConfig } from './config.ts';

export const S3_MAX_ATTEMPTS = 3;
export const DYNAMODB_MAX_ATTEMPTS = 5;

/** Per-attempt HTTP timeouts, in milliseconds. */
export interface HttpTimeouts {
  /** Establishing the TCP connection. */
  readonly connectionMs: number;
  /** From sending the request until the response's status and headers arrive (its body streams after). */
  readonly requestMs: number;
}

/**
 * A 4 KiB ranged GET or a single-item write answers in milliseconds; an attempt still pending after 3 s is stuck
 * (a dropped connection, a hung server) and is abandoned so the SDK retries it. Worst case, every attempt timing
 * out: S3 3 x 3 s + DynamoDB 5 x 3 s plus backoff, about 25 s, inside the shortest function timeout (30 s).
 */
export const HTTP_TIMEOUTS: HttpTimeouts = { connectionMs: 2_000, requestMs: 3_000 };

export interface Clients {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
}

/**
 * The SDK's request handler options for `timeouts`: an attempt that passes them fails with a TimeoutError, which
 * the SDK retries. Shared with every other SDK client in the repository (operator tools, the local environment,
 * the integration harness), none of which should wait forever on a hung connection either.
 */
export function abandoningHungRequests(timeouts: HttpTimeouts) {
  return {
    connectionTimeout: timeouts.connectionMs,
    requestTimeout: timeouts.requestMs,
    // Without this the SDK only logs a warning when requestTimeout passes, and the attempt hangs on.
    throwOnRequestTimeout: true,
  } as const;
}

export function createClients(
  config: Pick<ProcessorConfig, 's3Endpoint' | 'dynamodbEndpoint'>,
  timeouts: HttpTimeouts = HTTP_TIMEOUTS,
): Clients {
  const requestHandler = abandoningHungRequests(timeouts);
  return {
    s3: new S3Client({
      retryMode: 'standard',
      maxAttempts: S3_MAX_ATTEMPTS,
      requestHandler,
      cacheMiddleware: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // S3-compatible servers (s3rver, MinIO) on a local endpoint have no per-bucket DNS names.
      ...(config.s3Endpoint !== undefined && { endpoint: config.s3Endpoint, forcePathStyle: true }),
    }),
    dynamodb: new DynamoDBClient({
      retryMode: 'standard',
      maxAttempts: DYNAMODB_MAX_ATTEMPTS,
      requestHandler,
      cacheMiddleware: true,
      ...(config.dynamodbEndpoint !== undefined && { endpoint: config.dynamodbEndpoint }),
    }),
  };
}
