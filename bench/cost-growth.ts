import os from 'node:os';
import {
  BATCH_HEADER,
  type BatchCase,
  type BatchResult,
  type BenchAws,
  batchRow,
  freshBatch,
  measureBatches,
} from './batch-latency.ts';
import type { HostedHandler } from './lib/handler-host.ts';
import type { MemorySample } from './lib/handler-process.ts';
import type { SectionReport } from './lib/report.ts';
import { median, round } from './lib/stats.ts';

/**
 * How the processor's cost grows with the batch size and the records in flight (next to the floor handler at the
 * same batch sizes), and whether an execution environment's memory grows across invocations.
 */

export interface GrowthSectionOptions {
  readonly aws: BenchAws;
  /** The processor at PROCESSING_CONCURRENCY 1, 10 (the stages') and 100. */
  readonly processorByConcurrency: Readonly<Record<1 | 10 | 100, HostedHandler>>;
  readonly floor: HostedHandler;
  readonly latencyMs: number;
  readonly runs: number;
}

export async function growthSection(options: GrowthSectionOptions): Promise<SectionReport> {
  const { aws, floor, latencyMs, runs } = options;
  const p = options.processorByConcurrency;
  const few = Math.max(3, Math.ceil(runs / 3));
  const groups: BatchCase[][] = [
    [
      { name: 'processor', handler: p[10], batchSize: 1, concurrency: 1, runs },
      { name: 'SDK-only floor handler', handler: floor, batchSize: 1, concurrency: 1, runs },
    ],
    [
      {
        name: 'processor, PROCESSING_CONCURRENCY=1',
        handler: p[1],
        batchSize: 10,
        concurrency: 1,
        runs: few,
      },
      { name: 'processor', handler: p[10], batchSize: 10, concurrency: 10, runs },
      { name: 'SDK-only floor handler', handler: floor, batchSize: 10, concurrency: 10, runs },
    ],
    [
      { name: 'processor', handler: p[10], batchSize: 100, concurrency: 10, runs: few },
      {
        name: 'processor, PROCESSING_CONCURRENCY=100',
        handler: p[100],
        batchSize: 100,
        concurrency: 100,
        runs: few,
      },
      { name: 'SDK-only floor handler', handler: floor, batchSize: 100, concurrency: 100, runs: few },
    ],
  ];
  const results: BatchResult[] = [];
  for (const group of groups) results.push(...(await measureBatches(aws, group, latencyMs)));
  const processorRows = results.filter((r) => r.name === 'processor');
  const perObject = processorRows.map((r) => `batch ${r.batchSize}: ${r.cpuPerObjectMs.toFixed(3)} ms`);
  // CPU per batch = per invocation + per object x batch size, through batch 1 and batch 10 at the stages'
  // concurrency: the sizes the stages' event source mappings deliver (batch size 10).
  const [one, ten] = processorRows as [BatchResult, BatchResult];
  const perObjectMs = Math.max(
    0,
    (ten.handlerCpu.medianMs - one.handlerCpu.medianMs) / (ten.batchSize - one.batchSize),
  );
  const cpuModel = {
    perInvocationMs: round(Math.max(0, one.handlerCpu.medianMs - perObjectMs), 3),
    perObjectMs: round(perObjectMs, 3),
  };
  return {
    key: 'costGrowth',
    title: `How cost grows with batch size and records in flight (stand-in, ${latencyMs} ms added per request)`,
    header: [...BATCH_HEADER],
    rows: results.map((r) => batchRow(r)),
    targets: [],
    notes: [
      `Processor CPU per object by batch size (stage concurrency): ${perObject.join(', ')}. A batch of 1 pays the per-invocation work (Powertools batch, the EMF line, a cold event loop) for one object; from 10 on it is spread thin: the cost is per request, not per batch.`,
      `Through batch 1 and 10 (the stages' sizes): ${cpuModel.perInvocationMs.toFixed(3)} ms of CPU per invocation plus ${cpuModel.perObjectMs.toFixed(3)} ms per object (docs/cost-model.md bills these, stretched by each stage's CPU share).`,
      'CPU per object also rises when a thread waits between short bursts of work (fewer records in flight, longer round trips): its caches go cold while other processes run. That is this shared machine more than the code; it is why a batch of 100 at 10 in flight costs more CPU per object here than at 100.',
      'Records in flight change wall time, not CPU: PROCESSING_CONCURRENCY=1 is the sequential wall time at the same CPU per object, and 100 in flight makes a batch of 100 one wave of round trips, until the one thread is busy (the wall is then its CPU).',
    ],
    results: { latencyMs, cases: results, processorCpuModel: cpuModel },
  };
}

/** Memory of the execution environment after N objects (one sample every `every` invocations). */
export interface MemoryPoint {
  readonly objects: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
}

/**
 * The target: no growth across invocations, i.e. no per-object state retained. Anything the code kept per
 * object (a log entry, a map entry, a closure) would cost at least ~100 bytes; samples after a full GC scatter by
 * tens of KB, which over 2,500 objects is a few bytes per object.
 */
export const MEMORY_TARGET = { maxHeapGrowthBytesPerObject: 64 } as const;

const mib = (bytes: number) => round(bytes / 1024 / 1024, 2);

/**
 * Runs `objects` objects through one processor (started with --expose-gc, so each sample follows a full
 * collection) in batches of 10 with no added latency, and samples memory along the way. Growth is that of heap used
 * from the third quarter of the run to the fourth, after V8's compiled code and the SDK's caches have settled.
 */
export async function memorySection(
  aws: BenchAws,
  processor: HostedHandler,
  objects = 10_000,
): Promise<SectionReport> {
  const batchSize = 10;
  const invocations = objects / batchSize;
  const every = 50;
  const points: MemoryPoint[] = [];
  const samples: { objects: number; memory: MemorySample }[] = [];
  await aws.standIn.setLatency(0);
  for (let i = 1; i <= invocations; i++) {
    const sample = i === 1 || i % every === 0;
    const { response, memory } = await processor.invoke(freshBatch(aws, batchSize), {
      measureMemory: sample,
    });
    if (response.batchItemFailures.length > 0) throw new Error('memory run: a batch failed');
    if (sample && memory) samples.push({ objects: i * batchSize, memory });
  }
  for (const { objects: n, memory } of samples) {
    points.push({
      objects: n,
      rssMiB: mib(memory.rss),
      heapUsedMiB: mib(memory.heapUsed),
      externalMiB: mib(memory.external),
    });
  }
  // Median heap of the third quarter against the fourth: robust to one sample's scatter, blind to the first
  // thousands (V8's compiled code and the SDK's caches settling).
  const quarter = (q: number) =>
    samples.filter((s) => s.objects > (objects * (q - 1)) / 4 && s.objects <= (objects * q) / 4);
  const medianHeap = (q: number) => median(quarter(q).map((s) => s.memory.heapUsed));
  const slope = (medianHeap(4) - medianHeap(3)) / (objects / 4);
  const rssGrowthMiB = mib(
    median(quarter(4).map((s) => s.memory.rss)) - median(quarter(3).map((s) => s.memory.rss)),
  );
  const first = points[0] as MemoryPoint;
  const last = points.at(-1) as MemoryPoint;
  const at = (n: number) => points.find((p) => p.objects === n) ?? last;
  const shown = [first, at(1_000), at(objects / 2), last];
  return {
    key: 'memory',
    title: `Execution environment memory over ${objects.toLocaleString('en-US')} objects (one processor process, batches of ${batchSize}, after a full GC)`,
    header: ['after objects', 'RSS', 'heap used', 'external'],
    rows: shown.map((p) => [
      p.objects.toLocaleString('en-US'),
      `${p.rssMiB} MiB`,
      `${p.heapUsedMiB} MiB`,
      `${p.externalMiB} MiB`,
    ]),
    targets: [
      {
        target: `no growth across invocations: heap used (after GC) grows by < ${MEMORY_TARGET.maxHeapGrowthBytesPerObject} bytes per object from the third quarter of the run to the fourth`,
        measured: `${round(slope, 2)} bytes per object (${last.heapUsedMiB} MiB after ${objects.toLocaleString('en-US')} objects, ${at(objects / 2).heapUsedMiB} MiB after ${(objects / 2).toLocaleString('en-US')})`,
        met: slope < MEMORY_TARGET.maxHeapGrowthBytesPerObject,
      },
    ],
    notes: [
      `RSS (what Lambda reports as "Max Memory Used") grew by ${rssGrowthMiB} MiB from the third quarter to the fourth: it levels off once V8 has sized its heap. This host runs Node with the default heap limits of a ${Math.round(os.totalmem() / 1024 ** 3)} GiB machine, so V8 lets the heap grow before collecting; in a 256-512 MB function it collects sooner, and heap used after a collection, which does not grow, is the figure that matters.`,
    ],
    results: {
      objects,
      batchSize,
      sampleEvery: every,
      growthBytesPerObject: round(slope, 2),
      rssGrowthMiB,
      points,
    },
  };
}
