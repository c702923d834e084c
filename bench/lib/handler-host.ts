import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { InvokeReply, MemorySample } from './handler-process.ts';

/** A handler running in its own process; see handler-process.ts for why. */
export interface HostedHandler {
  /** Invokes the handler once; resolves with its own wall and CPU time and its response, rejects if it threw. */
  invoke(
    event: SQSEvent,
    options?: { readonly measureMemory?: boolean },
  ): Promise<{
    readonly wallMs: number;
    readonly cpuMs: number;
    readonly response: SQSBatchResponse;
    readonly memory?: MemorySample;
  }>;
  /** Bytes the handler has written to stdout and stderr (its JSON logs and EMF metrics) since it started. */
  logBytes(): number;
  /** Processes behind this handler, invoked in turn (bench/batch-latency.ts `replicated`). @default 1 */
  readonly processes?: number;
  stop(): Promise<void>;
}

const HOST_SCRIPT = path.join(import.meta.dirname, 'handler-process.ts');
const START_TIMEOUT_MS = 30_000;
/** A handler that does not exit within this long after its channel closes is killed. */
const STOP_TIMEOUT_MS = 5_000;

/** Starts `exportName` of `moduleUrl` in a child process whose environment is exactly `env`. */
export async function hostHandler(
  moduleUrl: string,
  exportName: string,
  env: Record<string, string>,
  /** Node flags of the child, e.g. `--expose-gc` for memory figures after a full collection. */
  nodeFlags: readonly string[] = [],
): Promise<HostedHandler> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bench-handler-'));
  const logFile = path.join(logDir, 'output.log');
  const logFd = openSync(logFile, 'w');
  // stdout and stderr go to one file: writes to a file are synchronous in Node, so every line of an invocation
  // is in the file when its reply arrives, and counting them costs the bench nothing while it measures.
  const child = spawn(process.execPath, [...nodeFlags, HOST_SCRIPT, moduleUrl, exportName], {
    env,
    stdio: ['ignore', logFd, logFd, 'ipc'],
  });
  const lastOutput = () => readFileSync(logFile, 'utf8').slice(-3000);
  const cleanUp = () => {
    closeSync(logFd);
    rmSync(logDir, { recursive: true, force: true });
  };

  const pending = new Map<number, (reply: InvokeReply) => void>();
  let exited: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`handler process did not start:\n${lastOutput()}`)),
      START_TIMEOUT_MS,
    );
    child.on('message', (message: InvokeReply | 'ready') => {
      if (message === 'ready') {
        clearTimeout(timer);
        resolve();
        return;
      }
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      exited = new Error(`handler process exited (${signal ?? code}):\n${lastOutput()}`);
      reject(exited);
      for (const settle of pending.values()) settle({ id: -1, wallMs: 0, cpuMs: 0, error: exited.message });
      pending.clear();
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill();
    cleanUp();
    throw error;
  }

  let nextId = 0;
  return {
    invoke(event, options = {}) {
      if (exited) return Promise.reject(exited);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, (reply) => {
          if (reply.error !== undefined || !reply.response) {
            reject(new Error(`handler failed: ${reply.error}\n--- its last output ---\n${lastOutput()}`));
          } else {
            resolve({
              wallMs: reply.wallMs,
              cpuMs: reply.cpuMs,
              response: reply.response,
              ...(reply.memory === undefined ? {} : { memory: reply.memory }),
            });
          }
        });
        child.send({ id, event, ...(options.measureMemory ? { measureMemory: true } : {}) });
      });
    },
    logBytes: () => fstatSync(logFd).size,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.disconnect();
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await gone;
        clearTimeout(killer);
      }
      cleanUp();
    },
  };
}
