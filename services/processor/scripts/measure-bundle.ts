/**
 * Measures the processor bundle as NodejsFunction builds it (same esbuild options, from
 * lib/app-stack/processor-bundling.ts), and the two dependency decisions taken against it:
 * - Powertools Tracer (X-Ray subsegments for AWS calls) in or out;
 * - zod/mini or classic zod for event validation.
 * For each variant: bundle bytes, and module-load time (the `await import()` of the bundle in a fresh Node 24
 * process with a Lambda-like environment and --enable-source-maps, as deployed). Median and p90 of interleaved runs.
 *
 *   npm run measure:processor -- [runs]     (default 15; --help for the usage)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { esbuildOptionsFromCdk, REFERENCE_ENTRY } from '../../../devkit/bundle.ts';
import { PROCESSOR_ENTRY, processorBundling } from '../../../lib/app-stack/processor-bundling.ts';

const USAGE = `Usage: npm run measure:processor -- [runs]

Builds the processor bundle as NodejsFunction does, and three variants of it (with Powertools Tracer, with
classic zod, SDK clients only), and prints a table of each one's bytes and module-load time: median and p90 wall
time, median CPU time, over [runs] interleaved fresh Node processes each. Writes only to a temporary directory.

Arguments:
  runs          imports per variant, a whole number >= 1 (default 15)
  -h, --help    this text
Exit codes: 0 done, 1 a build or an import failed, 2 usage.`;

/** The run count, read before anything is built; tools/lib/cli.ts is not for scripts (the import rules). */
function readRuns(argv: readonly string[]): number {
  const usageError = (message: string): never => {
    process.stderr.write(`error: ${message}; see --help\n`);
    process.exit(2);
  };
  let parsed: { values: { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const [raw, ...extra] = parsed.positionals;
  if (extra.length > 0) return usageError(`one run count at most, got ${parsed.positionals.length}`);
  if (raw === undefined) return 15;
  const runs = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(runs) && runs >= 1
    ? runs
    : usageError(`runs is "${raw}"; must be a whole number >= 1`);
}

const runs = readRuns(process.argv.slice(2));
const outRoot = mkdtempSync(path.join(tmpdir(), 'processor-measure-'));

interface Variant {
  readonly name: string;
  readonly entry: string;
  readonly alias?: Record<string, string>;
}
const variants: Variant[] = [
  { name: 'handler (deployed: zod/mini, no tracer)', entry: PROCESSOR_ENTRY },
  { name: 'handler + Powertools Tracer', entry: path.join(import.meta.dirname, 'handler-with-tracer.ts') },
  // Same schema code: zod 4 classic exposes the functional API zod/mini uses.
  { name: 'handler with classic zod', entry: PROCESSOR_ENTRY, alias: { 'zod/mini': 'zod' } },
  // The floor: a module that only constructs the S3 and DynamoDB clients (devkit/reference/clients-only.ts).
  { name: 'SDK clients only (floor)', entry: REFERENCE_ENTRY },
];

const env: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  NODE_OPTIONS: '--enable-source-maps',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'processor-measure',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDMEASUREMEASURE00',
  AWS_SECRET_ACCESS_KEY: 'measure',
  TABLE_NAME: 'objects',
  MAX_OBJECT_BYTES: '52428800',
  ALLOWED_CONTENT_TYPES:
    'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,application/json',
  PROCESSING_CONCURRENCY: '10',
  POWERTOOLS_SERVICE_NAME: 's3-object-processor',
  POWERTOOLS_METRICS_NAMESPACE: 'S3ObjectProcessor',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  STAGE_NAME: 'measure',
};

// Wall time is what a cold start waits; CPU time (user + system, all threads) is far less disturbed by other
// processes competing for the cores, so it is the steadier figure for comparing variants on a busy machine.
const PROBE = `
const cpu = process.cpuUsage(); const t = performance.now();
await import(process.argv[1]);
const wall = performance.now() - t; const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ wall, cpu: (used.user + used.system) / 1000 }));`;

interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

function importOnce(file: string): Sample {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE, file], {
    env,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`loading ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Sample;
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

try {
  const built = [];
  for (const [i, v] of variants.entries()) {
    const options = esbuildOptionsFromCdk(processorBundling(), v.entry, path.join(outRoot, String(i)));
    // Merged, not replaced: the deployed options carry an alias of their own (the SDK credential provider).
    await build({ ...options, alias: { ...options.alias, ...v.alias }, logLevel: 'error' });
    built.push({ ...v, file: options.outfile, bytes: statSync(options.outfile).size });
  }
  const samples = built.map(() => [] as Sample[]);
  importOnce(built[0]?.file ?? ''); // warm the file cache once
  for (let r = 0; r < runs; r += 1) {
    for (const [i, b] of built.entries()) samples[i]?.push(importOnce(b.file));
  }
  console.log(`node ${process.version}, ${runs} interleaved runs per variant\n`);
  console.log('variant | bundle bytes | import wall median ms | wall p90 ms | import CPU median ms');
  console.log('--- | ---: | ---: | ---: | ---:');
  for (const [i, b] of built.entries()) {
    const wall = (samples[i] ?? []).map((s) => s.wall);
    const cpu = (samples[i] ?? []).map((s) => s.cpu);
    const f = (n: number) => n.toFixed(1);
    console.log(
      `${b.name} | ${b.bytes} | ${f(percentile(wall, 50))} | ${f(percentile(wall, 90))} | ${f(percentile(cpu, 50))}`,
    );
  }
} finally {
  rmSync(outRoot, { recursive: true, force: true });
}
