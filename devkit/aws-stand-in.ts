/**
 * A stand-in for S3 and DynamoDB in a process of its own, for latency figures that should measure the handler and
 * the round trips, not the emulators. s3rver and dynalite are real implementations of the APIs, but each request
 * costs them a millisecond or more of CPU, on the benchmark's own thread; a batch of concurrent requests queues
 * there (AWS serves them in parallel) and the queueing shows up as the handler's latency.
 *
 * The stand-in is two aws-proxy instances (devkit/aws-proxy.ts) in a child process. They first forward to the
 * emulators and record the first answer to each request shape (method, operation, Range); after
 * `replayFromNowOn()` they answer every request of a recorded shape from the recording, after the configured
 * latency, without touching the emulators. Requests are still counted per operation, and `usage()` reports the
 * stand-in's own CPU time, so a reader can see what it costs per request.
 *
 * ```ts
 * const standIn = await startAwsStandIn({ s3Upstream: aws.s3Endpoint, dynamodbUpstream: aws.dynamodbEndpoint });
 * // point a handler at standIn.s3Endpoint / standIn.dynamodbEndpoint, run one real batch through it, then:
 * await standIn.replayFromNowOn();   // ['GET GetObjectRange bytes=0-4095 -> 206', 'POST PutItem -> 200']
 * await standIn.setLatency(10);
 * await standIn.reset();
 * // ... measured batches ...
 * await standIn.usage();             // { counts: { GetObjectRange: 10, PutItem: 10 }, cpuMs: 1.9, ... }
 * await standIn.stop();
 * ```
 *
 * Replay fits workloads whose requests of one shape get one answer: the benchmark's fresh objects of one content
 * (one ETag) and writes that all succeed. A shape that got different answers while recording is answered 501, as
 * is one never recorded, so such a run fails instead of measuring something else.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface StandInUpstreams {
  /** The S3 emulator the stand-in records from, e.g. s3rver's endpoint. */
  readonly s3Upstream: string;
  /** The DynamoDB emulator the stand-in records from, e.g. dynalite's endpoint. */
  readonly dynamodbUpstream: string;
}

/** Parent -> stand-in. */
export type StandInRequest =
  | { readonly id: number; readonly op: 'replay' | 'reset' | 'usage' }
  | { readonly id: number; readonly op: 'latency'; readonly ms: number };

/** Stand-in -> parent (id -1: started). */
export interface StandInReply {
  readonly id: number;
  readonly s3Endpoint?: string;
  readonly dynamodbEndpoint?: string;
  readonly shapes?: readonly string[];
  readonly counts?: Readonly<Record<string, number>>;
  readonly replayMisses?: number;
  readonly cpuMs?: number;
}

/** Since the last `reset()`. */
export interface StandInUsage {
  /** Requests per operation, S3 and DynamoDB together. */
  readonly counts: Readonly<Record<string, number>>;
  readonly requests: number;
  /** Requests answered 501 because their shape was not recorded (or ambiguously): should be 0. */
  readonly replayMisses: number;
  /** CPU time of the stand-in process (all its threads, user + system). */
  readonly cpuMs: number;
  readonly cpuMsPerRequest: number;
}

export interface AwsStandIn {
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  /** Stops forwarding: from now on recorded shapes are answered from the recording. Returns the shapes. */
  replayFromNowOn(): Promise<readonly string[]>;
  /** Latency added to every request, S3 and DynamoDB alike, in ms. */
  setLatency(ms: number): Promise<void>;
  /** Zeroes the counts and the CPU time. */
  reset(): Promise<void>;
  usage(): Promise<StandInUsage>;
  stop(): Promise<void>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const SCRIPT = path.join(import.meta.dirname, 'aws-stand-in-process.ts');
const START_TIMEOUT_MS = 30_000;

export async function startAwsStandIn(upstreams: StandInUpstreams): Promise<AwsStandIn> {
  const child: ChildProcess = spawn(process.execPath, [SCRIPT, JSON.stringify(upstreams)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (reply: StandInReply) => void>();
  let exited: Error | undefined;
  const started = new Promise<StandInReply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('aws stand-in did not start')), START_TIMEOUT_MS);
    child.on('message', (reply: StandInReply) => {
      if (reply.id === -1) {
        clearTimeout(timer);
        resolve(reply);
        return;
      }
      pending.get(reply.id)?.(reply);
      pending.delete(reply.id);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      exited = new Error(`aws stand-in exited (${signal ?? code})`);
      reject(exited);
      pending.clear();
    });
  });
  let ready: StandInReply;
  try {
    ready = await started;
  } catch (error) {
    child.kill();
    throw error;
  }
  let nextId = 0;
  const ask = (request: WithoutId<StandInRequest>): Promise<StandInReply> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      child.send({ ...request, id });
    });
  };
  return {
    s3Endpoint: ready.s3Endpoint as string,
    dynamodbEndpoint: ready.dynamodbEndpoint as string,
    async replayFromNowOn() {
      return (await ask({ op: 'replay' })).shapes ?? [];
    },
    async setLatency(ms) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`aws stand-in: latency ${ms} must be >= 0`);
      await ask({ op: 'latency', ms });
    },
    async reset() {
      await ask({ op: 'reset' });
    },
    async usage() {
      const reply = await ask({ op: 'usage' });
      const counts = reply.counts ?? {};
      const requests = Object.values(counts).reduce((a, b) => a + b, 0);
      const cpuMs = reply.cpuMs ?? 0;
      return {
        counts,
        requests,
        replayMisses: reply.replayMisses ?? 0,
        cpuMs,
        cpuMsPerRequest: requests === 0 ? 0 : cpuMs / requests,
      };
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(killer);
    },
  };
}
