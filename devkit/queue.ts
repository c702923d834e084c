import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { type Clock, systemClock, type Timer } from './clock.ts';

/**
 * An SQS standard queue plus the Lambda event source mapping that polls it, in one process. It reproduces the
 * behaviour the processor relies on in AWS:
 * - a receive makes a message invisible for the visibility timeout and increments its receive count;
 * - the poller gathers up to `batchSize` messages, waiting at most the batching window after the first one
 *   (and never beyond Lambda's 6 MB invocation payload), then invokes the function;
 * - the function's partial batch response deletes every message except the reported failures; a thrown error, or a
 *   response naming a message that is not in the batch, fails the whole batch (as Lambda does);
 * - failed messages stay invisible until their visibility timeout expires, then are delivered again;
 * - a message received `maxReceiveCount` times that becomes visible again moves to the dead-letter store (SQS moves
 *   it on the next receive attempt; the poller is always receiving, so the two are the same moment);
 * - at most `maxConcurrency` batches are in flight (the event source mapping's maximum concurrency);
 * - deleting with a stale receipt handle does nothing, so an invocation that outlived the visibility timeout cannot
 *   delete the copy another invocation is working on.
 */

/** Settings of the queue and its event source mapping, in milliseconds. */
export interface LocalQueueOptions {
  /** Most messages per invocation (event source mapping BatchSize). */
  readonly batchSize: number;
  /** How long the poller keeps gathering after the first message (MaximumBatchingWindowInSeconds x 1000). */
  readonly batchingWindowMs: number;
  /** How long a received message stays invisible (queue VisibilityTimeout x 1000). */
  readonly visibilityTimeoutMs: number;
  /** Receives before a message moves to the dead-letter store (redrive policy maxReceiveCount). */
  readonly maxReceiveCount: number;
  /** Batches in flight at once (event source mapping ScalingConfig.MaximumConcurrency). */
  readonly maxConcurrency: number;
  /** Invokes the function with one batch. A rejection fails the whole batch. */
  readonly invoke: (records: SQSRecord[]) => Promise<SQSBatchResponse | undefined | null>;
  /**
   * Whether the mapping reads partial batch responses (FunctionResponseTypes ReportBatchItemFailures). Without it,
   * Lambda ignores `batchItemFailures` and deletes the whole batch on any successful return. @default true
   */
  readonly reportBatchItemFailures?: boolean;
  /** ARN reported in each record's eventSourceARN. @default a local placeholder ARN */
  readonly queueArn?: string;
  /** Region reported in each record's awsRegion. @default the region in `queueArn` */
  readonly region?: string;
  /** Lambda's invocation payload limit in bytes; a batch never exceeds it. @default 6 MiB (6,291,456) */
  readonly maxBatchBytes?: number;
  /** Source of time. @default the system clock */
  readonly clock?: Clock;
}

/** A message that exhausted its receives. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly sentTimestamp: number;
  readonly deadLetteredAt: number;
  /** Why the last delivery failed, as the queue saw it (the error thrown, or a reported item failure). */
  readonly lastFailure: string;
}

export interface QueueStats {
  /** Messages ever enqueued. */
  readonly enqueued: number;
  /** Messages deleted after their batch succeeded for them. */
  readonly deleted: number;
  /** Messages moved to the dead-letter store. */
  readonly deadLettered: number;
  /** Messages waiting to be received. */
  readonly visible: number;
  /** Messages received and neither deleted nor visible again yet. */
  readonly invisible: number;
  /** Batches currently being gathered or processed. */
  readonly batchesInFlight: number;
  /** Invocations made. */
  readonly invocations: number;
  /** Invocations that failed as a whole (error, crash, timeout, invalid response). */
  readonly failedInvocations: number;
  /** Receives of any message, redeliveries included. */
  readonly receives: number;
}

export interface BatchStart {
  readonly batchId: number;
  readonly records: readonly SQSRecord[];
}

export interface BatchEnd {
  readonly batchId: number;
  /** Message ids deleted because the batch succeeded for them. */
  readonly deleted: readonly string[];
  /** Message ids that failed and wait for their visibility timeout. */
  readonly failed: readonly string[];
  /** Set when the whole batch failed; says why. */
  readonly error?: string;
  readonly durationMs: number;
}

export interface QueueEvents {
  enqueued: [{ readonly messageId: string }];
  'batch-start': [BatchStart];
  'batch-end': [BatchEnd];
  /** A failed (or timed-out) message became visible again for another receive. */
  'visible-again': [{ readonly messageId: string; readonly receiveCount: number }];
  'dead-lettered': [DeadLetter];
  /** A dead letter moved back to the queue (a message move task), with its receive count reset. */
  redriven: [{ readonly messageId: string }];
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly bodyBytes: number;
  readonly md5OfBody: string;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** Receipt handle of the latest receive; only it can delete the message. */
  receiptHandle?: string;
  visibilityTimer?: Timer;
  lastFailure?: string;
}

interface GatheringBatch {
  readonly batchId: number;
  readonly records: SQSRecord[];
  bytes: number;
  windowTimer?: Timer;
}

/** S3 sends its notifications with this sender id; kept so records look like the ones Lambda receives. */
const S3_SENDER_ID = 'AIDAJHIPRHEMV73VRJEBU';
const DEFAULT_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:000000000000:local-ingest-queue';
const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

export class LocalQueue extends EventEmitter<QueueEvents> {
  private readonly options: Required<Omit<LocalQueueOptions, 'region' | 'queueArn' | 'clock'>>;
  private readonly clock: Clock;
  private readonly queueArn: string;
  private readonly region: string;
  /** Every message neither deleted nor dead-lettered, by id. */
  private readonly messages = new Map<string, StoredMessage>();
  /** Ids of visible messages, in the order they became visible. */
  private readonly visible: string[] = [];
  private readonly dead: DeadLetter[] = [];
  private gathering: GatheringBatch | undefined;
  private inFlight = 0;
  private nextBatchId = 1;
  private pumpScheduled = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private counters = { enqueued: 0, deleted: 0, invocations: 0, failedInvocations: 0, receives: 0 };

  constructor(options: LocalQueueOptions) {
    super();
    for (const [name, min] of [
      ['batchSize', 1],
      ['maxReceiveCount', 1],
      ['maxConcurrency', 1],
      ['batchingWindowMs', 0],
      ['visibilityTimeoutMs', 0],
    ] as const) {
      const value = options[name];
      if (!Number.isFinite(value) || value < min) {
        throw new RangeError(`LocalQueue: ${name} is ${value}; must be a number >= ${min}`);
      }
    }
    this.options = { maxBatchBytes: LAMBDA_PAYLOAD_LIMIT_BYTES, reportBatchItemFailures: true, ...options };
    this.clock = options.clock ?? systemClock;
    this.queueArn = options.queueArn ?? DEFAULT_QUEUE_ARN;
    this.region = options.region ?? this.queueArn.split(':')[3] ?? 'eu-west-1';
  }

  /** Sends a message (SendMessage); returns its id. */
  enqueue(body: string): string {
    if (this.closed) throw new Error('LocalQueue is closed');
    const messageId = randomUUID();
    this.messages.set(messageId, {
      messageId,
      body,
      bodyBytes: Buffer.byteLength(body),
      md5OfBody: createHash('md5').update(body).digest('hex'),
      sentTimestamp: this.clock.now(),
      receiveCount: 0,
    });
    this.visible.push(messageId);
    this.counters.enqueued++;
    this.emit('enqueued', { messageId });
    this.schedulePump();
    return messageId;
  }

  stats(): QueueStats {
    return {
      ...this.counters,
      deadLettered: this.dead.length,
      visible: this.visible.length,
      invisible: this.messages.size - this.visible.length,
      batchesInFlight: this.inFlight + (this.gathering ? 1 : 0),
    };
  }

  /** The dead-letter store, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return [...this.dead];
  }

  /**
   * Moves a dead letter back to the queue, as an SQS message move task does: same message id and body, receive
   * count reset, visible at once. False when there is no such dead letter (moved or deleted already).
   */
  redriveDeadLetter(messageId: string): boolean {
    if (this.closed) throw new Error('LocalQueue is closed');
    const at = this.dead.findIndex((d) => d.messageId === messageId);
    const letter = this.dead[at];
    if (!letter) return false;
    this.dead.splice(at, 1);
    this.messages.set(messageId, {
      messageId,
      body: letter.body,
      bodyBytes: Buffer.byteLength(letter.body),
      md5OfBody: createHash('md5').update(letter.body).digest('hex'),
      sentTimestamp: letter.sentTimestamp,
      receiveCount: 0,
    });
    this.visible.push(messageId);
    this.emit('redriven', { messageId });
    this.schedulePump();
    return true;
  }

  /** Deletes a dead letter (DeleteMessage on the dead-letter queue); false when there is none with that id. */
  deleteDeadLetter(messageId: string): boolean {
    const at = this.dead.findIndex((d) => d.messageId === messageId);
    if (at < 0) return false;
    this.dead.splice(at, 1);
    return true;
  }

  /**
   * Puts back a dead letter kept from an earlier run (the local environment persists them with its data
   * directory). Its id must not be in use.
   */
  restoreDeadLetter(letter: DeadLetter): void {
    if (this.messages.has(letter.messageId) || this.dead.some((d) => d.messageId === letter.messageId)) {
      throw new Error(`LocalQueue: message ${letter.messageId} already exists`);
    }
    this.dead.push(letter);
  }

  /** Messages not yet deleted or dead-lettered, oldest first: what a stop would lose. */
  undelivered(): ReadonlyArray<{
    readonly messageId: string;
    readonly body: string;
    readonly receiveCount: number;
    readonly sentTimestamp: number;
    /** True while received and neither deleted nor visible again (an invocation has it, or its timeout runs). */
    readonly inFlight: boolean;
  }> {
    const visible = new Set(this.visible);
    return [...this.messages.values()]
      .map((m) => ({
        messageId: m.messageId,
        body: m.body,
        receiveCount: m.receiveCount,
        sentTimestamp: m.sentTimestamp,
        inFlight: !visible.has(m.messageId),
      }))
      .sort((a, b) => a.sentTimestamp - b.sentTimestamp);
  }

  /** True when every message was deleted or dead-lettered and no batch is running. */
  isIdle(): boolean {
    return this.messages.size === 0 && this.inFlight === 0 && this.gathering === undefined;
  }

  /** Resolves once the queue is idle (immediately if it already is). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops polling and cancels every timer. Batches already running finish, but their results are ignored;
   * messages not deleted are dropped with the queue (persisting the queue is not needed by anything local).
   */
  close(): void {
    this.closed = true;
    this.gathering?.windowTimer?.cancel();
    this.gathering = undefined;
    for (const m of this.messages.values()) m.visibilityTimer?.cancel();
    this.notifyIfIdle();
  }

  private schedulePump(): void {
    // Coalesces messages sent in the same tick, as one ReceiveMessage call would see them together.
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.visible.length > 0) {
      if (!this.gathering) {
        if (this.inFlight >= this.options.maxConcurrency) return;
        this.gathering = { batchId: this.nextBatchId++, records: [], bytes: 0 };
      }
      const batch = this.gathering;
      while (batch.records.length < this.options.batchSize && this.visible.length > 0) {
        const nextId = this.visible[0] as string;
        const next = this.messages.get(nextId);
        if (next && batch.records.length > 0 && batch.bytes + next.bodyBytes > this.options.maxBatchBytes) {
          this.dispatch(batch);
          break;
        }
        this.visible.shift();
        if (next) {
          batch.records.push(this.receive(next));
          batch.bytes += next.bodyBytes;
        }
      }
      if (this.gathering !== batch) continue;
      if (batch.records.length >= this.options.batchSize || this.options.batchingWindowMs === 0) {
        this.dispatch(batch);
      } else if (batch.records.length > 0 && !batch.windowTimer) {
        batch.windowTimer = this.clock.setTimer(() => this.dispatch(batch), this.options.batchingWindowMs);
        return;
      } else {
        return;
      }
    }
  }

  private receive(message: StoredMessage): SQSRecord {
    const now = this.clock.now();
    message.receiveCount++;
    message.firstReceiveTimestamp ??= now;
    message.receiptHandle = randomUUID();
    message.visibilityTimer?.cancel();
    message.visibilityTimer = this.clock.setTimer(
      () => this.visibilityExpired(message),
      this.options.visibilityTimeoutMs,
    );
    this.counters.receives++;
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: S3_SENDER_ID,
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      },
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.queueArn,
      awsRegion: this.region,
    };
  }

  private dispatch(batch: GatheringBatch): void {
    if (this.gathering !== batch) return;
    batch.windowTimer?.cancel();
    this.gathering = undefined;
    this.inFlight++;
    this.counters.invocations++;
    const startedAt = this.clock.now();
    this.emit('batch-start', { batchId: batch.batchId, records: batch.records });
    const ids = batch.records.map((r) => r.messageId);
    let outcome: Promise<SQSBatchResponse | undefined | null>;
    try {
      outcome = this.options.invoke(batch.records);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome
      .then(
        (response) => this.completeBatch(batch, ids, response),
        (error: unknown) => this.failBatch(batch, ids, describeError(error)),
      )
      .then((result) => {
        this.inFlight--;
        this.emit('batch-end', {
          batchId: batch.batchId,
          ...result,
          durationMs: this.clock.now() - startedAt,
        });
        this.schedulePump();
        this.notifyIfIdle();
      });
  }

  private completeBatch(
    batch: GatheringBatch,
    ids: readonly string[],
    response: SQSBatchResponse | undefined | null,
  ): Omit<BatchEnd, 'batchId' | 'durationMs'> {
    // Lambda reads a missing or empty response as "everything succeeded".
    const failures = this.options.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
    if (!Array.isArray(failures)) {
      return this.failBatch(batch, ids, 'invalid partial batch response: batchItemFailures is not a list');
    }
    const failed = new Set<string>();
    for (const f of failures) {
      const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      if (typeof id !== 'string' || !ids.includes(id)) {
        return this.failBatch(
          batch,
          ids,
          `invalid partial batch response: itemIdentifier ${JSON.stringify(id)} is not a message of the batch`,
        );
      }
      failed.add(id);
    }
    const deleted: string[] = [];
    for (const record of batch.records) {
      if (failed.has(record.messageId)) {
        this.noteFailure(record.messageId, 'reported as a batch item failure');
      } else if (this.deleteMessage(record)) {
        deleted.push(record.messageId);
      }
    }
    return { deleted, failed: [...failed] };
  }

  private failBatch(
    batch: GatheringBatch,
    ids: readonly string[],
    error: string,
  ): Omit<BatchEnd, 'batchId' | 'durationMs'> {
    this.counters.failedInvocations++;
    for (const record of batch.records) this.noteFailure(record.messageId, `invocation failed: ${error}`);
    return { deleted: [], failed: [...ids], error };
  }

  private noteFailure(messageId: string, failure: string): void {
    const message = this.messages.get(messageId);
    if (message) message.lastFailure = failure;
  }

  /** DeleteMessage with the batch's receipt handle: a no-op when the message was received again since. */
  private deleteMessage(record: SQSRecord): boolean {
    const message = this.messages.get(record.messageId);
    if (!message || message.receiptHandle !== record.receiptHandle || this.closed) return false;
    message.visibilityTimer?.cancel();
    this.messages.delete(record.messageId);
    const visibleAt = this.visible.indexOf(record.messageId);
    if (visibleAt >= 0) this.visible.splice(visibleAt, 1);
    this.counters.deleted++;
    return true;
  }

  private visibilityExpired(message: StoredMessage): void {
    message.visibilityTimer = undefined;
    if (this.closed || !this.messages.has(message.messageId)) return;
    if (message.receiveCount >= this.options.maxReceiveCount) {
      this.messages.delete(message.messageId);
      const letter: DeadLetter = {
        messageId: message.messageId,
        body: message.body,
        receiveCount: message.receiveCount,
        sentTimestamp: message.sentTimestamp,
        deadLetteredAt: this.clock.now(),
        lastFailure: message.lastFailure ?? 'visibility timeout expired before the invocation finished',
      };
      this.dead.push(letter);
      this.emit('dead-lettered', letter);
      this.notifyIfIdle();
      return;
    }
    this.visible.push(message.messageId);
    this.emit('visible-again', { messageId: message.messageId, receiveCount: message.receiveCount });
    this.schedulePump();
  }

  private notifyIfIdle(): void {
    if (!this.isIdle() && !this.closed) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
