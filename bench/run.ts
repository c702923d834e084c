/**
 * `npm run bench`: cold start; batch latency and CPU of the processor next to the reference handlers (SDK-only
 * floor, naive sequential, Powertools batch + idempotency) on an AWS stand-in in its own process; each SDK setting
 * measured on its own; how cost grows with batch size and records in flight; memory over 10,000 objects; AWS
 * requests per object; synth and test-suite time; local throughput. Each figure is measured next to its reference
 * in the same run. Prints tables and writes bench/results.json (only when every section ran, so the committed
 * file always describes one complete run on one machine), then rewrites the figures of docs/performance.md and the
 * cost model (docs/cost-model.md bills the measured CPU) from it.
 *
 *   npm run bench                                   # everything (about 10 minutes on 2 cores)
 *   npm run bench -- --only cold-start,requests     # some sections; prints, does not write results.json
 *   npm run bench -- --skip-tests                   # everything but the `npm test` timing; does not write
 *   npm run bench -- --help                         # the options; runs nothing
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { synthesizeDeployedFunction } from '../devkit/deployed-function.ts';
import { loadProjectConfig } from '../lib/config/resolve.ts';
import { argsOrExit, EXIT, integerOption, parseCommandArgs, ToolError } from '../tools/lib/cli.ts';
import {
  batchSection,
  buildReferenceHandlers,
  type HandlerSpec,
  type ReferenceBundles,
  startOnStandIn,
  urlOf,
} from './batch-latency.ts';
import { coldStartSection, deployedBundlePath } from './cold-start.ts';
import { growthSection, memorySection } from './cost-growth.ts';
import { costModelSection } from './cost-model.ts';
import { type AwsFixture, startAwsFixture } from './lib/aws-fixture.ts';
import type { HostedHandler } from './lib/handler-host.ts';
import { machineInfo } from './lib/machine.ts';
import type { SectionReport } from './lib/report.ts';
import { renderTable } from './lib/table.ts';
import { throughputSection } from './local-throughput.ts';
import { CONTROL, PROCESSOR_CLIENTS, SDK_CANDIDATES } from './reference/sdk-floor-handler.ts';
import { requestsSection } from './requests-per-object.ts';
import { candidatesSection, type FloorVariant } from './sdk-candidates.ts';
import { suiteSection } from './suite-times.ts';
import { readResults, writePerformanceDoc } from './summary.ts';

const SECTIONS = [
  'cold-start',
  'batch',
  'candidates',
  'growth',
  'memory',
  'requests',
  'suite',
  'throughput',
] as const;
/** Sections measured on the stand-in, sharing one set of hosted handlers. */
const STAND_IN_SECTIONS: readonly Section[] = ['batch', 'candidates', 'growth', 'memory'];
type Section = (typeof SECTIONS)[number];

/** The stage whose deployed function is measured: production's memory and concurrency settings. */
const STAGE = 'prod';
/** Added latency per AWS request for the batch figures: a same-region S3 GET or DynamoDB write is of this order. */
const LATENCY_MS = 10;
/** Objects through one execution environment for the memory figures. */
const MEMORY_OBJECTS = 10_000;
const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');

const BENCH_HELP = `Usage: npm run bench -- [options]

Measures the processor next to its reference handlers (cold start, batch latency and CPU, SDK settings, cost
growth, memory, requests per object, synth and test-suite time, local throughput) and prints the tables. A
complete run (every section, the npm test timing included; about 10 minutes on 2 cores) also writes
bench/results.json and rewrites docs/performance.md and docs/cost-model.md from it; any other run writes nothing.

Options:
  --only <list>             only these sections, comma-separated (a partial run):
                            ${SECTIONS.join(', ')}
  --skip-tests              every section but the \`npm test\` timing (a partial run)
  --cold-start-runs <n>     fresh processes per cold-start subject (default 15)
  --batch-runs <n>          measured passes per batch case (default 15)
  --synth-runs <n>          timed synths of each app (default 3)
  -h, --help                this text
Exit codes: 0 done, 1 a measurement failed, 2 usage.`;

/** The command line, checked before anything is synthesized or started. */
function benchArgs(argv: readonly string[]) {
  const values = parseCommandArgs(argv, {
    only: { type: 'string' },
    'skip-tests': { type: 'boolean' },
    'cold-start-runs': { type: 'string' },
    'batch-runs': { type: 'string' },
    'synth-runs': { type: 'string' },
  });
  if (values.help) return 'help';
  const selected: readonly Section[] = values.only
    ? values.only.split(',').map((name) => {
        if (!(SECTIONS as readonly string[]).includes(name)) {
          throw new ToolError(
            `--only: unknown section "${name}"; sections: ${SECTIONS.join(', ')}`,
            EXIT.usage,
          );
        }
        return name as Section;
      })
    : SECTIONS;
  return {
    selected,
    skipTests: values['skip-tests'] ?? false,
    coldStartRuns: integerOption('cold-start-runs', values['cold-start-runs'], 15),
    batchRuns: integerOption('batch-runs', values['batch-runs'], 15),
    synthRuns: integerOption('synth-runs', values['synth-runs'], 3),
  };
}

const { selected, skipTests, coldStartRuns, batchRuns, synthRuns } = argsOrExit(
  () => benchArgs(process.argv.slice(2)),
  BENCH_HELP,
);
const complete = selected.length === SECTIONS.length && !skipTests;

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
const machine = machineInfo();
const workDir = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
const reports: SectionReport[] = [];
try {
  progress(`synthesizing the ${STAGE} stage to take its function's code asset`);
  const deployed = synthesizeDeployedFunction({ stageName: STAGE, outdir: path.join(workDir, 'cdk.out') });
  const bundleUrl = pathToFileURL(deployedBundlePath(deployed)).href;
  progress("bundling the reference handlers with the processor's esbuild options");
  const references = await buildReferenceHandlers(path.join(workDir, 'references'));

  if (selected.includes('cold-start')) {
    progress(`cold start (${coldStartRuns} fresh processes per subject)`);
    reports.push(
      await coldStartSection({
        deployed,
        workDir: path.join(workDir, 'bundles'),
        runs: coldStartRuns,
        references,
      }),
    );
  }
  if (selected.some((name) => STAND_IN_SECTIONS.includes(name)) || selected.includes('requests')) {
    const fixture = await startAwsFixture(STAGE);
    try {
      if (selected.some((name) => STAND_IN_SECTIONS.includes(name))) {
        progress("recording the emulators' answers through the stand-in");
        reports.push(
          ...(await standInSections(
            fixture,
            bundleUrl,
            references,
            deployed.stage.processor.recordConcurrency,
          )),
        );
      }
      if (selected.includes('requests')) {
        progress('requests per object');
        reports.push(await requestsSection(fixture, bundleUrl, urlOf(references.peer)));
      }
    } finally {
      await fixture.close();
    }
  }
  if (selected.includes('suite')) {
    progress(`synth (${synthRuns} runs each) and ${skipTests ? 'not ' : ''}npm test`);
    reports.push(await suiteSection({ synthRuns, includeTests: !skipTests }));
  }
  if (selected.includes('throughput')) {
    progress('local environment throughput');
    reports.push(await throughputSection());
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

/** Every section measured on the stand-in: one set of handlers, recorded once, warmed up once. */
async function standInSections(
  fixture: AwsFixture,
  bundleUrl: string,
  references: ReferenceBundles,
  stageConcurrency: number,
): Promise<SectionReport[]> {
  const variants: FloorVariant[] = ['default', CONTROL, ...SDK_CANDIDATES, PROCESSOR_CLIENTS];
  // Handlers that targets compare within a few percent run as several processes each (see `replicated`).
  const floorSpecs: HandlerSpec[] = variants.map((candidate) => ({
    name: `floor ${candidate}`,
    moduleUrl: urlOf(references.floor),
    env: candidate === 'default' ? {} : ({ SDK_CANDIDATE: candidate } as Record<string, string>),
    replicas: candidate === 'default' ? 3 : 2,
  }));
  const specs: HandlerSpec[] = [
    { name: 'processor', moduleUrl: bundleUrl, replicas: 3 },
    { name: 'processor wide', moduleUrl: bundleUrl, env: { PROCESSING_CONCURRENCY: '100' }, replicas: 3 },
    { name: 'processor sequential', moduleUrl: bundleUrl, env: { PROCESSING_CONCURRENCY: '1' } },
    {
      name: 'processor quiet',
      moduleUrl: bundleUrl,
      env: { POWERTOOLS_LOG_LEVEL: 'ERROR', PROCESSING_CONCURRENCY: '100' },
      replicas: 2,
    },
    { name: 'processor memory', moduleUrl: bundleUrl, nodeFlags: ['--expose-gc'] },
    { name: 'naive', moduleUrl: urlOf(references.naive) },
    { name: 'peer', moduleUrl: urlOf(references.peer), replicas: 2 },
    ...floorSpecs,
  ];
  const { aws, handlers, shapes } = await startOnStandIn(fixture, specs);
  const byName = new Map(specs.map((spec, i) => [spec.name, handlers[i] as HostedHandler]));
  const handler = (name: string) => byName.get(name) as HostedHandler;
  const floors = Object.fromEntries(
    floorSpecs.map((spec) => [spec.name.slice('floor '.length), handler(spec.name)]),
  ) as Record<FloorVariant, HostedHandler>;
  progress(`stand-in recorded ${shapes.join(', ')}`);
  const out: SectionReport[] = [];
  try {
    if (selected.includes('batch')) {
      progress(`batch latency (${LATENCY_MS} ms added per request)`);
      const batch = await batchSection({
        aws,
        handlers: {
          processor: handler('processor'),
          processorWide: handler('processor wide'),
          floor: floors.default,
          naive: handler('naive'),
          peer: handler('peer'),
        },
        stageConcurrency,
        latencyMs: LATENCY_MS,
        runs: batchRuns,
      });
      out.push(batch);
      const { config } = loadProjectConfig({ sandboxAccount: 'optional' });
      const memory = Object.fromEntries(config.stages.map((s) => [s.stageName, s.processor.memoryMiB]));
      out.push(costModelSection(batch.batch10, memory));
    }
    if (selected.includes('candidates')) {
      progress('SDK settings, one at a time on the floor handler, and the log line');
      out.push(
        await candidatesSection({
          aws,
          floors,
          processor: handler('processor wide'),
          processorQuiet: handler('processor quiet'),
          runs: batchRuns,
        }),
      );
    }
    if (selected.includes('growth')) {
      progress('cost by batch size and records in flight');
      out.push(
        await growthSection({
          aws,
          processorByConcurrency: {
            1: handler('processor sequential'),
            10: handler('processor'),
            100: handler('processor wide'),
          },
          floor: floors.default,
          latencyMs: LATENCY_MS,
          runs: batchRuns,
        }),
      );
    }
    if (selected.includes('memory')) {
      progress(`memory over ${MEMORY_OBJECTS} objects`);
      out.push(await memorySection(aws, handler('processor memory'), MEMORY_OBJECTS));
    }
  } finally {
    await Promise.all(handlers.map((h) => h.stop()));
    await aws.standIn.stop();
  }
  return out;
}

const out: string[] = [
  `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryMiB} MiB, ${machine.os} ${machine.arch}; Node ${machine.nodeVersion}; ${machine.date}; commit ${machine.gitCommit}; load average at start ${machine.loadAverage.join(', ')}`,
];
for (const report of reports) {
  out.push('', `## ${report.title}`, '', renderTable(report.header, report.rows));
  if (report.targets.length > 0) {
    out.push('', ...report.targets.map((t) => `- ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.measured}`));
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `  ${n}`));
}
process.stdout.write(`${out.join('\n')}\n`);

if (complete) {
  const results = {
    command: 'npm run bench',
    machine,
    loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    stage: STAGE,
    sections: Object.fromEntries(
      reports.map((r) => [r.key, { title: r.title, targets: r.targets, notes: r.notes, results: r.results }]),
    ),
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
  // The pages quoting these figures follow in the same step, so the committed results, the page and the cost
  // model never describe different runs (npm test compares them).
  if (writePerformanceDoc(readResults(RESULTS_FILE))) progress('updated docs/performance.md');
  // Loaded only now: it synthesizes a stack, which the measured sections should not share a process with.
  const { generateDocs, staleDocs } = await import('../tools/docs/generate.ts');
  const root = path.join(import.meta.dirname, '..');
  const generated = await generateDocs(root);
  for (const stale of await staleDocs(root, generated)) {
    writeFileSync(path.join(root, stale), generated.files.get(stale) as string);
    progress(`updated ${stale}`);
  }
} else {
  progress('partial run: bench/results.json left as it was');
}
