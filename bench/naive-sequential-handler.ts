/**
 * The baseline the processor's batch latency is compared with: one record after another, as a first version of
 * such a handler typically loops over `event.Records` with `await` inside. Everything else is the processor's own
 * code (configuration, clients, event parsing, the per-object ranged GetObject and conditional write), so the two
 * make exactly the same AWS calls and the comparison measures the processing order alone. It is favoured, if
 * anything: it writes no logs and no metrics.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createClients } from '../services/processor/src/clients.ts';
import { loadConfig } from '../services/processor/src/config.ts';
import { processObjectEvent } from '../services/processor/src/object-event-processor.ts';
import { ObjectRecordStore } from '../services/processor/src/record-store.ts';
import { parseMessageBody } from '../services/processor/src/s3-event.ts';

const config = loadConfig(process.env);
const { s3, dynamodb } = createClients(config);
const deps = {
  s3,
  store: new ObjectRecordStore(dynamodb, config.tableName),
  limits: { maxObjectBytes: config.maxObjectBytes, allowedContentTypes: config.allowedContentTypes },
  now: () => new Date(),
};

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const message of event.Records) {
    try {
      const parsed = parseMessageBody(message.body);
      if (parsed.kind === 'test-event') continue;
      for (const objectEvent of parsed.events) await processObjectEvent(objectEvent, deps);
    } catch {
      batchItemFailures.push({ itemIdentifier: message.messageId });
    }
  }
  return { batchItemFailures };
}
