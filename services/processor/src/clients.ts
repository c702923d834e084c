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
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { ProcessorConfig } from './config.ts';

export const S3_MAX_ATTEMPTS = 3;
export const DYNAMODB_MAX_ATTEMPTS = 5;

// Fail a stuck connection fast enough to be retried within the invocation.
const requestHandler = { connectionTimeout: 3_000, requestTimeout: 10_000 };

export interface Clients {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
}

export function createClients(config: Pick<ProcessorConfig, 's3Endpoint' | 'dynamodbEndpoint'>): Clients {
  return {
    s3: new S3Client({
      retryMode: 'standard',
      maxAttempts: S3_MAX_ATTEMPTS,
      requestHandler,
      // S3-compatible servers (s3rver, MinIO) on a local endpoint have no per-bucket DNS names.
      ...(config.s3Endpoint !== undefined && { endpoint: config.s3Endpoint, forcePathStyle: true }),
    }),
    dynamodb: new DynamoDBClient({
      retryMode: 'standard',
      maxAttempts: DYNAMODB_MAX_ATTEMPTS,
      requestHandler,
      ...(config.dynamodbEndpoint !== undefined && { endpoint: config.dynamodbEndpoint }),
    }),
  };
}
