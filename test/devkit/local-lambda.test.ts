import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationError, LocalLambda } from '../../devkit/local-lambda.ts';

/** A stand-in bundle whose behaviour each event chooses, so every runtime path can be exercised. */
const BUNDLE = `
let invocations = 0;
const coldStartPid = process.pid;
export const handler = async (event, context) => {
  invocations++;
  switch (event.action) {
    case 'echo':
      return { event, invocations, coldStartPid, env: { ...process.env }, remaining: context.getRemainingTimeInMillis(),
               cwd: process.cwd(), trace: process.env._X_AMZN_TRACE_ID };
    case 'throw': throw new TypeError('bad input');
    case 'throw-batch': {
      // As Powertools' FullBatchFailureError: a summary whose causes hang below it, two records' worth.
      const missing = () => Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
      const record = (id) => Object.assign(new Error('1 object event(s) of message ' + id + ' failed'), { errors: [missing()] });
      throw Object.assign(new Error('All records failed processing. See individual errors below.'),
        { name: 'FullBatchFailureError', recordErrors: [record('m1'), record('m2')] });
    }
    case 'hang': return new Promise(() => { setInterval(() => {}, 1000); });
    case 'exit': process.exit(3);
    case 'wait': await new Promise((r) => setTimeout(r, event.ms)); return { pid: process.pid };
    case 'log': console.log('a log line'); return null;
    case 'linger': setInterval(() => {}, 1000); return null; // like an SDK client's keep-alive socket
  }
};
`;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let taskRoot: string;
let brokenRoot: string;
beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'local-lambda-'));
  brokenRoot = await mkdtemp(join(tmpdir(), 'local-lambda-broken-'));
  await writeFile(join(taskRoot, 'index.mjs'), BUNDLE);
  await writeFile(join(brokenRoot, 'index.mjs'), "throw new Error('TABLE_NAME is required');");
});
afterAll(async () => {
  await rm(taskRoot, { recursive: true, force: true });
  await rm(brokenRoot, { recursive: true, force: true });
});

async function withLambda(
  options: { timeoutMs?: number; concurrency?: number; logs?: string[] },
  test: (lambda: LocalLambda) => Promise<void>,
) {
  const lambda = await LocalLambda.start({
    taskRoot,
    handler: 'index.handler',
    environment: { ONLY_THIS: 'yes', AWS_REGION: 'eu-west-1', PATH: process.env.PATH ?? '' },
    timeoutMs: options.timeoutMs ?? 5_000,
    concurrency: options.concurrency ?? 1,
    onLog: (line) => options.logs?.push(line),
  });
  try {
    await test(lambda);
  } finally {
    await lambda.close();
  }
}

describe('LocalLambda', () => {
  it('runs the bundle with only the function environment, in the task root, keeping module state warm', async () => {
    await withLambda({}, async (lambda) => {
      const first = (await lambda.invoke({ action: 'echo' })) as Record<string, unknown>;
      const second = (await lambda.invoke({ action: 'echo' })) as Record<string, unknown>;
      expect(first.env).toMatchObject({ ONLY_THIS: 'yes', AWS_REGION: 'eu-west-1' });
      expect(first.env).not.toHaveProperty('HOME');
      expect(first.cwd).toBe(taskRoot);
      expect(first.remaining).toBeGreaterThan(0);
      expect(first.trace).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
      expect(second.invocations).toBe(2);
      expect(lambda.stats()).toMatchObject({ invocations: 2, coldStarts: 1 });
    });
  });

  it('reports a thrown error as a function error and keeps the environment', async () => {
    await withLambda({}, async (lambda) => {
      await expect(lambda.invoke({ action: 'throw' })).rejects.toMatchObject({
        kind: 'function-error',
        message: 'TypeError: bad input',
      });
      const after = (await lambda.invoke({ action: 'echo' })) as { invocations: number };
      expect(after.invocations).toBe(2);
    });
  });

  it('names the root causes of an error that only summarises them (FullBatchFailureError)', async () => {
    await withLambda({}, async (lambda) => {
      await expect(lambda.invoke({ action: 'throw-batch' })).rejects.toMatchObject({
        kind: 'function-error',
        message:
          'FullBatchFailureError: All records failed processing. See individual errors below. Caused by: ResourceNotFoundException: Requested resource not found (x2)',
      });
    });
  });

  it('kills an environment whose invocation times out; the next invocation is a cold start', async () => {
    await withLambda({ timeoutMs: 300 }, async (lambda) => {
      const [pid] = lambda.pids();
      await expect(lambda.invoke({ action: 'hang' })).rejects.toMatchObject({
        kind: 'timeout',
        message: 'Task timed out after 0.30 seconds',
      });
      const next = (await lambda.invoke({ action: 'echo' })) as { coldStartPid: number; invocations: number };
      expect(next.coldStartPid).not.toBe(pid);
      expect(next.invocations).toBe(1);
      expect(lambda.stats()).toMatchObject({ timeouts: 1, coldStarts: 2 });
    });
  });

  it('fails the invocation when the runtime process dies, and replaces the environment', async () => {
    await withLambda({}, async (lambda) => {
      const exits: boolean[] = [];
      lambda.on('environment-exit', (e) => exits.push(e.duringInvocation));
      await expect(lambda.invoke({ action: 'exit' })).rejects.toMatchObject({
        kind: 'runtime-exit',
        message: 'Runtime exited with error: exit status 3',
      });
      expect(exits).toEqual([true]);
      await expect(lambda.invoke({ action: 'echo' })).resolves.toMatchObject({ invocations: 1 });
    });
  });

  it('fails the invocation of an environment killed from outside (SIGKILL mid-batch)', async () => {
    await withLambda({}, async (lambda) => {
      const pending = lambda.invoke({ action: 'hang' });
      for (let i = 0; i < 100 && lambda.busyPids().length === 0; i++)
        await new Promise((r) => setImmediate(r));
      const [busy] = lambda.busyPids();
      if (busy === undefined) throw new Error('expected a busy environment');
      process.kill(busy, 'SIGKILL');
      await expect(pending).rejects.toMatchObject({ message: 'Runtime exited with signal: SIGKILL' });
    });
  });

  it('runs invocations in parallel on separate environments up to the concurrency, never two on one', async () => {
    await withLambda({ concurrency: 2 }, async (lambda) => {
      const results = (await Promise.all(
        [1, 2, 3, 4].map(() => lambda.invoke({ action: 'wait', ms: 150 })),
      )) as Array<{ pid: number }>;
      const pids = new Set(results.map((r) => r.pid));
      expect(pids.size).toBe(2);
      expect(lambda.stats()).toMatchObject({ coldStarts: 2, environments: 2 });
    });
  });

  it('passes what the function writes to the log sink', async () => {
    const logs: string[] = [];
    await withLambda({ logs }, async (lambda) => {
      await lambda.invoke({ action: 'log' });
    });
    expect(logs).toContain('a log line');
  });

  it('ends its execution environments when the process running it is killed (no orphans after SIGKILL)', async () => {
    const script = join(taskRoot, 'parent.mjs');
    await writeFile(
      script,
      `const { LocalLambda } = await import(${JSON.stringify(new URL('../../devkit/local-lambda.ts', import.meta.url).href)});
       const lambda = await LocalLambda.start({ taskRoot: ${JSON.stringify(taskRoot)}, handler: 'index.handler',
         environment: {}, timeoutMs: 5000, concurrency: 1 });
       await lambda.invoke({ action: 'linger' });
       console.log(lambda.pids()[0]);
       setInterval(() => {}, 1000);`,
    );
    const parent = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: parent.stdout }), 'line')) as [string];
    const environmentPid = Number(line);
    expect(isAlive(environmentPid)).toBe(true);

    parent.kill('SIGKILL');
    for (let i = 0; i < 100 && isAlive(environmentPid); i++) await new Promise((r) => setTimeout(r, 50));
    const orphaned = isAlive(environmentPid);
    if (orphaned) process.kill(environmentPid, 'SIGKILL');
    expect(orphaned).toBe(false);
  });

  it('fails start-up with the init error of the bundle', async () => {
    await expect(
      LocalLambda.start({
        taskRoot: brokenRoot,
        handler: 'index.handler',
        environment: {},
        timeoutMs: 1_000,
        concurrency: 1,
      }),
    ).rejects.toThrow(InvocationError);
    await expect(
      LocalLambda.start({
        taskRoot: brokenRoot,
        handler: 'index.handler',
        environment: {},
        timeoutMs: 1_000,
        concurrency: 1,
      }),
    ).rejects.toThrow(/function init failed: Error: TABLE_NAME is required/);
  });
});
