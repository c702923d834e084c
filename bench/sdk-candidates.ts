import { type BatchResult, type BenchAws, measureBatches, pairedRatio } from './batch-latency.ts';
import type { HostedHandler } from './lib/handler-host.ts';
import { ms, type SectionReport } from './lib/report.ts';
import { round } from './lib/stats.ts';
import {
  CONTROL,
  PROCESSOR_CLIENTS,
  SDK_CANDIDATES,
  type SdkCandidate,
} from './reference/sdk-floor-handler.ts';

/**
 * What each SDK setting the processor could change saves, measured one at a time on the SDK-only floor handler
 * (which does nothing else, so a saving is not lost in the noise of other work), interleaved with the handler at
 * default settings; and what the processor's per-object log line costs (the deployed bundle at its INFO level
 * next to the same bundle at ERROR, which writes no line per object).
 */

/** What each candidate is, and whether services/processor/src/clients.ts applies it (and why). */
export const CANDIDATES: Readonly<
  Record<SdkCandidate, { readonly what: string; readonly decision: string }>
> = {
  'checksums-when-required': {
    what: 'S3 requestChecksumCalculation and responseChecksumValidation WHEN_REQUIRED (default WHEN_SUPPORTED)',
    decision:
      'applied: a ranged GET gets no full-object checksum to validate (S3 returns none for a range), so the default only adds x-amz-checksum-mode and a check of every response, for a saving too small to measure here; nothing is uploaded',
  },
  'account-id-endpoint-disabled': {
    what: "DynamoDB accountIdEndpointMode 'disabled' (default 'preferred')",
    decision:
      "not applied: no measurable effect; Lambda's environment credentials carry no account ID, so 'preferred' ends at the regional endpoint too, and the SDK caches the resolution",
  },
  'fixed-endpoints': {
    what: 'endpointProvider returning a precomputed endpoint instead of the rule sets (cached per bucket/table by the SDK)',
    decision:
      'not applied: no measurable effect (the SDK caches resolved endpoints), and it would hard-code what the rule sets decide (FIPS, dual-stack, partitions, S3 auth schemes)',
  },
  'keep-alive-sockets': {
    what: 'an http(s) agent with maxSockets 100 (default: keep-alive, 50 sockets)',
    decision:
      'not applied: no measurable effect; the default already keeps connections alive, and at most PROCESSING_CONCURRENCY requests per client are in flight, below 50 at every stage',
  },
  'request-timeouts': {
    what: 'connection and request timeouts (2 s, 3 s, throwOnRequestTimeout) as the processor sets them',
    decision:
      'applied (a cost, not a saving): kept for reliability, a hung attempt is abandoned and retried; its timers cost nothing measurable',
  },
  'disable-s3-express-session-auth': {
    what: 'S3 disableS3ExpressSessionAuth: true (skip the directory-bucket session check per request)',
    decision: 'not applied: no measurable effect, and a directory bucket would then fail to authenticate',
  },
  'cache-middleware': {
    what: 'cacheMiddleware: true: resolve each command class middleware stack once instead of at every send',
    decision:
      'applied: the processor adds no per-command middleware, so resolving the same stack for every request is pure overhead',
  },
};

/** The floor handler's variants: default settings, one candidate, or the processor's clients (all applied). */
export type FloorVariant = SdkCandidate | 'default' | typeof PROCESSOR_CLIENTS | typeof CONTROL;

const isCandidate = (variant: FloorVariant): variant is SdkCandidate =>
  (SDK_CANDIDATES as readonly string[]).includes(variant);

export interface CandidateResult {
  readonly candidate: FloorVariant;
  readonly result: BatchResult;
  /** CPU per object saved against the default floor handler, ms (negative: costs more). */
  readonly savedPerObjectMs: number;
  readonly savedShare: number;
}

export interface CandidatesSectionOptions {
  readonly aws: BenchAws;
  /** The floor handler at default settings and with each candidate applied. */
  readonly floors: Readonly<Record<FloorVariant, HostedHandler>>;
  /** The deployed bundle at the stage's log level, and at ERROR. */
  readonly processor: HostedHandler;
  readonly processorQuiet: HostedHandler;
  readonly runs: number;
}

export async function candidatesSection(options: CandidatesSectionOptions): Promise<SectionReport> {
  const { aws, floors, runs } = options;
  const names = ['default', CONTROL, ...SDK_CANDIDATES, PROCESSOR_CLIENTS] as const;
  // Batches of 100, all in flight, answered at once: the handler's thread runs its batch without sleeping, so its
  // CPU time is not inflated by caches other processes on a shared machine cooled while it waited, and a saving
  // of a few percent stands out of the noise. Latency does not change the work a request costs.
  const batchSize = 100;
  const samples = 2 * runs;
  const latencyMs = 0;
  const measured = await measureBatches(
    aws,
    [
      ...names.map((name) => ({
        name:
          name === 'default'
            ? 'floor handler, default SDK settings'
            : name === CONTROL
              ? 'floor handler, default SDK settings again (control: the noise)'
              : name === PROCESSOR_CLIENTS
                ? "floor handler with the processor's clients (every applied setting)"
                : `floor handler + ${name}`,
        handler: floors[name],
        batchSize,
        concurrency: batchSize,
        runs: samples,
      })),
      {
        name: 'processor (log level INFO)',
        handler: options.processor,
        batchSize,
        concurrency: batchSize,
        runs: samples,
      },
      {
        name: 'processor, POWERTOOLS_LOG_LEVEL=ERROR',
        handler: options.processorQuiet,
        batchSize,
        concurrency: batchSize,
        runs: samples,
      },
    ],
    latencyMs,
  );
  const base = measured[0] as BatchResult;
  const candidates: CandidateResult[] = names.map((candidate, i) => {
    const result = measured[i] as BatchResult;
    // The share from paired per-pass ratios (robust to load drift); the milliseconds from it and the default's median.
    const savedShare = candidate === 'default' ? 0 : round(1 - pairedRatio(result, base, 'cpuPerObject'), 3);
    return { candidate, result, savedPerObjectMs: round(savedShare * base.cpuPerObjectMs, 3), savedShare };
  });
  const [info, quiet] = measured.slice(names.length) as [BatchResult, BatchResult];
  const logLineCost = round((1 - pairedRatio(quiet, info, 'cpuPerObject')) * info.cpuPerObjectMs, 3);
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  return {
    key: 'sdkCandidates',
    title: `SDK settings measured one at a time on the floor handler, and the log line's cost (batch ${batchSize}, all in flight, no added latency, median of ${samples})`,
    header: ['handler', 'CPU per object', 'saved vs default', 'wall (median)', 'in the processor'],
    rows: [
      ...candidates.map((c) => [
        c.result.name,
        `${c.result.cpuPerObjectMs.toFixed(3)} ms`,
        c.candidate === 'default' ? '-' : `${c.savedPerObjectMs.toFixed(3)} ms (${pct(c.savedShare)})`,
        ms(c.result.wall.medianMs),
        isCandidate(c.candidate) ? (CANDIDATES[c.candidate].decision.split(':')[0] ?? '') : '-',
      ]),
      [info.name, `${info.cpuPerObjectMs.toFixed(3)} ms`, '-', ms(info.wall.medianMs), '-'],
      [
        quiet.name,
        `${quiet.cpuPerObjectMs.toFixed(3)} ms`,
        `${logLineCost.toFixed(3)} ms (the INFO line per object)`,
        ms(quiet.wall.medianMs),
        '-',
      ],
    ],
    targets: [],
    notes: [
      ...SDK_CANDIDATES.map((c) => `${c}: ${CANDIDATES[c].what}; ${CANDIDATES[c].decision}.`),
      `The processor's log line per object (a JSON line with the object's bucket, key, sequencer, status and lag) costs ${logLineCost.toFixed(3)} ms of CPU per object here; retries, timeouts and every other setting are the same in both rows.`,
      `Shares are medians of per-pass ratios to the default row. The control row is the same handler with the same settings: its ${((candidates.find((c) => c.candidate === CONTROL)?.savedShare ?? 0) * 100).toFixed(1)} % is this run's noise, and a share inside it means "no measurable effect".`,
    ],
    results: {
      latencyMs,
      candidates: candidates.map((c) => ({
        candidate: c.candidate,
        cpuPerObjectMs: c.result.cpuPerObjectMs,
        savedPerObjectMs: c.savedPerObjectMs,
        savedShare: c.savedShare,
        wallMedianMs: c.result.wall.medianMs,
        ...(isCandidate(c.candidate) ? CANDIDATES[c.candidate] : {}),
      })),
      logLine: {
        infoCpuPerObjectMs: info.cpuPerObjectMs,
        errorLevelCpuPerObjectMs: quiet.cpuPerObjectMs,
        costPerObjectMs: logLineCost,
      },
    },
  };
}
