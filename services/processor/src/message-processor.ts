/**
 * Handles one SQS message: validate the body, skip S3 test events, apply each object event (bounded
 * concurrency), log one line per object and count the outcomes. Throwing marks the message as a batch item
 * failure: it returns to the queue and, after the queue's receive limit, goes to the DLQ.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSRecord } from 'aws-lambda';
import type { Limiter } from './concurrency.ts';
import { PROCESSOR_METRICS } from './metric-names.ts';
import {
  type ObjectEventDeps,
  type ObjectEventResult,
  processObjectEvent,
} from './object-event-processor.ts';
import { InvalidMessageError, type ObjectEvent, parseMessageBody } from './s3-event.ts';

export interface MessageDeps extends ObjectEventDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly limit: Limiter;
}

/** A message some of whose object events failed; each failure (with its cause) was logged where it happened. */
export class MessageProcessingError extends Error {
  readonly errors: readonly unknown[];
  constructor(messageId: string, errors: readonly unknown[]) {
    super(
      `${errors.length} object event(s) of message ${messageId} failed: ${errors.map((e) => (e as Error).message).join('; ')}`,
      { cause: errors[0] },
    );
    this.name = 'MessageProcessingError';
    this.errors = errors;
  }
}

const BODY_PREVIEW_CHARS = 500;

export async function processMessage(message: SQSRecord, deps: MessageDeps): Promise<void> {
  const { logger, metrics } = deps;
  let parsed: ReturnType<typeof parseMessageBody>;
  try {
    parsed = parseMessageBody(message.body);
  } catch (error) {
    if (!(error instanceof InvalidMessageError)) throw error;
    logger.error(
      'Malformed message: not a valid S3 event notification; it will be retried, then dead-lettered',
      {
        messageId: message.messageId,
        problems: error.problems,
        receiveCount: message.attributes.ApproximateReceiveCount,
        bodyPreview: message.body.slice(0, BODY_PREVIEW_CHARS),
      },
    );
    metrics.addMetric(PROCESSOR_METRICS.messagesFailed, MetricUnit.Count, 1);
    throw error;
  }

  if (parsed.kind === 'test-event') {
    logger.info('Skipped s3:TestEvent', { messageId: message.messageId, bucket: parsed.bucket });
    return;
  }

  const settled = await Promise.allSettled(
    parsed.events.map((event) => deps.limit(() => processAndReport(event, message, deps))),
  );
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
  if (errors.length > 0) {
    metrics.addMetric(PROCESSOR_METRICS.messagesFailed, MetricUnit.Count, 1);
    throw new MessageProcessingError(message.messageId, errors);
  }
}

/**
 * The keys every log line about one object carries. Passed with each line rather than through a child logger:
 * `Logger.createChild` builds a whole Logger (configuration, environment reads) per object, which cost more CPU
 * than the line itself (see `npm run bench`, the log line row).
 */
type ObjectLogKeys = Readonly<Record<string, string | undefined>>;

function objectLogKeys(event: ObjectEvent, message: SQSRecord): ObjectLogKeys {
  return {
    bucket: event.bucket,
    key: event.key,
    versionId: event.versionId,
    sequencer: event.sequencer,
    eventName: event.eventName,
    eventTime: event.eventTime,
    messageId: message.messageId,
    s3RequestId: event.s3RequestId,
  };
}

async function processAndReport(event: ObjectEvent, message: SQSRecord, deps: MessageDeps): Promise<void> {
  let result: ObjectEventResult;
  try {
    result = await processObjectEvent(event, deps);
  } catch (error) {
    deps.logger.error('Object event failed; the message will be retried', {
      ...objectLogKeys(event, message),
      error,
    });
    throw error;
  }
  record(result, event, deps, objectLogKeys(event, message));
}

function record(result: ObjectEventResult, event: ObjectEvent, deps: MessageDeps, keys: ObjectLogKeys): void {
  const { metrics, logger: log } = deps;
  if (result.outcome === 'ignored') {
    log.debug('Ignored event type: it does not change the object content', keys);
    metrics.addMetric(PROCESSOR_METRICS.eventsIgnored, MetricUnit.Count, 1);
    return;
  }
  const lagMs = Math.max(0, deps.now().getTime() - Date.parse(event.eventTime));
  metrics.addMetric(PROCESSOR_METRICS.processingLag, MetricUnit.Milliseconds, lagMs);
  switch (result.outcome) {
    case 'written': {
      const metric =
        result.status === 'PROCESSED'
          ? PROCESSOR_METRICS.objectsProcessed
          : result.status === 'REJECTED'
            ? PROCESSOR_METRICS.objectsRejected
            : PROCESSOR_METRICS.objectsDeleted;
      metrics.addMetric(metric, MetricUnit.Count, 1);
      log.info(`Object ${result.status}`, {
        ...keys,
        status: result.status,
        contentType: result.contentType,
        reasonCode: result.rejection?.code,
        reason: result.rejection?.message,
        lagMs,
      });
      return;
    }
    case 'stale':
      metrics.addMetric(PROCESSOR_METRICS.staleEventsSkipped, MetricUnit.Count, 1);
      log.info('Skipped stale or duplicate event: the item already reflects a newer one', {
        ...keys,
        current: result.current,
        lagMs,
      });
      return;
    case 'superseded':
      metrics.addMetric(PROCESSOR_METRICS.eventsSuperseded, MetricUnit.Count, 1);
      log.info('Skipped superseded event', { ...keys, why: result.why, lagMs });
      return;
  }
}
