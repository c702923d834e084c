/**
 * Builds the Lambda handler from its dependencies. `handler.ts` wires the real ones at cold start; tests pass
 * their own (clients pointed at local servers, a pinned clock) without touching the environment.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLimiter } from './concurrency.ts';
import type { ProcessorConfig } from './config.ts';
import { processMessage } from './message-processor.ts';
import { ObjectRecordStore } from './record-store.ts';

export interface ProcessorDeps {
  readonly config: Pick<
    ProcessorConfig,
    'tableName' | 'maxObjectBytes' | 'allowedContentTypes' | 'processingConcurrency'
  >;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createHandler(deps: ProcessorDeps): SqsHandler {
  const { config, logger, metrics } = deps;
  const store = new ObjectRecordStore(deps.dynamodb, config.tableName);
  const limits = { maxObjectBytes: config.maxObjectBytes, allowedContentTypes: config.allowedContentTypes };
  const now = deps.now ?? (() => new Date());
  // Reusable across invocations: Powertools keeps per-invocation state in its own store.
  const batch = new BatchProcessor(EventType.SQS);

  return async (event, context) => {
    logger.addContext(context);
    metrics.captureColdStartMetric(context.functionName);
    // One bound per invocation, shared by every message of the batch (Powertools runs them all at once).
    const limit = createLimiter(config.processingConcurrency);
    const messageDeps = { s3: deps.s3, store, limits, now, logger, metrics, limit };
    try {
      // Throws FullBatchFailureError when every message failed: an invocation error makes Lambda back off
      // polling, which is what a full outage (throttling exhausted, table missing) calls for.
      return await processPartialResponse(event, (m: SQSRecord) => processMessage(m, messageDeps), batch, {
        context,
        processInParallel: true,
      });
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
