/** Messages between the local Lambda (parent) and one execution environment (child process), over Node IPC. */

export interface SerialisedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /**
   * The distinct root causes under an error that only summarises others (Powertools' FullBatchFailureError
   * "See individual errors below", an AggregateError, a `cause` chain), as `Name: message (xN)`. Lambda's own
   * error response has no such field; locally it is what makes a dead letter's reason readable.
   */
  readonly causes?: readonly string[];
}

export type WorkerRequest = {
  readonly type: 'invoke';
  readonly id: number;
  readonly event: unknown;
  /** Epoch milliseconds at which the invocation times out (context.getRemainingTimeInMillis). */
  readonly deadline: number;
};

export type WorkerReply =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'init-error'; readonly error: SerialisedError }
  | { readonly type: 'result'; readonly id: number; readonly requestId: string; readonly result: unknown }
  | {
      readonly type: 'error';
      readonly id: number;
      readonly requestId: string;
      readonly error: SerialisedError;
    };
