/**
 * The bounded load run: N objects uploaded concurrently (some overwritten, some deleted, some lying about their
 * type) while the proxies inject throttling, 5xx, dropped connections and lost responses. At the end it checks the
 * product's invariant: every uploaded key is accounted for, as an item or in the dead-letter store, and every item
 * matches its object's latest version. It measures throughput and end-to-end latency (upload acknowledged ->
 * item written, from the item's processedAt); it never asserts timings.
 *
 * Library for reliability/load.test.ts, and a runner:
 *   node reliability/load.ts --objects 2000 --seed 7
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { AwsFaultRule } from '../devkit/aws-proxy.ts';
import { recordOf } from './events.ts';
import { type Item, type SynthesizedProcessor, startReliabilityEnv, synthesizeProcessor } from './harness.ts';

export interface LoadOptions {
  readonly processor: SynthesizedProcessor;
  /** Distinct keys uploaded. */
  readonly objects: number;
  /** Seed of the workload and of the fault decisions. @default 7 */
  readonly seed?: number;
  /** Uploads in flight at once. @default 64 */
  readonly uploadConcurrency?: number;
}

/** Faults injected during the run: each a share of the processor's requests of that operation. */
export const LOAD_DYNAMODB_FAULTS: readonly AwsFaultRule[] = [
  { operations: ['PutItem', 'UpdateItem'], fault: 'dynamodb-provisioned-throughput-exceeded', share: 0.05 },
  { operations: ['PutItem', 'UpdateItem'], fault: 'dynamodb-throttling', share: 0.05 },
  { operations: ['PutItem', 'UpdateItem'], fault: 'dynamodb-internal-server-error', share: 0.03 },
  { operations: ['PutItem', 'UpdateItem'], fault: 'response-lost', share: 0.02 },
];
export const LOAD_S3_FAULTS: readonly AwsFaultRule[] = [
  { operations: ['GetObjectRange'], fault: 's3-slow-down', share: 0.05 },
  { operations: ['GetObjectRange'], fault: 's3-internal-error', share: 0.03 },
  { operations: ['GetObjectRange'], fault: 'connection-reset', share: 0.01 },
];
/** Shares of keys that get a second version, or are deleted, while the first is being processed. */
const OVERWRITE_SHARE = 0.1;
const DELETE_SHARE = 0.05;

/** What the final state of a key must be. */
interface Expectation {
  readonly key: string;
  /** ETag of the latest version, or undefined when the key was deleted last. */
  eTag?: string;
  status: 'PROCESSED' | 'REJECTED' | 'DELETED';
  /** When the latest change (upload or delete) was acknowledged, epoch ms. */
  acknowledgedAt: number;
}

export interface LoadReport {
  readonly objects: number;
  readonly seed: number;
  readonly overwritten: number;
  readonly deleted: number;
  readonly durationMs: number;
  readonly objectsPerSecond: number;
  /** Upload acknowledged -> item written (processedAt), for keys whose latest change has an item. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly items: Readonly<Record<string, number>>;
  readonly deadLetteredKeys: readonly string[];
  /** Dead-lettered keys that have no item: with the items, they must add up to `objects`. */
  readonly deadLetteredOnly: readonly string[];
  readonly redeliveries: number;
  readonly faultsInjected: Readonly<Record<string, number>>;
  readonly maxAttemptsPerCall: { readonly dynamodb: number; readonly s3: number };
  readonly invocations: number;
  /** Keys neither itemised nor dead-lettered (must be empty). */
  readonly lost: readonly string[];
  /** Keys whose item does not match the latest version (must be empty). */
  readonly mismatched: readonly string[];
  /** Items for keys never uploaded (must be empty). */
  readonly unexpected: readonly string[];
}

/** Runs the load and returns what it found; the caller asserts. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const seed = options.seed ?? 7;
  const random = mulberry32(seed);
  const env = await startReliabilityEnv({
    processor: options.processor,
    seed,
    dynamodbFaults: LOAD_DYNAMODB_FAULTS,
    s3Faults: LOAD_S3_FAULTS,
    // Above the longest a batch can take (DynamoDB throttling backoff up to 7.5 s): only failed messages return.
    visibilityTimeoutMs: 15_000,
  });
  try {
    const expectations = new Map<string, Expectation>();
    const plans = Array.from({ length: options.objects }, (_, i) => ({
      key: `load/${String(i).padStart(5, '0')}-${sample(random).name}`,
      first: sample(random),
      second: random() < OVERWRITE_SHARE ? sample(random) : undefined,
      remove: random() < DELETE_SHARE,
    }));

    const started = Date.now();
    await pool(plans, options.uploadConcurrency ?? 64, async (plan) => {
      const upload = async (content: Content) => {
        const { eTag } = await env.upload(plan.key, content.body, content.declared);
        expectations.set(plan.key, {
          key: plan.key,
          eTag,
          status: content.status,
          acknowledgedAt: Date.now(),
        });
      };
      await upload(plan.first);
      if (plan.second) await upload(plan.second);
      if (plan.remove) {
        await env.s3.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: plan.key }));
        expectations.set(plan.key, { key: plan.key, status: 'DELETED', acknowledgedAt: Date.now() });
      }
    });
    // Generous: the run itself takes seconds per hundred objects; a stuck queue fails loudly here.
    await env.drained(120_000 + options.objects * 500);

    const items = await env.items();
    const deadLetteredKeys = [
      ...new Set(
        env.deadLetters().flatMap((d) => {
          try {
            return [recordOf(d.body).key];
          } catch {
            return [];
          }
        }),
      ),
    ].sort();
    const lost: string[] = [];
    const mismatched: string[] = [];
    const latencies: number[] = [];
    let lastProcessedAt = started;
    for (const expected of expectations.values()) {
      const item = items.get(expected.key);
      if (!item) {
        if (!deadLetteredKeys.includes(expected.key)) lost.push(expected.key);
        continue;
      }
      if (!matches(item, expected)) {
        mismatched.push(
          `${expected.key}: expected ${JSON.stringify(expected)}, item ${JSON.stringify(item)}`,
        );
        continue;
      }
      const processedAt = Date.parse(item.processedAt ?? '');
      lastProcessedAt = Math.max(lastProcessedAt, processedAt);
      latencies.push(processedAt - expected.acknowledgedAt);
    }
    const unexpected = [...items.keys()].filter((k) => !expectations.has(k));
    const durationMs = lastProcessedAt - started;
    const perCall = (calls: Map<string, number>) => Math.max(0, ...calls.values());
    return {
      objects: options.objects,
      seed,
      overwritten: plans.filter((p) => p.second).length,
      deleted: plans.filter((p) => p.remove).length,
      durationMs,
      objectsPerSecond: round((options.objects / Math.max(1, durationMs)) * 1000),
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: percentile(latencies, 1),
      },
      items: countBy([...items.values()].map((i) => i.status ?? '?')),
      deadLetteredKeys,
      deadLetteredOnly: deadLetteredKeys.filter((k) => !items.has(k)),
      redeliveries: env.redelivered.length,
      faultsInjected: { ...env.dynamodbProxy.faultCounts(), ...env.s3Proxy.faultCounts() },
      maxAttemptsPerCall: {
        dynamodb: perCall(attemptsByInvocation(env.dynamodbProxy.requests())),
        s3: perCall(attemptsByInvocation(env.s3Proxy.requests())),
      },
      invocations: env.lambda.stats().invocations,
      lost,
      mismatched,
      unexpected,
    };
  } finally {
    await env.close();
  }
}

function matches(item: Item, expected: Expectation): boolean {
  if (item.status !== expected.status) return false;
  return expected.status === 'DELETED' || item.eTag === expected.eTag;
}

function attemptsByInvocation(
  requests: ReadonlyArray<{ readonly sdkInvocationId?: string }>,
): Map<string, number> {
  const calls = new Map<string, number>();
  for (const r of requests) {
    if (r.sdkInvocationId !== undefined)
      calls.set(r.sdkInvocationId, (calls.get(r.sdkInvocationId) ?? 0) + 1);
  }
  return calls;
}

interface Content {
  readonly name: string;
  readonly body: Uint8Array;
  readonly declared: string;
  readonly status: 'PROCESSED' | 'REJECTED';
}

const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);

/** The workload's mix: mostly accepted content, one in twenty lying about its type. */
function sample(random: () => number): Content {
  const r = random();
  const n = Math.floor(random() * 1e9);
  if (r < 0.7) {
    return {
      name: 'note.txt',
      body: Buffer.from(`note ${n}\n`),
      declared: 'text/plain',
      status: 'PROCESSED',
    };
  }
  if (r < 0.8) {
    return {
      name: 'data.json',
      body: Buffer.from(`{"n":${n}}`),
      declared: 'application/json',
      status: 'PROCESSED',
    };
  }
  if (r < 0.9) {
    return {
      name: 'image.png',
      body: Buffer.concat([PNG, Buffer.from(String(n))]),
      declared: 'image/png',
      status: 'PROCESSED',
    };
  }
  if (r < 0.95) {
    return {
      name: 'doc.pdf',
      body: Buffer.from(`%PDF-1.7\n${n}\n`),
      declared: 'application/pdf',
      status: 'PROCESSED',
    };
  }
  return {
    name: 'liar.txt',
    body: Buffer.concat([PNG, Buffer.from(String(n))]),
    declared: 'text/plain',
    status: 'REJECTED',
  };
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

/** A small seeded PRNG, so a seed reproduces the workload exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** One-line human summary of a report. */
export function summarise(report: LoadReport): string {
  return (
    `${report.objects} objects (seed ${report.seed}; ${report.overwritten} overwritten, ${report.deleted} deleted) in ` +
    `${(report.durationMs / 1000).toFixed(1)} s: ${report.objectsPerSecond} objects/s, end-to-end p50 ` +
    `${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms; items ` +
    `${JSON.stringify(report.items)}, dead-lettered ${report.deadLetteredKeys.length}, redeliveries ` +
    `${report.redeliveries}, faults ${JSON.stringify(report.faultsInjected)}, max attempts per call ` +
    `${JSON.stringify(report.maxAttemptsPerCall)}`
  );
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const objects = arg('objects', 2000);
  const seed = arg('seed', 7);
  const processor = await synthesizeProcessor();
  try {
    const report = await runLoad({ processor, objects, seed });
    console.log(summarise(report));
    console.log(JSON.stringify(report, null, 2));
    const broken = report.lost.length + report.mismatched.length + report.unexpected.length;
    if (broken > 0) process.exitCode = 1;
  } finally {
    await processor.dispose();
  }
}
