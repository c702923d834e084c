import { PRICES } from '../tools/docs/cost-model.ts';
import type { BatchResult } from './batch-latency.ts';
import { ms, type SectionReport } from './lib/report.ts';
import { round } from './lib/stats.ts';

/**
 * A model, not a measurement: what a batch of 10 would cost on Lambda at each memory size, from two measured
 * inputs (the handler's CPU time per batch here and its round trips per object) and two documented facts:
 * - Lambda allocates CPU in proportion to memory, one full vCPU at 1,769 MB (AWS Lambda developer guide,
 *   "Configure Lambda function memory"); a single-threaded handler gains little beyond one vCPU;
 * - the arm64 duration and request prices docs/cost-model.md assumes (`PRICES`), so the two pages bill alike.
 * The CPU time comes from this machine (x64), not from Graviton, and AWS round trips are not exactly the bench's
 * added latency, so the figures rank memory sizes; AWS Lambda Power Tuning on a deployed stage decides.
 */

const MIB_PER_VCPU = 1769;
const USD_PER_GB_SECOND_ARM64 = PRICES.lambdaArmPerGbSecond;
const USD_PER_REQUEST = PRICES.lambdaPerMillionRequests / 1_000_000;
export const MODEL_MEMORY_SIZES_MIB = [128, 256, 512, 1024, 1769] as const;

export interface CostPoint {
  readonly memoryMiB: number;
  readonly vcpuShare: number;
  /** The batch's CPU time stretched by the vCPU share. */
  readonly cpuMs: number;
  /** Duration if CPU and waiting overlapped perfectly (lower bound). */
  readonly durationLowMs: number;
  /** Duration if they did not overlap at all (upper bound). */
  readonly durationHighMs: number;
  /** Lambda cost (duration at the upper bound, plus the request) per million objects. */
  readonly usdPerMillionObjects: number;
}

export function costPoints(batch: BatchResult): CostPoint[] {
  const roundTripsMs = batch.floorMs;
  return MODEL_MEMORY_SIZES_MIB.map((memoryMiB) => {
    const vcpuShare = Math.min(1, memoryMiB / MIB_PER_VCPU);
    const cpuMs = batch.handlerCpu.medianMs / vcpuShare;
    const durationLowMs = Math.max(roundTripsMs, cpuMs);
    const durationHighMs = roundTripsMs + cpuMs;
    const batchesPerMillion = 1_000_000 / batch.batchSize;
    const usdPerBatch =
      (durationHighMs / 1000) * (memoryMiB / 1024) * USD_PER_GB_SECOND_ARM64 + USD_PER_REQUEST;
    return {
      memoryMiB,
      vcpuShare: round(vcpuShare, 3),
      cpuMs: round(cpuMs, 1),
      durationLowMs: round(durationLowMs, 1),
      durationHighMs: round(durationHighMs, 1),
      usdPerMillionObjects: round(usdPerBatch * batchesPerMillion, 3),
    };
  });
}

/** The model as a report section, with each stage's configured memory marked. */
export function costModelSection(
  batch: BatchResult,
  stageMemory: Readonly<Record<string, number>>,
): SectionReport {
  const points = costPoints(batch);
  const stagesAt = (memoryMiB: number) =>
    Object.entries(stageMemory)
      .filter(([, m]) => m === memoryMiB)
      .map(([stage]) => stage)
      .join(', ') || '-';
  return {
    key: 'costModel',
    title: `Cost model per memory size (batch of ${batch.batchSize}, ${ms(batch.handlerCpu.medianMs)} handler CPU measured here, ${ms(batch.floorMs)} of round trips)`,
    header: [
      'memory',
      'vCPU share',
      'handler CPU',
      'duration (overlap..none)',
      'Lambda USD per 1M objects',
      'stages',
    ],
    rows: points.map((p) => [
      `${p.memoryMiB} MB`,
      p.vcpuShare.toFixed(3),
      ms(p.cpuMs),
      `${ms(p.durationLowMs)}..${ms(p.durationHighMs)}`,
      `$${p.usdPerMillionObjects.toFixed(3)}`,
      stagesAt(p.memoryMiB),
    ]),
    targets: [],
    notes: [
      'A model from the measured CPU time and round trips, not a measurement on Lambda: it ranks memory sizes, AWS Lambda Power Tuning on a deployed stage decides (see docs/performance.md).',
      'Not included, because memory does not change them: one S3 GET and one DynamoDB write per object (see the requests table), SQS requests and CloudWatch Logs ingestion (log bytes per object above).',
    ],
    results: {
      inputs: {
        handlerCpuMs: batch.handlerCpu.medianMs,
        roundTripsMs: batch.floorMs,
        batchSize: batch.batchSize,
      },
      points,
    },
  };
}
