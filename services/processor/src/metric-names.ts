/**
 * Names of the processor's EMF metrics (namespace `POWERTOOLS_METRICS_NAMESPACE`, dimension `service`). Kept free
 * of imports so that the stack's alarms and dashboards can use the same names without bundling the handler.
 */
/** Powertools service name and metrics namespace of the processor, shared by the stack, dashboards and tests. */
export const PROCESSOR_SERVICE_NAME = 's3-object-processor';
export const PROCESSOR_METRICS_NAMESPACE = 'S3ObjectProcessor';

export const PROCESSOR_METRICS = {
  /** Created objects recorded PROCESSED. */
  objectsProcessed: 'ObjectsProcessed',
  /** Created objects recorded REJECTED (too large, empty, wrong or disallowed type). */
  objectsRejected: 'ObjectsRejected',
  /** Keys recorded DELETED. */
  objectsDeleted: 'ObjectsDeleted',
  /** Duplicate or out-of-order events whose conditional write lost: the item already reflects a newer event. */
  staleEventsSkipped: 'StaleEventsSkipped',
  /** Events overtaken before they could be applied: the created object was already deleted or overwritten, or the deleted version is not the one on record. */
  eventsSuperseded: 'EventsSuperseded',
  /** Events that do not change an object's content (tagging, ACL, restore, transition, replication). */
  eventsIgnored: 'EventsIgnored',
  /** SQS messages reported as batch item failures (malformed, or a record failed after the SDK's retries). */
  messagesFailed: 'MessagesFailed',
  /** Milliseconds from the S3 eventTime to the end of processing, per object event. */
  processingLag: 'ProcessingLag',
} as const;
