/**
 * Measures the processor bundle as NodejsFunction builds it (same esbuild options, from
 * lib/app-stack/processor-bundling.ts), and the two dependency decisions taken against it:
 * - Powertools Tracer (X-Ray subsegments for AWS calls) in or out;
 * - zod/mini or classic zod for event validation.
 * For each variant: bundle bytes, and module-load time (the `await import()` of the bundle in a fresh Node 24
 * process with a Lambda-like environment and --enable-source-maps, as deployed). Median and p90 of interleaved runs.
 *
 *   node services/processor/scripts/measure-bundle.ts [runs=15]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { esbuildOptionsFromCdk, REFERENCE_ENTRY } from '../../../devkit/bundle.ts';
import { PROCESSOR_ENTRY, processorBundling } from '../../../lib/app-stack/processor-bundling.ts';

const runs = Number(process.argv[2] ?? 15);
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
