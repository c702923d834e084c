/**
 * What a team would pick instead of a hand-built conditional write: Powertools batch for partial batch responses
 * and the Powertools idempotency utility over DynamoDB for "each message once", around the processor's own
 * object inspection and item write (the same modules the naive baseline calls). This is the documented pairing
 * (Powertools docs, idempotency "Batch integration"): the idempotency key is the SQS message id, the persistence
 * layer keeps its own record per key in a second table (`IDEMPOTENCY_TABLE_NAME`): one write to claim the key
 * before the work and one to mark it completed after. Default SDK clients; no logs or metrics (so it is favoured,
 * if anything, against the processor, which writes both).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadConfig } from '../../services/processor/src/config.ts';
import { processObjectEvent } from '../../services/processor/src/object-event-processor.ts';
import { ObjectRecordStore } from '../../services/processor/src/record-store.ts';
import { parseMessageBody } from '../../services/processor/src/s3-event.ts';

const config = loadConfig(process.env);
const s3 = new S3Client(config.s3Endpoint === undefined ? {} : { forcePathStyle: true });
const dynamodb = new DynamoDBClient({});
const deps = {
  s3,
  store: new ObjectRecordStore(dynamodb, config.tableName),
  limits: { maxObjectBytes: config.maxObjectBytes, allowedContentTypes: config.allowedContentTypes },
  now: () => new Date(),
};

const processor = new BatchProcessor(EventType.SQS);
const idempotencyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'messageId' });
const persistenceStore = new DynamoDBPersistenceLayer({
  tableName: process.env.IDEMPOTENCY_TABLE_NAME ?? 'idempotency',
  awsSdkV3Client: dynamodb,
});

const processRecord = makeIdempotent(
  async (message: SQSRecord): Promise<void> => {
    const parsed = parseMessageBody(message.body);
    if (parsed.kind === 'test-event') return;
    for (const objectEvent of parsed.events) await processObjectEvent(objectEvent, deps);
  },
  { persistenceStore, config: idempotencyConfig },
);

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  idempotencyConfig.registerLambdaContext(context);
  return processPartialResponse(event, processRecord, processor, { context });
}
