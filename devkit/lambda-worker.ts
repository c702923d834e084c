/**
 * One Lambda execution environment: a child process that loads the deployed bundle from LAMBDA_TASK_ROOT the way
 * the Node.js runtime does (module init once, at cold start), then runs one invocation at a time on request from
 * its parent over IPC. Its environment is exactly the function's, built by the parent; nothing else is inherited.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SerialisedError, WorkerReply, WorkerRequest } from './lambda-protocol.ts';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const send = (reply: WorkerReply) => process.send?.(reply);

function serialiseError(error: unknown): SerialisedError {
  if (error instanceof Error) {
    const causes = rootCauses(error);
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
      ...(causes.length > 0 ? { causes } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

const MAX_CAUSES = 3;

/** The errors at the bottom of `recordErrors` (Powertools), `errors` (AggregateError and ours) and `cause`. */
function rootCauses(error: Error): string[] {
  const counts = new Map<string, number>();
  const visit = (e: unknown, depth: number) => {
    if (depth > 5 || !(e instanceof Error)) return;
    const inner = [
      ...(((e as { recordErrors?: unknown[] }).recordErrors ?? []) as unknown[]),
      ...(((e as { errors?: unknown[] }).errors ?? []) as unknown[]),
      ...(e.cause instanceof Error && !(e as { errors?: unknown[] }).errors ? [e.cause] : []),
    ].filter((x) => x instanceof Error);
    if (inner.length === 0) {
      if (depth === 0) return;
      const line = `${e.name}: ${e.message.replace(/\s+/g, ' ').slice(0, 200)}`;
      counts.set(line, (counts.get(line) ?? 0) + 1);
      return;
    }
    for (const child of inner) visit(child, depth + 1);
  };
  visit(error, 0);
  const lines = [...counts].map(([line, n]) => (n > 1 ? `${line} (x${n})` : line));
  return lines.length > MAX_CAUSES
    ? [...lines.slice(0, MAX_CAUSES), `and ${lines.length - MAX_CAUSES} other errors`]
    : lines;
}

async function loadHandler(): Promise<Handler> {
  const taskRoot = process.env.LAMBDA_TASK_ROOT ?? '';
  const [moduleName, exportName] = (process.env._HANDLER ?? '').split('.');
  if (!moduleName || !exportName)
    throw new Error(`_HANDLER "${process.env._HANDLER}" is not <module>.<export>`);
  // The Node.js runtime tries these extensions, in this order.
  const file = ['.mjs', '.js', '.cjs'].map((ext) => join(taskRoot, moduleName + ext)).find(existsSync);
  if (!file) throw new Error(`Runtime.ImportModuleError: no ${moduleName}.{mjs,js,cjs} in ${taskRoot}`);
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const handler = module[exportName];
  if (typeof handler !== 'function') {
    throw new Error(`Runtime.HandlerNotFound: ${moduleName}.${exportName} is not a function`);
  }
  return handler as Handler;
}

function lambdaContext(requestId: string, deadline: number) {
  const env = process.env;
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:000000000000:function:${functionName}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

async function main(): Promise<void> {
  // The parent is the Lambda service: if it dies (even by SIGKILL), its environments must not live on.
  process.on('disconnect', () => process.exit(0));
  const started = performance.now();
  let handler: Handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    send({ type: 'init-error', error: serialiseError(error) });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  send({ type: 'ready', initMs: performance.now() - started });

  process.on('message', async (request: WorkerRequest) => {
    if (request.type !== 'invoke') return;
    const requestId = randomUUID();
    // As the runtime does for an unsampled request with active tracing: a trace header, but nothing recorded.
    process.env._X_AMZN_TRACE_ID = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
    try {
      const result = await handler(request.event, lambdaContext(requestId, request.deadline));
      send({ type: 'result', id: request.id, requestId, result: result ?? null });
    } catch (error) {
      send({ type: 'error', id: request.id, requestId, error: serialiseError(error) });
    }
  });
}

await main();
