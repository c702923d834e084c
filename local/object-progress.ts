import type { SQSRecord } from 'aws-lambda';
import type { BatchEnd, DeadLetter, LocalQueue } from '../devkit/queue.ts';
import { PROCESSOR_METRICS } from '../services/processor/src/metric-names.ts';
import { decodeS3Key } from '../services/processor/src/s3-key.ts';

/**
 * What `npm start` tells a person about each object: one line per object once its message is done (key, outcome,
 * latency since the S3 event), one per retry and dead letter, and the totals at exit. Outcomes are read back from
 * the table, so a line says what the processor really recorded, not what the local environment expected.
 */

/** The fields of a table item this module reads. */
export interface ItemSummary {
  readonly status: string;
  readonly sequencer?: string;
  readonly reasonCode?: string;
  readonly contentType?: string;
}

export interface ProgressTotals {
  readonly processed: number;
  readonly rejected: number;
  readonly deleted: number;
  /** Events reported before (a redelivery): DUPLICATE lines. */
  readonly duplicates: number;
  /**
   * Events whose key's item holds a newer event: SKIPPED lines. The processor skipped them either as stale (its
   * conditional write lost: StaleEventsSkipped) or as superseded (the object changed or went before it was read:
   * EventsSuperseded); the item cannot tell which, the summary's metric counts can.
   */
  readonly skipped: number;
  /** Events after which the key has no item (superseded before anything was recorded, or the item was removed). */
  readonly noItem: number;
  /** Deliveries that failed and wait for the visibility timeout. */
  readonly retries: number;
  readonly deadLettered: number;
  /** Messages that were not S3 notifications the processor could read. */
  readonly malformed: number;
}

export interface ObjectProgressOptions {
  readonly queue: LocalQueue;
  /** Reads the item of a key (GetItem, consistent). */
  readonly readItem: (objectKey: string) => Promise<ItemSummary | undefined>;
  /** Receives each human-readable line. */
  readonly log: (line: string) => void;
  /**
   * The processor's own account of why a message failed (its last error log line naming the message), for a
   * failure the queue only knows as "reported as a batch item failure". @default none
   */
  readonly failureCause?: (messageId: string) => string | undefined;
  readonly now?: () => number;
}

interface NotificationEntry {
  readonly key: string;
  readonly eventName: string;
  readonly eventTime: string;
  readonly sequencer?: string;
}

type ParsedBody =
  | { readonly kind: 'test-event' }
  | { readonly kind: 'notification'; readonly entries: readonly NotificationEntry[] }
  | { readonly kind: 'malformed'; readonly why: string };

/** How the queue records a message the function reported in its partial batch response. */
const ITEM_FAILURE = 'reported as a batch item failure';

export class ObjectProgress {
  private readonly options: ObjectProgressOptions;
  private readonly now: () => number;
  private readonly batches = new Map<number, readonly SQSRecord[]>();
  /** `key sequencer` of events already reported, to tell a redelivery from the first delivery. */
  private readonly reported = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private totals = {
    processed: 0,
    rejected: 0,
    deleted: 0,
    duplicates: 0,
    skipped: 0,
    noItem: 0,
    retries: 0,
    deadLettered: 0,
    malformed: 0,
  };

  constructor(options: ObjectProgressOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    options.queue.on('batch-start', ({ batchId, records }) => this.batches.set(batchId, records));
    options.queue.on('batch-end', (end) => this.onBatchEnd(end));
    options.queue.on('dead-lettered', (letter) => this.onDeadLetter(letter));
  }

  totalsSoFar(): ProgressTotals {
    return { ...this.totals };
  }

  /** Waits for the item reads still running, so the totals are final. */
  async flush(): Promise<ProgressTotals> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    return this.totalsSoFar();
  }

  private onBatchEnd(end: BatchEnd): void {
    const records = this.batches.get(end.batchId) ?? [];
    this.batches.delete(end.batchId);
    const failed = new Set(end.failed);
    for (const record of records) {
      const body = parseBody(record.body);
      if (body.kind === 'test-event') continue;
      if (failed.has(record.messageId)) {
        this.totals.retries++;
        const receive = record.attributes.ApproximateReceiveCount;
        const why = end.error ?? this.itemFailure(record.messageId);
        const what = body.kind === 'malformed' ? [`message ${record.messageId}`] : keysOf(body);
        for (const subject of what) this.options.log(`RETRY        ${subject}  (receive ${receive}) ${why}`);
        continue;
      }
      if (body.kind === 'malformed') {
        // Acknowledged without a failure: the processor accepted it; say so, it would be a processor bug.
        this.totals.malformed++;
        this.options.log(
          `ACKNOWLEDGED message ${record.messageId} that is not an S3 notification (${body.why})`,
        );
        continue;
      }
      for (const entry of body.entries) this.track(this.report(entry));
    }
  }

  private onDeadLetter(letter: DeadLetter): void {
    this.totals.deadLettered++;
    const body = parseBody(letter.body);
    const what = body.kind === 'malformed' ? `message ${letter.messageId}` : keysOf(body).join(', ');
    const cause =
      letter.lastFailure === ITEM_FAILURE ? this.itemFailure(letter.messageId) : letter.lastFailure;
    this.options.log(`DEAD-LETTER  ${what} after ${letter.receiveCount} receives: ${cause}`);
  }

  private itemFailure(messageId: string): string {
    const cause = this.options.failureCause?.(messageId);
    return cause ? `${ITEM_FAILURE}: ${cause}` : ITEM_FAILURE;
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async report(entry: NotificationEntry): Promise<void> {
    const latencyMs = Math.max(0, this.now() - Date.parse(entry.eventTime));
    let item: ItemSummary | undefined;
    try {
      item = await this.options.readItem(entry.key);
    } catch (error) {
      this.options.log(`?            ${entry.key}  could not read its item: ${String(error)}`);
      return;
    }
    const identity = `${entry.key} ${entry.sequencer ?? entry.eventTime}`;
    const firstReport = !this.reported.has(identity);
    this.reported.add(identity);
    const newer =
      item?.sequencer !== undefined &&
      entry.sequencer !== undefined &&
      hexValue(item.sequencer) > hexValue(entry.sequencer);
    let status: string;
    let detail = '';
    if (!item) {
      this.totals.noItem++;
      status = 'NO-ITEM';
      detail = 'nothing recorded for the key (the object changed or went before it was read?)';
    } else if (newer) {
      this.totals.skipped++;
      status = 'SKIPPED';
      detail = 'a newer event for the key is recorded';
    } else if (!firstReport) {
      this.totals.duplicates++;
      status = 'DUPLICATE';
    } else if (item.status === 'PROCESSED') {
      this.totals.processed++;
      status = 'PROCESSED';
      detail = item.contentType ?? '';
    } else if (item.status === 'REJECTED') {
      this.totals.rejected++;
      status = 'REJECTED';
      detail = item.reasonCode ?? '';
    } else if (item.status === 'DELETED') {
      this.totals.deleted++;
      status = 'DELETED';
    } else {
      status = item.status;
    }
    this.options.log(`${status.padEnd(12)} ${entry.key}  ${latencyMs} ms${detail ? `  ${detail}` : ''}`);
  }
}

function hexValue(sequencer: string): bigint {
  try {
    return BigInt(`0x${sequencer}`);
  } catch {
    return -1n;
  }
}

function keysOf(body: ParsedBody): string[] {
  return body.kind === 'notification' ? body.entries.map((e) => e.key) : [];
}

/** Reads a message body as S3 writes it; only what progress reporting needs, leniently. */
export function parseBody(body: string): ParsedBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'malformed', why: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { kind: 'malformed', why: 'not an object' };
  if ((parsed as { Event?: unknown }).Event === 's3:TestEvent') return { kind: 'test-event' };
  const records = (parsed as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return { kind: 'malformed', why: 'no Records' };
  const entries: NotificationEntry[] = [];
  for (const r of records as Array<Record<string, unknown>>) {
    const s3 = r?.s3 as { object?: { key?: unknown; sequencer?: unknown } } | undefined;
    const key = s3?.object?.key;
    if (typeof key !== 'string') return { kind: 'malformed', why: 'a record has no s3.object.key' };
    let decoded: string;
    try {
      decoded = decodeS3Key(key);
    } catch {
      return { kind: 'malformed', why: `key ${JSON.stringify(key)} is not URL-encoded` };
    }
    const sequencer = s3?.object?.sequencer;
    entries.push({
      key: decoded,
      eventName: String(r.eventName ?? ''),
      eventTime: String(r.eventTime ?? ''),
      ...(typeof sequencer === 'string' ? { sequencer } : {}),
    });
  }
  return { kind: 'notification', entries };
}

/** The processor's outcome counters, named as its metrics are (services/processor/src/metric-names.ts). */
export type ProcessorMetricName = (typeof PROCESSOR_METRICS)[keyof typeof PROCESSOR_METRICS];

/** The counters the summary shows, in this order. */
export const SUMMARY_METRICS = [
  PROCESSOR_METRICS.objectsProcessed,
  PROCESSOR_METRICS.objectsRejected,
  PROCESSOR_METRICS.objectsDeleted,
  PROCESSOR_METRICS.staleEventsSkipped,
  PROCESSOR_METRICS.eventsSuperseded,
  PROCESSOR_METRICS.eventsIgnored,
  PROCESSOR_METRICS.messagesFailed,
] as const;

/**
 * Sums the processor's own counters from the EMF lines it writes (what CloudWatch turns into its metrics), so the
 * summary counts what the processor counted: a stale or duplicate event (StaleEventsSkipped) and one overtaken by
 * a newer write before it could be applied (EventsSuperseded) are told apart as on the dashboard.
 */
export class ProcessorMetricTotals {
  private readonly totals = new Map<string, number>();

  /** Reads one line of the function's output; lines that are not EMF are ignored. */
  addLine(line: string): void {
    if (!line.includes('"_aws"')) return;
    let blob: Record<string, unknown>;
    try {
      blob = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const directives = (blob._aws as { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name?: string }> }> })
      ?.CloudWatchMetrics;
    for (const directive of directives ?? []) {
      for (const { Name } of directive.Metrics ?? []) {
        if (typeof Name !== 'string') continue;
        const value = blob[Name];
        const values = Array.isArray(value) ? value : [value];
        const sum = values.reduce((n: number, v) => n + (typeof v === 'number' ? v : 0), 0);
        this.totals.set(Name, (this.totals.get(Name) ?? 0) + sum);
      }
    }
  }

  get(name: ProcessorMetricName): number {
    return this.totals.get(name) ?? 0;
  }

  /** `ObjectsProcessed 1, ObjectsRejected 0, ...` */
  format(): string {
    return SUMMARY_METRICS.map((name) => `${name} ${this.get(name)}`).join(', ');
  }
}
