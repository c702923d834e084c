import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext } from './s3-events.ts';

/**
 * Hosts one handler module in its own Node process, as Lambda's runtime does: its own environment (the handler
 * reads its configuration once, at module load) and its stdout/stderr on a file descriptor the parent gave it, so
 * log writes cost what they cost there and no other process has to read them. The wall and CPU time of each
 * invocation are taken in here, around the handler call alone.
 *
 *   node handler-process.ts <module URL> <export name>      (spawned by handler-host.ts, with an IPC channel)
 */

/** Parent -> child: invoke the handler with this event. */
export interface InvokeRequest {
  readonly id: number;
  readonly event: SQSEvent;
  /** Also report memory after the invocation, after a full GC when the process runs with --expose-gc. */
  readonly measureMemory?: boolean;
}

/** The execution environment's memory after an invocation, bytes (process.memoryUsage). */
export interface MemorySample {
  /** Resident set size: what Lambda reports as "Max Memory Used" and holds against the function's memory. */
  readonly rss: number;
  readonly heapUsed: number;
  /** Memory of C++ objects bound to JS (Buffers, sockets). */
  readonly external: number;
}

/** Child -> parent: the invocation's outcome. */
export interface InvokeReply {
  readonly id: number;
  readonly wallMs: number;
  /** CPU time of the handler's thread during the invocation (user + system). */
  readonly cpuMs: number;
  readonly response?: SQSBatchResponse;
  readonly error?: string;
  readonly memory?: MemorySample;
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

const [moduleUrl, exportName] = process.argv.slice(2);
if (!moduleUrl || !exportName || !process.send) {
  throw new Error('usage: handler-process.ts <module URL> <export name>, spawned with an IPC channel');
}
const send = process.send.bind(process);
const handler = ((await import(moduleUrl)) as Record<string, unknown>)[exportName];
if (typeof handler !== 'function') throw new Error(`${moduleUrl} exports no function ${exportName}`);

const gc = (globalThis as { gc?: () => void }).gc;

/** Taken after the invocation's times: a GC here costs the figures nothing. */
function memory(): MemorySample {
  gc?.();
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external };
}

process.on('message', async ({ id, event, measureMemory }: InvokeRequest) => {
  const started = performance.now();
  const cpuBefore = process.threadCpuUsage();
  const elapsed = () => {
    const cpu = process.threadCpuUsage(cpuBefore);
    return { wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  let reply: InvokeReply;
  try {
    const response = (await (handler as Handler)(event, lambdaContext())) ?? { batchItemFailures: [] };
    reply = { id, ...elapsed(), response };
  } catch (error) {
    reply = {
      id,
      ...elapsed(),
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
  }
  send(measureMemory ? { ...reply, memory: memory() } : reply);
});
// The parent closing the channel is the signal to stop; a normal exit lets Node flush what it must (e.g. --cpu-prof).
process.on('disconnect', () => process.exit(0));
send('ready');
