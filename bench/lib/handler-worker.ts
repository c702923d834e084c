import { parentPort, workerData } from 'node:worker_threads';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext } from './s3-events.ts';
import { INVOCATION_END_MARK, type InvokeReply, type InvokeRequest } from './worker-protocol.ts';

/**
 * Hosts one handler module in a worker thread with its own environment (the handler reads its configuration once,
 * at module load, like on Lambda) and its own stdout, which the parent drains and counts instead of printing.
 * The wall and CPU time of each invocation are taken in here, around the handler call alone.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

interface WorkerInput {
  readonly moduleUrl: string;
  readonly exportName: string;
}

const { moduleUrl, exportName } = workerData as WorkerInput;
const mod = (await import(moduleUrl)) as Record<string, unknown>;
const handler = mod[exportName];
if (typeof handler !== 'function') throw new Error(`${moduleUrl} exports no function ${exportName}`);

parentPort?.on('message', async ({ id, event }: InvokeRequest) => {
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
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    reply = { id, ...elapsed(), error: message };
  }
  process.stdout.write(`${INVOCATION_END_MARK}${id}\n`, () => parentPort?.postMessage(reply));
});
parentPort?.postMessage('ready');
