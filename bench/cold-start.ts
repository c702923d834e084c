import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  LAMBDA_RUNTIME_ENVIRONMENT,
  PROCESSOR_ARCHITECTURE,
  PROCESSOR_RUNTIME,
} from '../lib/app-stack/processor-bundling.ts';
import { loadAppConfig, stageByName } from '../lib/config/app-config.ts';
import { processorEnvironment } from '../lib/config/processor-environment.ts';
import { round, summarise, type TimingSummary } from './lib/stats.ts';

/**
 * Runs in a fresh Node process: `performance.now()` counts from the process's time origin (its start), so
 * `loadedMs` is start-to-handler-ready as Lambda's init phase sees it, and `importMs` is the import alone.
 * The result goes to fd 3 so nothing the module prints at load can corrupt it. Without a module argument the
 * same script is the bare `node -e` reference.
 */
const PROBE = `
const beforeImport = performance.now();
if (process.argv[1]) await import(process.argv[1]);
const loadedMs = performance.now();
process.getBuiltinModule('node:fs').writeSync(3, JSON.stringify({ loadedMs, importMs: loadedMs - beforeImport }));
`;

/** One thing whose cold start is measured. */
export interface LoadSubject {
  readonly name: string;
  /** Bundle to import; undefined measures a bare `node -e`. */
  readonly bundle?: string;
  /** Extra environment on top of the Lambda-like one (e.g. NODE_OPTIONS). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  readonly name: string;
  /** Process start to module ready. */
  readonly loaded: TimingSummary;
  /** The `await import(bundle)` alone. */
  readonly importOnly: TimingSummary;
}

/**
 * The environment the function sees at init on Lambda (the variables Lambda sets plus the stack's own), so
 * module-scope code takes the same branches it takes there: Powertools enables tracing when
 * AWS_EXECUTION_ENV says Lambda, the X-Ray SDK enters Lambda mode on LAMBDA_TASK_ROOT, and NODE_OPTIONS
 * --enable-source-maps makes Node parse the source map at load.
 */
export function lambdaLikeEnvironment(bundle: string | undefined): Record<string, string> {
  const prod = stageByName(loadAppConfig(), 'prod');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_EXECUTION_ENV: `AWS_Lambda_${PROCESSOR_RUNTIME.name}`,
    AWS_LAMBDA_FUNCTION_NAME: 'bench-processor',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(prod.processor.memoryMiB),
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/bench-processor',
    AWS_LAMBDA_LOG_STREAM_NAME: 'bench',
    AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
    LAMBDA_TASK_ROOT: bundle ? path.dirname(bundle) : process.cwd(),
    AWS_REGION: prod.region,
    AWS_DEFAULT_REGION: prod.region,
    AWS_ACCESS_KEY_ID: 'AKIDBENCHBENCHBENCH0',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_SESSION_TOKEN: 'bench-token',
    ...processorEnvironment(prod, 'bench-table'),
    ...LAMBDA_RUNTIME_ENVIRONMENT,
  };
}

function probeOnce(subject: LoadSubject): Promise<{ loadedMs: number; importMs: number }> {
  return new Promise((resolve, reject) => {
    const args = ['--input-type=module', '-e', PROBE];
    if (subject.bundle) args.push(pathToFileURL(subject.bundle).href);
    const child = spawn(process.execPath, args, {
      env: { ...lambdaLikeEnvironment(subject.bundle), ...subject.env },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let result = '';
    let stderr = '';
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      result += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || result === '') {
        reject(new Error(`cold-start probe of ${subject.name} exited ${code}: ${stderr.slice(0, 2000)}`));
        return;
      }
      resolve(JSON.parse(result) as { loadedMs: number; importMs: number });
    });
  });
}

/**
 * Measures every subject `runs` times, interleaved (a, b, c, a, b, c, ...) so that load from other work on a
 * shared machine spreads over all subjects instead of biasing whichever ran during it. The first round warms
 * the file cache and is discarded.
 */
export async function measureColdStarts(
  subjects: readonly LoadSubject[],
  runs: number,
): Promise<LoadResult[]> {
  const samples = subjects.map(() => ({ loaded: [] as number[], importOnly: [] as number[] }));
  for (let round = -1; round < runs; round++) {
    for (const [i, subject] of subjects.entries()) {
      const sample = await probeOnce(subject);
      if (round < 0) continue;
      samples[i]?.loaded.push(sample.loadedMs);
      samples[i]?.importOnly.push(sample.importMs);
    }
  }
  return subjects.map((subject, i) => ({
    name: subject.name,
    loaded: summarise(samples[i]?.loaded ?? []),
    importOnly: summarise(samples[i]?.importOnly ?? []),
  }));
}

/** Lambda's architecture for the record: these figures come from the bench machine, not from Graviton. */
export const DEPLOYED_ARCHITECTURE = PROCESSOR_ARCHITECTURE.name;

export function ratio(value: number, reference: number): number {
  return round(value / reference);
}
