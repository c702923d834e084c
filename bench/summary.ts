/**
 * The figures of docs/performance.md, rendered from bench/results.json, so the page cannot quote figures the
 * committed run did not produce (test/budgets/performance-doc.test.ts compares them). `npm run bench` rewrites the
 * page after a full run; by hand (under Node 24: npx node, or node_modules/.bin/node):
 *
 *   node bench/summary.ts            # prints the blocks
 *   node bench/summary.ts --write    # rewrites the generated blocks of docs/performance.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { replaceBlock } from '../tools/docs/blocks.ts';
import { renderTable } from './lib/table.ts';

export const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');

interface Timing {
  readonly medianMs: number;
}
interface BatchCase {
  readonly name: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly floorMs: number;
  readonly wall: Timing;
  readonly handlerCpu: Timing;
  readonly cpuPerObjectMs: number;
  readonly requestsPerObject: Readonly<Record<string, number>>;
  readonly totalRequestsPerObject: number;
  readonly ratioToFloor: number;
}
interface Scenario {
  readonly scenario: string;
  readonly perObject: Readonly<Record<string, number>>;
  readonly budget: Readonly<Record<string, number>>;
  readonly withinBudget: boolean;
  readonly peerPerObject: Readonly<Record<string, number>>;
}
interface Target {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
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
  readonly loadAverageAtEnd: readonly number[];
  readonly sections: {
    readonly coldStart: {
      readonly results: {
        readonly deployedBundleBytes: number;
        readonly referenceBundleBytes: number;
        readonly floorBundleBytes: number;
        readonly peerBundleBytes: number;
        readonly bundleRatioToReference: number;
        readonly processor: { readonly loaded: Timing; readonly loadedCpu: Timing };
        readonly reference: { readonly loaded: Timing; readonly loadedCpu: Timing };
        readonly floor: { readonly loaded: Timing };
        readonly peer: { readonly loaded: Timing };
        readonly ratioToReference: number;
        readonly cpuRatioToReference: number;
        readonly targets: { readonly ratioToReference: number; readonly bundleRatioToReference: number };
      };
    };
    readonly batchLatency: {
      readonly targets: readonly Target[];
      readonly results: {
        readonly latencyMs: number;
        readonly standInCpuPerRequestMs: number;
        readonly cases: {
          readonly batch10: BatchCase;
          readonly floor10: BatchCase;
          readonly peer10: BatchCase;
          readonly naive10: BatchCase;
          readonly batch100Concurrency100: BatchCase;
          readonly batch100: BatchCase;
          readonly floor100: BatchCase;
          readonly peer100: BatchCase;
          readonly naive100: BatchCase;
        };
        readonly ratios: {
          readonly cpuToFloor10: number;
          readonly cpuToFloor100: number;
          readonly wallToFloor10: number;
          readonly wallToFloor100: number;
        };
        readonly speedupOverNaive: { readonly batch10: number; readonly batch100: number };
        readonly targets: {
          readonly ratioToFloorAtBatch10: number;
          readonly wallToFloorHandler: number;
          readonly cpuToFloorHandler: number;
          readonly speedupOverNaive: number;
        };
      };
    };
    readonly sdkCandidates: {
      readonly results: {
        readonly candidates: readonly {
          readonly candidate: string;
          readonly cpuPerObjectMs: number;
          readonly savedPerObjectMs: number;
          readonly savedShare: number;
          readonly decision?: string;
        }[];
        readonly logLine: { readonly costPerObjectMs: number };
      };
    };
    readonly costGrowth: {
      readonly results: {
        readonly cases: readonly BatchCase[];
        readonly processorCpuModel: { readonly perInvocationMs: number; readonly perObjectMs: number };
      };
    };
    readonly memory: {
      readonly targets: readonly Target[];
      readonly results: {
        readonly objects: number;
        readonly growthBytesPerObject: number;
        readonly points: readonly {
          readonly objects: number;
          readonly rssMiB: number;
          readonly heapUsedMiB: number;
        }[];
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
const cpuText = (v: number) => `${v.toFixed(3)} ms`;
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

/** The processor next to the reference handlers, batch 10 and 100, as Markdown. */
export function renderSideBySide(results: BenchResults): string {
  const c = results.sections.batchLatency.results.cases;
  const rows = [
    c.batch10,
    c.floor10,
    c.peer10,
    c.naive10,
    c.batch100Concurrency100,
    c.batch100,
    c.floor100,
    c.peer100,
    c.naive100,
  ];
  return renderTable(
    [
      'handler',
      'batch',
      'in flight',
      'wall',
      'round-trip floor',
      'handler CPU per batch',
      'CPU per object',
      'AWS requests per object',
    ],
    rows.map((r) => [
      r.name,
      String(r.batchSize),
      String(r.concurrency),
      msText(r.wall.medianMs),
      msText(r.floorMs),
      msText(r.handlerCpu.medianMs),
      cpuText(r.cpuPerObjectMs),
      `${r.totalRequestsPerObject} (${requests(r.requestsPerObject)})`,
    ]),
  );
}

/** Each SDK setting measured on the floor handler, and the log line, as Markdown. */
export function renderCandidates(results: BenchResults): string {
  const { candidates, logLine } = results.sections.sdkCandidates.results;
  return renderTable(
    ['floor handler with', 'CPU per object', 'saved vs default settings', 'in the processor'],
    [
      ...candidates.map((c) => [
        c.candidate === 'default' ? 'default SDK settings' : c.candidate,
        cpuText(c.cpuPerObjectMs),
        c.candidate === 'default'
          ? '-'
          : `${cpuText(c.savedPerObjectMs)} (${(c.savedShare * 100).toFixed(1)} %)`,
        c.decision === undefined ? '-' : (c.decision.split(':')[0] ?? '-'),
      ]),
      ['(processor) its INFO log line per object', cpuText(logLine.costPerObjectMs), '-', 'kept'],
    ],
  );
}

/** Cost by batch size and records in flight, and memory over many objects, as Markdown. */
export function renderGrowth(results: BenchResults): string {
  const growth = results.sections.costGrowth.results;
  const memory = results.sections.memory.results;
  const table = renderTable(
    ['handler', 'batch', 'in flight', 'wall', 'handler CPU per batch', 'CPU per object'],
    growth.cases.map((r) => [
      r.name,
      String(r.batchSize),
      String(r.concurrency),
      msText(r.wall.medianMs),
      msText(r.handlerCpu.medianMs),
      cpuText(r.cpuPerObjectMs),
    ]),
  );
  const points = memory.points.filter((p, i) => i === 0 || p.objects % 2_500 === 0);
  const memoryLine = `Memory of one execution environment (RSS / heap used after a full GC): ${points
    .map((p) => `${p.rssMiB} / ${p.heapUsedMiB} MiB after ${p.objects.toLocaleString('en-US')} objects`)
    .join(
      '; ',
    )}. Heap growth from the third quarter of the run to the fourth: ${memory.growthBytesPerObject} bytes per object.`;
  const model = `Processor CPU through batch 1 and 10 (the stages' sizes): ${cpuText(growth.processorCpuModel.perInvocationMs)} per invocation + ${cpuText(growth.processorCpuModel.perObjectMs)} per object; docs/cost-model.md bills these.`;
  return [table, '', model, memoryLine].join('\n');
}

/** The machine line and the targets table, as Markdown. */
export function renderSummary(results: BenchResults): string {
  const { machine, sections } = results;
  const cold = sections.coldStart.results;
  const batch = sections.batchLatency.results;
  const { batch10, floor10, peer10, naive10, batch100Concurrency100: wide, naive100 } = batch.cases;
  const suite = sections.suiteTimes.results;
  const local = sections.localThroughput.results;
  const memoryTarget = sections.memory.targets[0];
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
      x(cold.bundleRatioToReference),
      `<= ${cold.targets.bundleRatioToReference}x`,
      verdict(cold.bundleRatioToReference <= cold.targets.bundleRatioToReference),
    ],
    [
      `batch of 10: handler CPU per object, vs the SDK-only floor handler`,
      cpuText(batch10.cpuPerObjectMs),
      `${cpuText(floor10.cpuPerObjectMs)} (default SDK settings)`,
      `${x(batch.ratios.cpuToFloor10)} (batch 100: ${x(batch.ratios.cpuToFloor100)})`,
      `<= ${batch.targets.cpuToFloorHandler}x`,
      verdict(batch.ratios.cpuToFloor10 <= batch.targets.cpuToFloorHandler),
    ],
    [
      `batch of 10: wall, vs the SDK-only floor handler (${batch.latencyMs} ms per request)`,
      msText(batch10.wall.medianMs),
      msText(floor10.wall.medianMs),
      `${x(batch.ratios.wallToFloor10)} (batch 100: ${x(batch.ratios.wallToFloor100)})`,
      `<= ${batch.targets.wallToFloorHandler}x`,
      verdict(batch.ratios.wallToFloor10 <= batch.targets.wallToFloorHandler),
    ],
    [
      `batch of 10: wall, vs 2 round trips of ${batch.latencyMs} ms`,
      msText(batch10.wall.medianMs),
      `${msText(batch10.floorMs)} (floor handler ${x(floor10.ratioToFloor)})`,
      x(batch10.ratioToFloor),
      `<= ${batch.targets.ratioToFloorAtBatch10}x`,
      verdict(batch10.ratioToFloor <= batch.targets.ratioToFloorAtBatch10),
    ],
    [
      'AWS requests per created object, vs Powertools batch + idempotency',
      String(batch10.totalRequestsPerObject),
      `${peer10.totalRequestsPerObject} (${requests(peer10.requestsPerObject)})`,
      '-',
      '2, fewer than the peer',
      verdict(
        batch10.totalRequestsPerObject === 2 &&
          batch10.totalRequestsPerObject < peer10.totalRequestsPerObject,
      ),
    ],
    [
      'batch of 10 vs naive sequential',
      msText(batch10.wall.medianMs),
      msText(naive10.wall.medianMs),
      `${x(batch.speedupOverNaive.batch10)} faster`,
      `>= ${batch.targets.speedupOverNaive}x`,
      verdict(batch.speedupOverNaive.batch10 >= batch.targets.speedupOverNaive),
    ],
    [
      `batch of 100 (PROCESSING_CONCURRENCY=${wide.concurrency}) vs naive`,
      msText(wide.wall.medianMs),
      msText(naive100.wall.medianMs),
      `${x(batch.speedupOverNaive.batch100)} faster`,
      `>= ${batch.targets.speedupOverNaive}x`,
      verdict(batch.speedupOverNaive.batch100 >= batch.targets.speedupOverNaive),
    ],
    [
      `memory after ${sections.memory.results.objects.toLocaleString('en-US')} objects: heap growth`,
      `${sections.memory.results.growthBytesPerObject} B per object`,
      '-',
      '-',
      'no growth',
      verdict(memoryTarget?.met ?? false),
    ],
    ...sections.requestsPerObject.results.map((s) => [
      `AWS requests per object: ${s.scenario}`,
      requests(s.perObject),
      `${requests(s.peerPerObject)} (Powertools idempotency)`,
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
    `Measured on ${machine.cpuModel}, ${machine.cores} cores (shared with other work; load average ${machine.loadAverage.join(' / ')} at the start, ` +
    `${results.loadAverageAtEnd.join(' / ')} at the end), ${machine.os} ${machine.arch}, Node ${machine.nodeVersion}, ${machine.date.slice(0, 10)}, commit ${machine.gitCommit}. ` +
    `The AWS stand-in spent ${cpuText(batch.standInCpuPerRequestMs)} of its own CPU per request, in its own process.`;
  return [
    machineLine,
    '',
    renderTable(['figure', 'measured', 'reference', 'ratio', 'target', 'result'], rows),
  ].join('\n');
}

export const PERFORMANCE_DOC = path.join(import.meta.dirname, '..', 'docs', 'performance.md');

const NOTE = '<!-- Generated by `npm run bench` from bench/results.json; do not edit by hand. -->';

/** The generated blocks of docs/performance.md, by name, in the page's order. */
export function performanceBlocks(results: BenchResults): ReadonlyArray<readonly [string, string]> {
  return [
    ['bench-summary', renderSummary(results)],
    ['bench-side-by-side', renderSideBySide(results)],
    ['bench-sdk-settings', renderCandidates(results)],
    ['bench-growth', renderGrowth(results)],
    ['bench-cost-model', renderCostModel(results)],
  ];
}

/** The page with every generated block rendered from `results`; throws when a block's markers are missing. */
export function renderPerformanceDoc(document: string, results: BenchResults): string {
  let page = document;
  for (const [name, body] of performanceBlocks(results)) {
    try {
      page = replaceBlock(page, name, `${NOTE}\n${body}`);
    } catch (error) {
      throw new Error(`docs/performance.md: ${(error as Error).message}`);
    }
  }
  return page;
}

/** Rewrites docs/performance.md from `results`; returns whether it changed. */
export function writePerformanceDoc(results: BenchResults): boolean {
  const before = readFileSync(PERFORMANCE_DOC, 'utf8');
  const after = renderPerformanceDoc(before, results);
  if (after !== before) writeFileSync(PERFORMANCE_DOC, after);
  return after !== before;
}

if (import.meta.main) {
  const results = readResults();
  if (process.argv.includes('--write')) {
    const changed = writePerformanceDoc(results);
    process.stdout.write(changed ? 'updated docs/performance.md\n' : 'docs/performance.md is up to date\n');
  } else {
    process.stdout.write(
      `${performanceBlocks(results)
        .map(([, body]) => body)
        .join('\n\n')}\n`,
    );
  }
}
