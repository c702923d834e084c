import { createHash, randomUUID } from 'node:crypto';
import type { LocalQueue } from './queue.ts';

/**
 * The SQS API of the local environment's two queues, for the operations the operator tools and runbooks use: the
 * ingest queue is the LocalQueue (its event source mapping stays its only consumer), the dead-letter queue is the
 * LocalQueue's dead-letter store. Operations, by queue:
 *
 * - both: GetQueueUrl, ListQueues, GetQueueAttributes (ARN, approximate counts, visibility timeout, redrive policy)
 * - ingest: SendMessage, SendMessageBatch (what backfill sends)
 * - dead-letter: ReceiveMessage (a look at the messages: they become invisible for the visibility timeout and
 *   visible again after it), DeleteMessage, and the message move tasks redrive runs: StartMessageMoveTask,
 *   ListMessageMoveTasks, CancelMessageMoveTask
 *
 * Anything else answers UnsupportedOperation, naming the operation. Semantics follow SQS where the tools can tell:
 * a move task moves the dead letters visible when it runs, at most MaxNumberOfMessagesPerSecond, keeping message
 * ids and resetting receive counts; ListMessageMoveTasks is newest first and shows a TaskHandle only while the task
 * runs; the messages of a completed move are processed by the event source mapping like any other.
 */

/** An AWS API error: `code` is the JSON protocol's error type (what the SDK names the error). */
export class AwsApiError extends Error {
  readonly code: string;
  /** The query-compatible code SQS sends in x-amzn-query-error. */
  readonly queryCode: string;
  readonly status: number;
  constructor(code: string, message: string, queryCode = code, status = 400) {
    super(message);
    this.name = 'AwsApiError';
    this.code = code;
    this.queryCode = queryCode;
    this.status = status;
  }
}

export interface LocalSqsOptions {
  readonly queue: LocalQueue;
  readonly region: string;
  readonly account: string;
  /** Names of the stack's two queues (the last part of their URLs and ARNs). */
  readonly ingestQueueName: string;
  readonly deadLetterQueueName: string;
  /** The endpoint's base URL, e.g. `http://127.0.0.1:4569`: queue URLs are `<base>/<account>/<name>`. */
  readonly baseUrl: () => string;
  /** The stack's settings, reported by GetQueueAttributes. */
  readonly ingestVisibilityTimeoutSeconds: number;
  readonly deadLetterVisibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  readonly now?: () => number;
}

interface MoveTask {
  readonly taskHandle: string;
  readonly sourceArn: string;
  readonly destinationArn: string;
  readonly maxPerSecond?: number;
  readonly startedTimestamp: number;
  readonly toMove: number;
  moved: number;
  status: 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
  failureReason?: string;
  timer?: NodeJS.Timeout;
}

/** A received dead letter: hidden until `visibleAt`; only `receiptHandle` deletes it. */
interface Received {
  readonly receiptHandle: string;
  readonly visibleAt: number;
}

type Input = Record<string, unknown>;

const MAX_BATCH = 10;
const MAX_MESSAGE_BYTES = 256 * 1024;

export class LocalSqs {
  private readonly options: LocalSqsOptions;
  private readonly now: () => number;
  private readonly received = new Map<string, Received>();
  private readonly receiveCounts = new Map<string, number>();
  private readonly tasks: MoveTask[] = [];
  private closed = false;

  constructor(options: LocalSqsOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  get ingestArn(): string {
    return this.arnOf(this.options.ingestQueueName);
  }
  get deadLetterArn(): string {
    return this.arnOf(this.options.deadLetterQueueName);
  }
  get ingestUrl(): string {
    return this.urlOf(this.options.ingestQueueName);
  }
  get deadLetterUrl(): string {
    return this.urlOf(this.options.deadLetterQueueName);
  }

  /** Dead letters received (ReceiveMessage) and not visible again yet. */
  deadLettersInFlight(): number {
    const now = this.now();
    const ids = new Set(this.options.queue.deadLetters().map((d) => d.messageId));
    return [...this.received].filter(([id, r]) => ids.has(id) && r.visibleAt > now).length;
  }

  /** Stops running move tasks (they end CANCELLED). */
  close(): void {
    this.closed = true;
    for (const task of this.tasks) {
      if (task.timer) clearTimeout(task.timer);
      if (task.status === 'RUNNING' || task.status === 'CANCELLING') task.status = 'CANCELLED';
    }
  }

  /** Runs one operation of the JSON protocol (`AmazonSQS.<operation>`), returning its output. */
  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'GetQueueUrl':
        return { QueueUrl: this.urlOf(this.queueByName(text(input, 'QueueName'))) };
      case 'ListQueues': {
        const prefix = optionalText(input, 'QueueNamePrefix') ?? '';
        const names = [this.options.ingestQueueName, this.options.deadLetterQueueName];
        return { QueueUrls: names.filter((n) => n.startsWith(prefix)).map((n) => this.urlOf(n)) };
      }
      case 'GetQueueAttributes':
        return { Attributes: this.attributes(this.queueOf(input), input.AttributeNames) };
      case 'SendMessage': {
        this.requireIngest(input, operation);
        const body = text(input, 'MessageBody');
        checkBody(body);
        return { MessageId: this.options.queue.enqueue(body), MD5OfMessageBody: md5(body) };
      }
      case 'SendMessageBatch':
        this.requireIngest(input, operation);
        return this.sendBatch(input.Entries);
      case 'ReceiveMessage':
        this.requireDeadLetter(input, operation);
        return { Messages: this.receiveDeadLetters(input) };
      case 'DeleteMessage':
        this.requireDeadLetter(input, operation);
        this.deleteDeadLetter(text(input, 'ReceiptHandle'));
        return {};
      case 'StartMessageMoveTask':
        return { TaskHandle: this.startMove(input) };
      case 'ListMessageMoveTasks':
        return { Results: this.listMoves(input) };
      case 'CancelMessageMoveTask':
        return this.cancelMove(text(input, 'TaskHandle'));
      default:
        throw new AwsApiError(
          'UnsupportedOperation',
          `the local environment's SQS does not implement ${operation}; see docs/local-environment.md`,
          'AWS.SimpleQueueService.UnsupportedOperation',
        );
    }
  }

  private arnOf(name: string): string {
    return `arn:aws:sqs:${this.options.region}:${this.options.account}:${name}`;
  }
  private urlOf(name: string): string {
    return `${this.options.baseUrl()}/${this.options.account}/${name}`;
  }

  private queueByName(name: string): string {
    if (name === this.options.ingestQueueName || name === this.options.deadLetterQueueName) return name;
    throw new AwsApiError(
      'QueueDoesNotExist',
      `The specified queue does not exist: ${name} (the local environment has ${this.options.ingestQueueName} and ${this.options.deadLetterQueueName})`,
      'AWS.SimpleQueueService.NonExistentQueue',
    );
  }

  /** The queue a request's QueueUrl names (by its last path segment, as SQS resolves it). */
  private queueOf(input: Input): string {
    const url = text(input, 'QueueUrl');
    const name = URL.canParse(url) ? new URL(url).pathname.split('/').filter(Boolean).at(-1) : undefined;
    return this.queueByName(name ?? url);
  }

  private requireIngest(input: Input, operation: string): void {
    if (this.queueOf(input) !== this.options.ingestQueueName) {
      throw new AwsApiError(
        'UnsupportedOperation',
        `the local environment's SQS implements ${operation} only on the ingest queue ${this.options.ingestQueueName}`,
        'AWS.SimpleQueueService.UnsupportedOperation',
      );
    }
  }

  private requireDeadLetter(input: Input, operation: string): void {
    if (this.queueOf(input) !== this.options.deadLetterQueueName) {
      throw new AwsApiError(
        'UnsupportedOperation',
        `the local environment's SQS implements ${operation} only on the dead-letter queue ${this.options.deadLetterQueueName}: the event source mapping is the ingest queue's only consumer`,
        'AWS.SimpleQueueService.UnsupportedOperation',
      );
    }
  }

  private attributes(queue: string, requested: unknown): Record<string, string> {
    const { queue: local } = this.options;
    const isIngest = queue === this.options.ingestQueueName;
    const stats = local.stats();
    const inFlight = this.deadLettersInFlight();
    const all: Record<string, string> = {
      QueueArn: this.arnOf(queue),
      ApproximateNumberOfMessages: String(isIngest ? stats.visible : local.deadLetters().length - inFlight),
      ApproximateNumberOfMessagesNotVisible: String(isIngest ? stats.invisible : inFlight),
      ApproximateNumberOfMessagesDelayed: '0',
      VisibilityTimeout: String(
        isIngest
          ? this.options.ingestVisibilityTimeoutSeconds
          : this.options.deadLetterVisibilityTimeoutSeconds,
      ),
      MessageRetentionPeriod: String(isIngest ? 4 * 86_400 : 14 * 86_400),
      DelaySeconds: '0',
      MaximumMessageSize: String(MAX_MESSAGE_BYTES),
      ...(isIngest && {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: this.deadLetterArn,
          maxReceiveCount: this.options.maxReceiveCount,
        }),
      }),
      ...(!isIngest && {
        RedriveAllowPolicy: JSON.stringify({
          redrivePermission: 'byQueue',
          sourceQueueArns: [this.ingestArn],
        }),
      }),
    };
    const names = Array.isArray(requested) ? (requested as string[]) : [];
    if (names.length === 0) return {};
    if (names.includes('All')) return all;
    return Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n] as string]));
  }

  private sendBatch(entries: unknown): unknown {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new AwsApiError(
        'EmptyBatchRequest',
        'There should be at least one SendMessageBatchRequestEntry in the request.',
        'AWS.SimpleQueueService.EmptyBatchRequest',
      );
    }
    if (entries.length > MAX_BATCH) {
      throw new AwsApiError(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${MAX_BATCH}.`,
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
      );
    }
    const ids = entries.map((e) => (e as Input).Id);
    if (new Set(ids).size !== ids.length) {
      throw new AwsApiError(
        'BatchEntryIdsNotDistinct',
        'Two or more batch entries in the request have the same Id.',
        'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      );
    }
    const total = entries.reduce(
      (n: number, e) => n + Buffer.byteLength(String((e as Input).MessageBody ?? '')),
      0,
    );
    if (total > MAX_MESSAGE_BYTES) {
      throw new AwsApiError(
        'BatchRequestTooLong',
        `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`,
        'AWS.SimpleQueueService.BatchRequestTooLong',
      );
    }
    const successful = [];
    for (const entry of entries as Input[]) {
      const body = text(entry, 'MessageBody');
      checkBody(body);
      successful.push({
        Id: text(entry, 'Id'),
        MessageId: this.options.queue.enqueue(body),
        MD5OfMessageBody: md5(body),
      });
    }
    return { Successful: successful, Failed: [] };
  }

  private receiveDeadLetters(input: Input): unknown[] {
    const max = optionalNumber(input, 'MaxNumberOfMessages') ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH) {
      throw new AwsApiError(
        'InvalidParameterValue',
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.`,
      );
    }
    const timeout =
      optionalNumber(input, 'VisibilityTimeout') ?? this.options.deadLetterVisibilityTimeoutSeconds;
    const now = this.now();
    const messages = [];
    for (const letter of this.options.queue.deadLetters()) {
      if (messages.length >= max) break;
      const held = this.received.get(letter.messageId);
      if (held && held.visibleAt > now) continue;
      const receiptHandle = randomUUID();
      this.received.set(letter.messageId, { receiptHandle, visibleAt: now + timeout * 1000 });
      const count = (this.receiveCounts.get(letter.messageId) ?? 0) + 1;
      this.receiveCounts.set(letter.messageId, count);
      messages.push({
        MessageId: letter.messageId,
        ReceiptHandle: `${letter.messageId}/${receiptHandle}`,
        MD5OfBody: md5(letter.body),
        Body: letter.body,
        Attributes: {
          ApproximateReceiveCount: String(count),
          SentTimestamp: String(letter.sentTimestamp),
          ApproximateFirstReceiveTimestamp: String(letter.deadLetteredAt),
          DeadLetterQueueSourceArn: this.ingestArn,
          SenderId: 'AIDAJHIPRHEMV73VRJEBU',
        },
      });
    }
    return messages;
  }

  private deleteDeadLetter(handle: string): void {
    const [messageId, receiptHandle] = handle.split('/');
    const held = messageId === undefined ? undefined : this.received.get(messageId);
    if (!messageId || !held || held.receiptHandle !== receiptHandle) {
      // SQS accepts a stale handle of a message it still has only if it is the latest; an unknown one is invalid.
      throw new AwsApiError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${handle}" is not a valid receipt handle.`,
      );
    }
    this.options.queue.deleteDeadLetter(messageId);
    this.received.delete(messageId);
  }

  private startMove(input: Input): string {
    const sourceArn = text(input, 'SourceArn');
    if (sourceArn !== this.deadLetterArn) {
      throw new AwsApiError(
        'ResourceNotFoundException',
        `the local environment moves messages only from its dead-letter queue ${this.deadLetterArn}, not ${sourceArn}`,
        'ResourceNotFoundException',
      );
    }
    const destinationArn = optionalText(input, 'DestinationArn') ?? this.ingestArn;
    if (destinationArn !== this.ingestArn) {
      throw new AwsApiError(
        'InvalidParameterValue',
        `DestinationArn ${destinationArn}: the local dead-letter queue redrives only to ${this.ingestArn}`,
      );
    }
    const maxPerSecond = optionalNumber(input, 'MaxNumberOfMessagesPerSecond');
    if (
      maxPerSecond !== undefined &&
      !(Number.isInteger(maxPerSecond) && maxPerSecond >= 1 && maxPerSecond <= 500)
    ) {
      throw new AwsApiError(
        'InvalidParameterValue',
        'MaxNumberOfMessagesPerSecond must be an integer in 1..500',
      );
    }
    if (
      this.tasks.some(
        (t) => t.sourceArn === sourceArn && (t.status === 'RUNNING' || t.status === 'CANCELLING'),
      )
    ) {
      throw new AwsApiError(
        'UnsupportedOperation',
        `There is already a task running for ${sourceArn}.`,
        'AWS.SimpleQueueService.UnsupportedOperation',
      );
    }
    const now = this.now();
    const waiting = this.options.queue
      .deadLetters()
      .filter((d) => !((this.received.get(d.messageId)?.visibleAt ?? 0) > now))
      .map((d) => d.messageId);
    const task: MoveTask = {
      taskHandle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString('base64'),
      sourceArn,
      destinationArn,
      ...(maxPerSecond === undefined ? {} : { maxPerSecond }),
      startedTimestamp: now,
      toMove: waiting.length,
      moved: 0,
      status: 'RUNNING',
    };
    this.tasks.unshift(task);
    const step = () => {
      task.timer = undefined;
      if (this.closed || task.status !== 'RUNNING') {
        if (task.status === 'CANCELLING') task.status = 'CANCELLED';
        return;
      }
      // Without a rate SQS moves as fast as it can; here that is all at once.
      const burst = maxPerSecond === undefined ? waiting.length : 1;
      for (const id of waiting.splice(0, burst)) {
        this.received.delete(id);
        if (this.options.queue.redriveDeadLetter(id)) task.moved++;
      }
      if (waiting.length === 0) task.status = 'COMPLETED';
      else task.timer = setTimeout(step, 1000 / (maxPerSecond ?? 1));
    };
    task.timer = setTimeout(step, 0);
    return task.taskHandle;
  }

  private listMoves(input: Input): unknown[] {
    const sourceArn = text(input, 'SourceArn');
    const max = optionalNumber(input, 'MaxResults') ?? 1;
    return this.tasks
      .filter((t) => t.sourceArn === sourceArn)
      .slice(0, max)
      .map((t) => ({
        ...(t.status === 'RUNNING' ? { TaskHandle: t.taskHandle } : {}),
        Status: t.status,
        SourceArn: t.sourceArn,
        DestinationArn: t.destinationArn,
        ...(t.maxPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: t.maxPerSecond }),
        ApproximateNumberOfMessagesMoved: t.moved,
        ApproximateNumberOfMessagesToMove: t.toMove,
        ...(t.failureReason ? { FailureReason: t.failureReason } : {}),
        StartedTimestamp: t.startedTimestamp,
      }));
  }

  private cancelMove(handle: string): unknown {
    const task = this.tasks.find((t) => t.taskHandle === handle && t.status === 'RUNNING');
    if (!task)
      throw new AwsApiError(
        'ResourceNotFoundException',
        `No running task with handle ${handle}`,
        'ResourceNotFoundException',
      );
    task.status = 'CANCELLING';
    return { ApproximateNumberOfMessagesMoved: task.moved };
  }
}

function md5(body: string): string {
  return createHash('md5').update(body).digest('hex');
}

function checkBody(body: string): void {
  if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
    throw new AwsApiError(
      'InvalidParameterValue',
      `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
    );
  }
}

function text(input: Input, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value === '') {
    throw new AwsApiError(
      'MissingParameter',
      `The request must contain the parameter ${name}.`,
      'MissingParameter',
    );
  }
  return value;
}

function optionalText(input: Input, name: string): string | undefined {
  const value = input[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function optionalNumber(input: Input, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new AwsApiError('InvalidParameterValue', `${name} must be a number`);
  return n;
}
