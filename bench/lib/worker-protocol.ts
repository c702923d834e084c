import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/** Messages between handler-host.ts (parent) and handler-worker.ts (the worker thread hosting a handler). */

export interface InvokeRequest {
  readonly id: number;
  readonly event: SQSEvent;
}

export interface InvokeReply {
  readonly id: number;
  readonly wallMs: number;
  /** CPU time the handler's thread used during the invocation (user + system). */
  readonly cpuMs: number;
  readonly response?: SQSBatchResponse;
  readonly error?: string;
}

/**
 * The worker writes this line to stdout after each invocation. stdout reaches the parent on a different channel
 * than messages, so the parent waits for the line as well: every log line of the invocation has been counted then.
 */
export const INVOCATION_END_MARK = '\u0000bench-invocation-end:';
