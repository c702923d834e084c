import { Worker } from 'node:worker_threads';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { INVOCATION_END_MARK, type InvokeReply } from './worker-protocol.ts';

/** A handler running in its own worker thread; see handler-worker.ts for why. */
export interface HostedHandler {
  /** Invokes the handler once; resolves with its own wall time and response, rejects if it threw. */
  invoke(
    event: SQSEvent,
  ): Promise<{ readonly wallMs: number; readonly cpuMs: number; readonly response: SQSBatchResponse }>;
  /** Bytes the handler wrote to stdout/stderr (its logs and EMF metrics) since it started. */
  logBytes(): number;
  /** Lines the handler wrote since it started. */
  logLines(): number;
  stop(): Promise<void>;
}

/** Starts `exportName` of `moduleUrl` in a worker whose process.env is exactly `env`. */
export async function hostHandler(
  moduleUrl: string,
  exportName: string,
  env: Record<string, string>,
): Promise<HostedHandler> {
  const worker = new Worker(new URL('./handler-worker.ts', import.meta.url), {
    workerData: { moduleUrl, exportName },
    env,
    stdout: true,
    stderr: true,
  });
  let bytes = 0;
  let lines = 0;
  let tail: string[] = [];
  let partial = '';
  const endedInvocations = new Set<number>();
  const replies = new Map<number, InvokeReply>();
  const waiting = new Map<number, (reply: InvokeReply) => void>();

  const settleIfComplete = (id: number) => {
    const reply = replies.get(id);
    const settle = waiting.get(id);
    if (!reply || !settle || !endedInvocations.has(id)) return;
    replies.delete(id);
    waiting.delete(id);
    endedInvocations.delete(id);
    settle(reply);
  };
  const countOutput = (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) {
      if (line.startsWith(INVOCATION_END_MARK)) {
        const id = Number(line.slice(INVOCATION_END_MARK.length));
        endedInvocations.add(id);
        settleIfComplete(id);
        continue;
      }
      bytes += Buffer.byteLength(line) + 1;
      lines += 1;
      tail = [...tail.slice(-20), line];
    }
  };
  worker.stdout.on('data', countOutput);
  worker.stderr.on('data', countOutput);

  let failure: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: InvokeReply | 'ready') => {
      if (message === 'ready') {
        resolve();
        return;
      }
      replies.set(message.id, message);
      settleIfComplete(message.id);
    });
    worker.on('error', (error) => {
      failure = error;
      reject(error);
      for (const settle of waiting.values()) settle({ id: -1, wallMs: 0, cpuMs: 0, error: String(error) });
      waiting.clear();
    });
  });

  let nextId = 0;
  return {
    invoke(event) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, (reply) => {
          if (reply.error !== undefined || !reply.response) {
            reject(new Error(`handler failed: ${reply.error}\n--- its last output ---\n${tail.join('\n')}`));
          } else {
            resolve({ wallMs: reply.wallMs, cpuMs: reply.cpuMs, response: reply.response });
          }
        });
        worker.postMessage({ id, event });
      });
    },
    logBytes: () => bytes,
    logLines: () => lines,
    async stop() {
      await worker.terminate();
    },
  };
}
