import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SerialisedError, WorkerReply, WorkerRequest } from './lambda-protocol.ts';

/**
 * The Lambda service, locally: execution environments are child processes running under this Node (24, as the
 * `nodejs24.x` runtime), each loading the bundle once and running one invocation at a time. Like Lambda it creates
 * environments on demand up to the concurrency limit, kills an environment whose invocation times out, and replaces
 * an environment that crashed with a fresh (cold) one on the next invocation.
 */

export interface LocalLambdaOptions {
  /** Directory holding the deployed bundle (the function's code asset, i.e. /var/task). */
  readonly taskRoot: string;
  /** The function's Handler setting, `<module>.<export>`. */
  readonly handler: string;
  /** The function's complete environment; execution environments inherit nothing else. */
  readonly environment: Readonly<Record<string, string>>;
  /** Invocation timeout (the function's Timeout). */
  readonly timeoutMs: number;
  /** Most execution environments at once (the event source's maximum concurrency). */
  readonly concurrency: number;
  /** Receives every line an execution environment writes (Lambda would ship it to CloudWatch Logs). */
  readonly onLog?: (line: string, pid: number) => void;
}

export interface LocalLambdaStats {
  readonly invocations: number;
  readonly functionErrors: number;
  readonly timeouts: number;
  readonly crashes: number;
  readonly coldStarts: number;
  readonly environments: number;
}

export interface LocalLambdaEvents {
  'cold-start': [{ readonly pid: number; readonly initMs: number }];
  /** An execution environment ended; `duringInvocation` when it took an invocation down with it. */
  'environment-exit': [
    {
      readonly pid: number;
      readonly code: number | null;
      readonly signal: string | null;
      readonly duringInvocation: boolean;
    },
  ];
}

/** Why an invocation failed, as Lambda reports it to the event source. */
export class InvocationError extends Error {
  readonly kind: 'function-error' | 'timeout' | 'runtime-exit' | 'init-error';
  constructor(kind: InvocationError['kind'], message: string) {
    super(message);
    this.name = 'InvocationError';
    this.kind = kind;
  }
}

interface Environment {
  readonly child: ChildProcess;
  readonly pid: number;
  busy?: {
    readonly id: number;
    readonly resolve: (value: unknown) => void;
    readonly reject: (error: Error) => void;
    readonly timer: NodeJS.Timeout;
  };
  /** Taken by an invocation that has not been sent yet; keeps two invocations off one environment. */
  reserved: boolean;
  exited: boolean;
}

const WORKER_SCRIPT = fileURLToPath(new URL('./lambda-worker.ts', import.meta.url));
const SHUTDOWN_GRACE_MS = 2_000;

export class LocalLambda extends EventEmitter<LocalLambdaEvents> {
  private readonly options: LocalLambdaOptions;
  private readonly environments = new Set<Environment>();
  private readonly starting = new Set<Promise<Environment>>();
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  private counters = { invocations: 0, functionErrors: 0, timeouts: 0, crashes: 0, coldStarts: 0 };

  private constructor(options: LocalLambdaOptions) {
    super();
    this.options = options;
  }

  /** Starts one execution environment (so an init error fails here, loudly) and returns the function. */
  static async start(options: LocalLambdaOptions): Promise<LocalLambda> {
    if (!(options.concurrency >= 1))
      throw new RangeError(`concurrency is ${options.concurrency}; must be >= 1`);
    const lambda = new LocalLambda(options);
    await lambda.spawn();
    return lambda;
  }

  /** Invokes the function synchronously (RequestResponse) with `event`. */
  async invoke(event: unknown): Promise<unknown> {
    if (this.closed) throw new InvocationError('runtime-exit', 'the local Lambda is shut down');
    this.counters.invocations++;
    const environment = await this.acquire();
    const id = this.nextId++;
    const deadline = Date.now() + this.options.timeoutMs;
    return new Promise((resolve, reject) => {
      if (environment.exited) {
        reject(new InvocationError('runtime-exit', 'the execution environment exited before the invocation'));
        return;
      }
      const timer = setTimeout(() => {
        this.counters.timeouts++;
        reject(
          new InvocationError(
            'timeout',
            `Task timed out after ${(this.options.timeoutMs / 1000).toFixed(2)} seconds`,
          ),
        );
        environment.busy = undefined;
        // Lambda discards an environment whose invocation timed out; its next invocation is a cold start.
        environment.exited = true;
        this.environments.delete(environment);
        environment.child.kill('SIGKILL');
      }, this.options.timeoutMs);
      environment.reserved = false;
      environment.busy = { id, resolve, reject, timer };
      const request: WorkerRequest = { type: 'invoke', id, event, deadline };
      environment.child.send(request);
    });
  }

  /** Process ids of the live execution environments (fault tests kill them). */
  pids(): number[] {
    return [...this.environments].filter((e) => !e.exited).map((e) => e.pid);
  }

  /** Process ids of environments running an invocation right now. */
  busyPids(): number[] {
    return [...this.environments].filter((e) => e.busy && !e.exited).map((e) => e.pid);
  }

  stats(): LocalLambdaStats {
    return { ...this.counters, environments: this.pids().length };
  }

  /** Stops every execution environment: SIGTERM, then SIGKILL after a grace period. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.allSettled([...this.starting]);
    await Promise.all(
      [...this.environments].map(async (environment) => {
        if (environment.exited) return;
        const exited = new Promise<void>((resolve) => environment.child.once('exit', () => resolve()));
        environment.child.kill('SIGTERM');
        const grace = setTimeout(() => environment.child.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
        await exited;
        clearTimeout(grace);
      }),
    );
  }

  private async acquire(): Promise<Environment> {
    for (;;) {
      if (this.closed) throw new InvocationError('runtime-exit', 'the local Lambda is shut down');
      const idle = [...this.environments].find((e) => !e.busy && !e.reserved && !e.exited);
      if (idle) {
        idle.reserved = true;
        return idle;
      }
      if (this.environments.size + this.starting.size < this.options.concurrency) {
        const environment = await this.spawn();
        if (!environment.busy && !environment.reserved && !environment.exited) {
          environment.reserved = true;
          return environment;
        }
        continue;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private spawn(): Promise<Environment> {
    const started = this.startEnvironment().finally(() => this.starting.delete(started));
    this.starting.add(started);
    return started;
  }

  private startEnvironment(): Promise<Environment> {
    const child = fork(WORKER_SCRIPT, [], {
      cwd: this.options.taskRoot,
      // The two reserved variables the runtime itself needs to find the code.
      env: {
        ...this.options.environment,
        LAMBDA_TASK_ROOT: this.options.taskRoot,
        _HANDLER: this.options.handler,
      },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const pid = child.pid ?? -1;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.options.onLog?.(line, pid));
    }
    const environment: Environment = { child, pid, reserved: false, exited: false };
    return new Promise((resolve, reject) => {
      let ready = false;
      child.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          ready = true;
          this.counters.coldStarts++;
          this.environments.add(environment);
          this.emit('cold-start', { pid, initMs: reply.initMs });
          resolve(environment);
        } else if (reply.type === 'init-error') {
          reject(new InvocationError('init-error', `function init failed: ${describe(reply.error)}`));
        } else {
          this.settle(environment, reply);
        }
      });
      child.on('exit', (code, signal) => {
        environment.exited = true;
        this.environments.delete(environment);
        const busy = environment.busy;
        environment.busy = undefined;
        if (busy) {
          clearTimeout(busy.timer);
          this.counters.crashes++;
          busy.reject(
            new InvocationError(
              'runtime-exit',
              `Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
            ),
          );
        }
        this.emit('environment-exit', { pid, code, signal, duringInvocation: busy !== undefined });
        if (!ready)
          reject(
            new InvocationError('init-error', `execution environment exited during init (${signal ?? code})`),
          );
        this.wakeOne();
      });
      child.on('error', (error) => {
        if (!ready) reject(error);
      });
    });
  }

  private settle(environment: Environment, reply: WorkerReply): void {
    const busy = environment.busy;
    if (!busy || !('id' in reply) || reply.id !== busy.id) return;
    clearTimeout(busy.timer);
    environment.busy = undefined;
    if (reply.type === 'result') {
      busy.resolve(reply.result);
    } else if (reply.type === 'error') {
      this.counters.functionErrors++;
      busy.reject(new InvocationError('function-error', describe(reply.error)));
    }
    this.wakeOne();
  }

  private wakeOne(): void {
    this.waiting.shift()?.();
  }
}

/** The function's error as one line, with its root causes when it only summarises them. */
function describe(error: SerialisedError): string {
  const causes = error.causes?.length ? ` Caused by: ${error.causes.join('; ')}` : '';
  return `${error.name}: ${error.message}${causes}`;
}
