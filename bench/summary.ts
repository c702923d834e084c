/**
 * The README's performance summary, rendered from bench/results.json, so the README cannot quote figures the
 * committed run did not produce (test/budgets/readme-performance.test.ts compares them).
 *
 *   node bench/summary.ts      # (under Node 24: npx node, or node_modules/.bin/node) prints the block for the README
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderTable } from './lib/table.ts';

export const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');

interface Timing {
  readonly medianMs: number;
}
interface BatchCase {
  readonly batchSize: number;
  readonly concurrency: number;
  readonly floorMs: number;
  readonly wall: Timing;
  readonly ratioToFloor: number;
}
interface Scenario {
  readonly scenario: string;
  readonly perObject: Readonly<Record<string, number>>;
  readonly budget: Readonly<Record<string, number>>;
  readonly withinBudget: boolean;
}

/** The parts of results.json the summary reads. */
export interface BenchResults {
  readonly machine: {
    readonly cpuModel: string;
    readonly cores: number;
    readonly os: string;
    readonly arch: string;
    readonly nodeVersion: string;
    readonly date: string;
    readonly gitCommit: string;
    readonly loadAverage: readonly number[];
  };
  readonly sections: {
    readonly coldStart: {
      readonly results: {
        readonly deployedBundleBytes: number;
        readonly referenceBundleBytes: number;
        readonly processor: { readonly loaded: Timing; readonly loadedCpu: Timing };
        readonly reference: { readonly loaded: Timing; readonly loadedCpu: Timing };
        readonly ratioToReference: number;
        readonly cpuRatioToReference: number;
        readonly targets: { readonly ratioToReference: number; readonly bundleBytes: number };
      };
    };
    readonly batchLatency: {
      readonly results: {
        readonly latencyMs: number;
        readonly cases: {
          readonly batch10: BatchCase;
          readonly naive10: BatchCase;
          readonly batch100Concurrency100: BatchCase;
          readonly naive100: BatchCase;
        };
        readonly speedupOverNaive: { readonly batch10: number; readonly batch100: number };
        readonly targets: { readonly ratioToFloorAtBatch10: number; readonly speedupOverNaive: number };
      };
    };
    readonly requestsPerObject: { readonly results: readonly Scenario[] };
    readonly suiteTimes: {
      readonly results: {
        readonly synth: { readonly app: Timing; readonly minimalApp: Timing };
        readonly tests?: {
          readonly wallMs: number;
          readonly files: number;
          readonly tests: number;
          readonly exitCode: number | null;
        };
      };
    };
    readonly costModel: {
      readonly results: {
        readonly inputs: { readonly handlerCpuMs: number; readonly roundTripsMs: number };
        readonly points: readonly {
          readonly memoryMiB: number;
          readonly cpuMs: number;
          readonly durationLowMs: number;
          readonly durationHighMs: number;
          readonly usdPerMillionObjects: number;
        }[];
      };
    };
    readonly localThroughput: {
      readonly results: {
        readonly stage: string;
        readonly endToEndRate: number;
        readonly uploadRate: number;
      };
    };
  };
}

export function readResults(file = RESULTS_FILE): BenchResults {
  return JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
}

const msText = (v: number) => `${v.toFixed(1)} ms`;
const sText = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const x = (v: number) => `${v.toFixed(2)}x`;
const bytes = (v: number) => `${v.toLocaleString('en-US')} B`;
const verdict = (met: boolean) => (met ? 'met' : '**missed**');

function requests(perObject: Readonly<Record<string, number>>): string {
  const parts = Object.entries(perObject)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${n} ${op}`);
  return parts.length === 0 ? 'none' : parts.join(' + ');
}

/** Modelled Lambda duration and cost per memory size (bench/cost-model.ts), as Markdown. */
export function renderCostModel(results: BenchResults): string {
  const { points } = results.sections.costModel.results;
  return renderTable(
    ['memory', 'handler CPU per batch of 10', 'batch duration', 'Lambda USD per million objects'],
    points.map((p) => [
      `${p.memoryMiB} MB`,
      msText(p.cpuMs),
      `${msText(p.durationLowMs)} .. ${msText(p.durationHighMs)}`,
      `$${p.usdPerMillionObjects.toFixed(3)}`,
    ]),
  );
}

/** The machine line and the summary table, as Markdown. */
export function renderSummary(results: BenchResults): string {
  const { machine, sections } = results;
  const cold = sections.coldStart.results;
  const batch = sections.batchLatency.results;
  const { batch10, naive10, batch100Concurrency100: wide, naive100 } = batch.cases;
  const suite = sections.suiteTimes.results;
  const local = sections.localThroughput.results;
  const rows: string[][] = [
    [
      'cold start: process start to handler ready',
      msText(cold.processor.loaded.medianMs),
      `${msText(cold.reference.loaded.medianMs)} (S3 + DynamoDB clients only)`,
      `${x(cold.ratioToReference)} (CPU ${x(cold.cpuRatioToReference)})`,
      `<= ${cold.targets.ratioToReference}x`,
      verdict(cold.ratioToReference <= cold.targets.ratioToReference),
    ],
    [
      'bundle (minified ESM)',
      bytes(cold.deployedBundleBytes),
      bytes(cold.referenceBundleBytes),
      x(cold.deployedBundleBytes / cold.referenceBundleBytes),
      `<= ${bytes(cold.targets.bundleBytes)}`,
      verdict(cold.deployedBundleBytes <= cold.targets.bundleBytes),
    ],
    [
      `batch of ${batch10.batchSize}, ${batch.latencyMs} ms added per request`,
      msText(batch10.wall.medianMs),
      `floor ${msText(batch10.floorMs)}`,
      x(batch10.ratioToFloor),
      `<= ${batch.targets.ratioToFloorAtBatch10}x`,
      verdict(batch10.ratioToFloor <= batch.targets.ratioToFloorAtBatch10),
    ],
    [
      `batch of ${batch10.batchSize} vs naive sequential`,
      msText(batch10.wall.medianMs),
      msText(naive10.wall.medianMs),
      `${x(batch.speedupOverNaive.batch10)} faster`,
      `>= ${batch.targets.speedupOverNaive}x`,
      verdict(batch.speedupOverNaive.batch10 >= batch.targets.speedupOverNaive),
    ],
    [
      `batch of ${wide.batchSize} (PROCESSING_CONCURRENCY=${wide.concurrency}) vs naive`,
      msText(wide.wall.medianMs),
      msText(naive100.wall.medianMs),
      `${x(batch.speedupOverNaive.batch100)} faster`,
      `>= ${batch.targets.speedupOverNaive}x`,
      verdict(batch.speedupOverNaive.batch100 >= batch.targets.speedupOverNaive),
    ],
    ...sections.requestsPerObject.results.map((s) => [
      `AWS requests per object: ${s.scenario}`,
      requests(s.perObject),
      '-',
      '-',
      `<= ${requests(s.budget)}`,
      verdict(s.withinBudget),
    ]),
    [
      '`npx cdk synth` of the whole app',
      sText(suite.synth.app.medianMs),
      `${sText(suite.synth.minimalApp.medianMs)} (one-resource app)`,
      x(suite.synth.app.medianMs / suite.synth.minimalApp.medianMs),
      'report',
      '-',
    ],
    ...(suite.tests
      ? [
          [
            `\`npm test\` (${suite.tests.files} files, ${suite.tests.tests} tests)`,
            sText(suite.tests.wallMs),
            '-',
            '-',
            'report',
            suite.tests.exitCode === 0 ? 'passed' : `**failed (exit ${suite.tests.exitCode})**`,
          ],
        ]
      : []),
    [
      `local throughput, end to end (\`npm start\`, stage ${local.stage})`,
      `${local.endToEndRate} objects/s`,
      `${local.uploadRate} objects/s (uploads alone)`,
      '-',
      'report',
      '-',
    ],
  ];
  const machineLine =
    `Measured on ${machine.cpuModel}, ${machine.cores} cores (shared; load average ${machine.loadAverage[0]} at the start), ` +
    `${machine.os} ${machine.arch}, Node ${machine.nodeVersion}, ${machine.date.slice(0, 10)}, commit ${machine.gitCommit}.`;
  return [
    machineLine,
    '',
    renderTable(['figure', 'measured', 'reference', 'ratio', 'target', 'result'], rows),
  ].join('\n');
}

if (import.meta.main) {
  const results = readResults();
  process.stdout.write(`${renderSummary(results)}\n\n${renderCostModel(results)}\n`);
}
