import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildWithProcessorOptions } from '../devkit/bundle.ts';
import type { AwsFixture } from './lib/aws-fixture.ts';
import { type HostedHandler, hostHandler } from './lib/handler-host.ts';
import { ms, type SectionReport, times } from './lib/report.ts';
import { objectEventMessages, PNG_BYTES, sequencer } from './lib/s3-events.ts';
import { round, summarise, type TimingSummary } from './lib/stats.ts';

/** The naive baseline: same AWS calls, one record after another. */
export const NAIVE_HANDLER_ENTRY = fileURLToPath(new URL('./naive-sequential-handler.ts', import.meta.url));

/** Sequential AWS round trips per created object: a ranged GetObject, then the conditional write it depends on. */
export const ROUND_TRIPS_PER_OBJECT = 2;

/** One configuration whose batch latency is measured. */
export interface BatchCase {
  readonly name: string;
  readonly handler: HostedHandler;
  readonly batchSize: number;
  /** Records in flight at once: the handler's PROCESSING_CONCURRENCY, or 1 for the sequential baseline. */
  readonly concurrency: number;
  readonly runs: number;
}

export interface BatchResult {
  readonly name: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly latencyMs: number;
  /** Round trips the batch needs at the least: objects in waves of `concurrency`, 2 round trips each. */
  readonly floorMs: number;
  readonly wall: TimingSummary;
  /** CPU time of the handler's own thread per batch: what Lambda bills beyond waiting, and what memory buys. */
  readonly handlerCpu: TimingSummary;
  /** CPU time of the emulators and proxies (the bench's main thread) per batch: local overhead AWS does not have. */
  readonly emulatorCpu: TimingSummary;
  /** Median wall time over the floor. */
  readonly ratioToFloor: number;
}

/** Physical floor of a batch at a given added latency: waves of `concurrency` records, 2 round trips each. */
export function floorMs(batchSize: number, concurrency: number, latencyMs: number): number {
  return Math.ceil(batchSize / Math.min(concurrency, batchSize)) * ROUND_TRIPS_PER_OBJECT * latencyMs;
}

let batchCounter = 0;

interface Samples {
  readonly walls: number[];
  readonly handlerCpu: number[];
  readonly emulatorCpu: number[];
}

/** Runs one batch of freshly uploaded objects (one S3 event per SQS message, as S3 sends them). */
async function runOnce(
  fixture: AwsFixture,
  batch: BatchCase,
  latencyMs: number,
  into?: Samples,
): Promise<void> {
  const id = batchCounter++;
  fixture.setLatency(0);
  const keys = Array.from({ length: batch.batchSize }, (_, i) => `batch-${id}/photo ${i}.png`);
  const objects = await fixture.putObjects(keys, PNG_BYTES, 'image/png');
  fixture.setLatency(latencyMs);
  const event = objectEventMessages(
    objects.map((object, i) => ({
      bucket: fixture.bucket,
      key: object.key,
      sequencer: sequencer(i + 1),
      object,
    })),
  );
  const mainCpuBefore = process.threadCpuUsage();
  const { wallMs, cpuMs, response } = await batch.handler.invoke(event);
  const mainCpu = process.threadCpuUsage(mainCpuBefore);
  fixture.setLatency(0);
  if (response.batchItemFailures.length > 0) {
    throw new Error(
      `${batch.name}: ${response.batchItemFailures.length} records failed; the bench needs a clean run`,
    );
  }
  into?.walls.push(wallMs);
  into?.handlerCpu.push(cpuMs);
  into?.emulatorCpu.push((mainCpu.user + mainCpu.system) / 1000);
}

/**
 * Measures several cases at one added latency, interleaved (a, b, a, b, ...) so that load from other work on a
 * shared machine hits every case alike and their ratios stay meaningful. Each case's first batch is discarded: it
 * opens connections and JIT-compiles, which cold start measures separately. Every batch must succeed completely;
 * a benchmark of failing batches would measure error paths.
 */
export async function measureBatches(
  fixture: AwsFixture,
  cases: readonly BatchCase[],
  latencyMs: number,
): Promise<BatchResult[]> {
  const samples = cases.map(() => ({ walls: [], handlerCpu: [], emulatorCpu: [] }) as Samples);
  for (const batch of cases) await runOnce(fixture, batch, latencyMs);
  const rounds = Math.max(...cases.map((c) => c.runs));
  for (let pass = 0; pass < rounds; pass++) {
    for (const [i, batch] of cases.entries()) {
      if (pass < batch.runs) await runOnce(fixture, batch, latencyMs, samples[i]);
    }
  }
  return cases.map((batch, i) => {
    const { walls, handlerCpu, emulatorCpu } = samples[i] as Samples;
    const wall = summarise(walls);
    const floor = floorMs(batch.batchSize, batch.concurrency, latencyMs);
    return {
      name: batch.name,
      batchSize: batch.batchSize,
      concurrency: batch.concurrency,
      latencyMs,
      floorMs: floor,
      wall,
      handlerCpu: summarise(handlerCpu),
      emulatorCpu: summarise(emulatorCpu),
      ratioToFloor: floor > 0 ? round(wall.medianMs / floor) : Number.NaN,
    };
  });
}

/** Batches of 10 run, unmeasured, before any case is measured (a few hundred objects through each handler). */
export const WARM_UP_BATCHES = 30;

async function warmUp(fixture: AwsFixture, handler: HostedHandler, concurrency: number): Promise<void> {
  const warming: BatchCase = { name: 'warm-up', handler, batchSize: 10, concurrency, runs: 0 };
  for (let i = 0; i < WARM_UP_BATCHES; i++) await runOnce(fixture, warming, 0);
}

/** Starts a handler in its own process with the fixture's environment plus `overrides`. */
export function startHandler(
  fixture: AwsFixture,
  moduleUrl: string,
  overrides: Record<string, string> = {},
): Promise<HostedHandler> {
  return hostHandler(moduleUrl, 'handler', fixture.handlerEnvironment(overrides));
}

/** A second latency showing how the ratio moves when round trips dominate: a fixed overhead shrinks in ratio. */
const LONGER_LATENCY_MS = 50;

/** The targets for batch latency. */
export const BATCH_TARGETS = { ratioToFloorAtBatch10: 1.3, speedupOverNaive: 5 } as const;

export interface BatchSectionOptions {
  readonly fixture: AwsFixture;
  /** file: URL of the deployed bundle. */
  readonly bundleUrl: string;
  /** The stage's PROCESSING_CONCURRENCY (records in flight per invocation). */
  readonly stageConcurrency: number;
  /** Added latency per request, ms. */
  readonly latencyMs: number;
  /** Measured batches per case at batch size 10; larger batches run fewer (they take longer and vary less). */
  readonly runs: number;
  /** Where the naive baseline is bundled; the caller removes it. */
  readonly workDir: string;
}

/**
 * The deployed bundle against the physical floor and against the naive sequential baseline, at batch 10 (the
 * stages' SQS batch size) and 100 (a larger batch size, with PROCESSING_CONCURRENCY raised to match, and with
 * the stage's own concurrency). A row at 0 ms added latency shows the CPU cost alone.
 */
export async function batchSection(
  options: BatchSectionOptions,
): Promise<SectionReport & { readonly batch10: BatchResult }> {
  const { fixture, latencyMs, runs } = options;
  const concurrency = options.stageConcurrency;
  const processor = await startHandler(fixture, options.bundleUrl);
  const processorWide = await startHandler(fixture, options.bundleUrl, { PROCESSING_CONCURRENCY: '100' });
  // Bundled with the processor's own options, so both run the same bundled SDK code and differ only in order.
  const naiveBundle = await buildWithProcessorOptions(
    NAIVE_HANDLER_ENTRY,
    path.join(options.workDir, 'naive'),
  );
  const naive = await startHandler(fixture, pathToFileURL(naiveBundle.file).href);
  try {
    // A function that has just started runs its first batches through V8's interpreter; a busy one has long
    // since compiled the hot paths. Batch latency is the busy function's, so every handler warms up first.
    for (const handler of [processor, processorWide, naive]) {
      await warmUp(fixture, handler, concurrency);
    }
    const few = Math.max(3, Math.ceil(runs / 3));
    const [b10, naive10] = (await measureBatches(
      fixture,
      [
        { name: 'processor', handler: processor, batchSize: 10, concurrency, runs },
        { name: 'naive sequential', handler: naive, batchSize: 10, concurrency: 1, runs: few },
      ],
      latencyMs,
    )) as [BatchResult, BatchResult];
    const [b100wide, b100, naive100] = (await measureBatches(
      fixture,
      [
        {
          name: 'processor, PROCESSING_CONCURRENCY=100',
          handler: processorWide,
          batchSize: 100,
          concurrency: 100,
          runs: few,
        },
        { name: 'processor', handler: processor, batchSize: 100, concurrency, runs: few },
        { name: 'naive sequential', handler: naive, batchSize: 100, concurrency: 1, runs: 3 },
      ],
      latencyMs,
    )) as [BatchResult, BatchResult, BatchResult];
    const [longer] = (await measureBatches(
      fixture,
      [{ name: 'processor, longer round trips', handler: processor, batchSize: 10, concurrency, runs }],
      LONGER_LATENCY_MS,
    )) as [BatchResult];
    const [cpuOnly] = (await measureBatches(
      fixture,
      [{ name: 'processor, no added latency', handler: processor, batchSize: 10, concurrency, runs }],
      0,
    )) as [BatchResult];
    const speedup10 = round(naive10.wall.medianMs / b10.wall.medianMs);
    const speedup100 = round(naive100.wall.medianMs / b100wide.wall.medianMs);
    const row = (r: BatchResult, vsNaive: string) => [
      r.name,
      String(r.batchSize),
      String(r.concurrency),
      ms(r.latencyMs),
      r.floorMs > 0 ? ms(r.floorMs) : '-',
      ms(r.wall.medianMs),
      `${ms(r.wall.minMs)}..${ms(r.wall.maxMs)}`,
      Number.isNaN(r.ratioToFloor) ? '-' : times(r.ratioToFloor),
      ms(r.handlerCpu.medianMs),
      ms(r.emulatorCpu.medianMs),
      vsNaive,
    ];
    const overhead = b10.wall.medianMs - b10.floorMs;
    return {
      batch10: b10,
      key: 'batchLatency',
      title: `Batch latency: deployed bundle vs the floor (${ROUND_TRIPS_PER_OBJECT} round trips x ${latencyMs} ms added per request) and vs naive`,
      header: [
        'handler',
        'batch',
        'in flight',
        'added latency',
        'floor',
        'wall (median)',
        'range',
        'wall/floor',
        'handler CPU',
        'emulator CPU',
        'speedup vs naive',
      ],
      rows: [
        row(b10, times(speedup10)),
        row(naive10, '1.00x'),
        row(b100wide, times(speedup100)),
        row(b100, times(round(naive100.wall.medianMs / b100.wall.medianMs))),
        row(naive100, '1.00x'),
        row(longer, '-'),
        row(cpuOnly, '-'),
      ],
      targets: [
        {
          target: `batch 10: wall <= ${BATCH_TARGETS.ratioToFloorAtBatch10}x the floor`,
          measured: `${times(b10.ratioToFloor)} (${ms(b10.wall.medianMs)} vs ${ms(b10.floorMs)})`,
          met: b10.ratioToFloor <= BATCH_TARGETS.ratioToFloorAtBatch10,
        },
        {
          target: `batch 10: >= ${BATCH_TARGETS.speedupOverNaive}x faster than naive sequential`,
          measured: times(speedup10),
          met: speedup10 >= BATCH_TARGETS.speedupOverNaive,
        },
        {
          target: `batch 100: >= ${BATCH_TARGETS.speedupOverNaive}x faster than naive sequential`,
          measured: times(speedup100),
          met: speedup100 >= BATCH_TARGETS.speedupOverNaive,
        },
      ],
      notes: [
        `Each handler first processed ${WARM_UP_BATCHES} unmeasured batches of 10 (a warm function: V8 has compiled its hot paths); cases are interleaved and each one's first batch is discarded.`,
        `Floor: records run concurrently, so a batch needs ceil(batch / in flight) waves of ${ROUND_TRIPS_PER_OBJECT} sequential round trips (ranged GetObject, then the conditional write), each ${latencyMs} ms at the proxy.`,
        `Above the floor at batch 10: ${ms(overhead)}. CPU per batch of 10 on this machine: the handler's thread ${ms(b10.handlerCpu.medianMs)} (SDK signing and parsing, validation, JSON logs, EMF) and the emulators' ${ms(b10.emulatorCpu.medianMs)} (s3rver, dynalite and the proxies share one thread, so concurrent requests queue there; AWS serves them in parallel).`,
        `At ${LONGER_LATENCY_MS} ms per request the same batch is ${times(longer.ratioToFloor)} its floor (${ms(longer.wall.medianMs - longer.floorMs)} above it): the overhead is a roughly fixed CPU cost per batch, not round trips run one after another.`,
        `The no-added-latency row is that CPU cost alone: ${ms(cpuOnly.wall.medianMs)} per batch of 10 here. On Lambda the handler's share scales with memory (CPU is allocated in proportion: 1,769 MB = 1 vCPU).`,
      ],
      results: {
        latencyMs,
        roundTripsPerObject: ROUND_TRIPS_PER_OBJECT,
        cases: {
          batch10: b10,
          naive10,
          batch100Concurrency100: b100wide,
          batch100: b100,
          naive100,
          batch10LongerLatency: longer,
          batch10NoLatency: cpuOnly,
        },
        speedupOverNaive: { batch10: speedup10, batch100: speedup100 },
        targets: BATCH_TARGETS,
      },
    };
  } finally {
    await Promise.all([processor.stop(), processorWide.stop(), naive.stop()]);
  }
}
