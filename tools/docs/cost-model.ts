/**
 * The monthly cost model of one stage, computed from its configuration (memory, batching, log level, retention,
 * backup, VPC) and from stated assumptions about prices and the workload. Rendered into docs/cost-model.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUDGET_ACTUAL_THRESHOLD_PERCENT,
  BUDGET_FORECAST_THRESHOLD_PERCENT,
} from '../../lib/app-stack/stage-budget.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { table } from './blocks.ts';

/**
 * eu-west-1 (Ireland) on-demand list prices in USD, as the author knew them (mid-2025). ASSUMPTIONS, not fetched
 * from the AWS Price List API: check them in the AWS Pricing Calculator before relying on a figure. Free tiers
 * are ignored (they are per account, and the stage accounts may share them with other workloads).
 */
export const PRICES = {
  asOf: '2025-06',
  region: 'eu-west-1',
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  s3GetPerThousand: 0.0004,
  s3StandardPerGbMonth: 0.023,
  sqsPerMillionRequests: 0.4,
  dynamoWritePerMillionUnits: 0.7069,
  dynamoStoragePerGbMonth: 0.283,
  dynamoPitrPerGbMonth: 0.2264,
  kmsPerKeyMonth: 1,
  kmsPerTenThousandRequests: 0.03,
  cloudWatchPerAlarmMonth: 0.1,
  cloudWatchPerDashboardMonth: 3,
  cloudWatchPerMetricMonth: 0.3,
  logsIngestPerGb: 0.57,
  logsStoragePerGbMonth: 0.03,
  xrayPerMillionTraces: 5,
  backupDynamoPerGbMonth: 0.11,
  backupS3PerGbMonth: 0.055,
  interfaceEndpointPerAzHour: 0.011,
} as const;

interface CpuModel {
  readonly perInvocationMs: number;
  readonly perObjectMs: number;
}

/** The benchmark's measurement, read as data (the benchmark's code stays out of tools/). */
export const BENCH_RESULTS_FILE = join(import.meta.dirname, '..', '..', 'bench', 'results.json');

/** The processor's CPU fit from a `npm run bench` results file; says what is wrong when it has none. */
export function readMeasuredCpu(file = BENCH_RESULTS_FILE): CpuModel {
  const results = JSON.parse(readFileSync(file, 'utf8')) as {
    sections?: { costGrowth?: { results?: { processorCpuModel?: Partial<CpuModel> } } };
  };
  const model = results.sections?.costGrowth?.results?.processorCpuModel;
  if (typeof model?.perInvocationMs !== 'number' || typeof model.perObjectMs !== 'number') {
    throw new Error(
      `${file}: no sections.costGrowth.results.processorCpuModel; run a full \`npm run bench\``,
    );
  }
  return { perInvocationMs: model.perInvocationMs, perObjectMs: model.perObjectMs };
}

/** What a month of work looks like, per object and per invocation. ASSUMPTIONS unless stated as measured. */
export const WORKLOAD = {
  /** Average uploaded object (only the storage line depends on it: the processor reads a few header bytes). */
  averageObjectKiB: 100,
  /** One DynamoDB item per object (key, status, type, size, sequencer, timestamps): under 1 KB = 1 WRU/write. */
  itemBytes: 500,
  /** Requests the processor makes per object: one ranged GetObject, one conditional write. */
  s3GetsPerObject: 1,
  dynamoWritesPerObject: 1,
  /**
   * The processor's CPU time, MEASURED by `npm run bench` ("How cost grows": CPU per batch at batch 1, 10 and 100,
   * fitted as per invocation + per object) on one full core of the bench machine (x64; Graviton differs a little).
   * Read from the committed bench/results.json, so a full bench run moves the model with it.
   */
  measuredCpu: readMeasuredCpu(),
  /** One AWS round trip (same-region S3 GET or DynamoDB write), the bench's added latency. ASSUMPTION. */
  roundTripMs: 10,
  /** Time of a warm invocation outside the handler (runtime API, response). ASSUMPTION. */
  runtimeOverheadMs: 2,
  /** Init duration of a cold start (billed since August 2025). */
  coldStartInitMs: 400,
  /** Log bytes per object by log level (Powertools JSON lines) and per invocation (platform START/REPORT). */
  logBytesPerObject: { DEBUG: 1500, INFO: 400, WARN: 60, ERROR: 60 } as Record<string, number>,
  logBytesPerInvocation: 700,
  /** Lambda keeps about 5 long-polling ReceiveMessage calls (20 s wait) on an SQS event source even when idle. */
  idlePollers: 5,
  /** KMS requests a month at rest (S3 Bucket Keys, SQS 1-hour data key reuse, DynamoDB/Logs key caching)... */
  kmsBaseRequests: 50_000,
  /** ...and per object on top, for more concurrent environments each caching its own data keys. */
  kmsRequestsPerObject: 0.001,
  /** X-Ray's default sampling rule: the first request each second, then 5%. */
  xrayReservoirPerSecond: 1,
  xrayRate: 0.05,
} as const;

/** Objects a month the model is evaluated at, and the share of invocations that start cold at that volume. */
export const VOLUMES = [
  { objects: 10_000, coldStartShare: 1, label: '10k' },
  { objects: 1_000_000, coldStartShare: 0.05, label: '1M' },
  { objects: 100_000_000, coldStartShare: 0.001, label: '100M' },
] as const;

/** Resources that cost money by existing, counted from the stack's code for a stage (checked against a synth). */
export interface StageInventory {
  readonly kmsKeys: number;
  readonly alarms: number;
  readonly dashboards: number;
  readonly emfMetrics: number;
  readonly interfaceEndpoints: number;
}

const SECONDS_PER_MONTH = 30 * 24 * 3600;
const HOURS_PER_MONTH = 730;
const GB = 1024 ** 3;

export interface CostLine {
  readonly component: string;
  readonly usd: number;
  readonly basis: string;
}

export interface StageCost {
  readonly objects: number;
  readonly invocations: number;
  readonly averageBatch: number;
  readonly lines: readonly CostLine[];
  readonly processingUsd: number;
  readonly storageUsd: number;
  readonly totalUsd: number;
}

/**
 * Average messages per invocation: the first message plus whatever arrives during the batching window (Poisson
 * arrivals at the month's average rate), capped at the batch size.
 */
export function averageBatch(stage: StageConfig, objects: number): number {
  const perSecond = objects / SECONDS_PER_MONTH;
  return Math.min(stage.ingestQueue.batchSize, 1 + perSecond * stage.ingestQueue.maxBatchingWindowSeconds);
}

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (Lambda developer guide). */
export const MIB_PER_VCPU = 1769;

/**
 * Billed milliseconds of one warm invocation handling `batch` records: the measured CPU stretched by the stage's
 * CPU share, plus two sequential round trips (GET, then write) per wave of `recordConcurrency` records, plus the
 * runtime's own time. CPU and waiting are added, not overlapped: an upper bound (the bench's batch figures show
 * how much they overlap on one full core).
 */
export function warmInvocationMs(stage: StageConfig, batch: number): number {
  const { measuredCpu, roundTripMs, runtimeOverheadMs } = WORKLOAD;
  const cpuShare = Math.min(1, stage.processor.memoryMiB / MIB_PER_VCPU);
  const cpuMs = (measuredCpu.perInvocationMs + batch * measuredCpu.perObjectMs) / cpuShare;
  const waves = Math.ceil(batch / stage.processor.recordConcurrency);
  return Math.round(runtimeOverheadMs + waves * 2 * roundTripMs + cpuMs);
}

export function stageCost(
  stage: StageConfig,
  inventory: StageInventory,
  volume: (typeof VOLUMES)[number],
): StageCost {
  const { objects } = volume;
  const batch = averageBatch(stage, objects);
  const invocations = Math.ceil(objects / batch);
  const memoryGb = stage.processor.memoryMiB / 1024;
  const billedMs =
    invocations * warmInvocationMs(stage, batch) +
    invocations * volume.coldStartShare * WORKLOAD.coldStartInitMs;
  const gbSeconds = (billedMs / 1000) * memoryGb;
  const idlePolls = WORKLOAD.idlePollers * (SECONDS_PER_MONTH / 20);
  const sqsRequests = objects + 2 * invocations + idlePolls;
  const tableGb = (objects * WORKLOAD.itemBytes) / GB;
  const kmsRequests = WORKLOAD.kmsBaseRequests + WORKLOAD.kmsRequestsPerObject * objects;
  const logBytesPerObject = WORKLOAD.logBytesPerObject[stage.processor.logLevel] ?? 0;
  const logGb = (objects * logBytesPerObject + invocations * WORKLOAD.logBytesPerInvocation) / GB;
  const keptLogMonths = stage.logRetentionDays / 30;
  const reservoir = WORKLOAD.xrayReservoirPerSecond * SECONDS_PER_MONTH;
  const traces = Math.min(invocations, reservoir) + Math.max(0, invocations - reservoir) * WORKLOAD.xrayRate;
  const objectsGb = (objects * WORKLOAD.averageObjectKiB * 1024) / GB;
  const p = PRICES;
  const count = (n: number) => Math.round(n).toLocaleString('en-US');

  const lines: CostLine[] = [
    {
      component: 'Lambda requests',
      usd: (invocations / 1e6) * p.lambdaPerMillionRequests,
      basis: `${count(invocations)} invocations (avg batch ${batch.toFixed(2)})`,
    },
    {
      component: 'Lambda compute (arm64)',
      usd: gbSeconds * p.lambdaArmPerGbSecond,
      basis: `${count(gbSeconds)} GB-s (${stage.processor.memoryMiB} MiB, ${warmInvocationMs(stage, batch)} ms warm, ${Math.round(volume.coldStartShare * 100 * 10) / 10}% cold)`,
    },
    {
      component: 'S3 GET (ranged read)',
      usd: ((objects * WORKLOAD.s3GetsPerObject) / 1000) * p.s3GetPerThousand,
      basis: `${count(objects * WORKLOAD.s3GetsPerObject)} GETs`,
    },
    {
      component: 'SQS requests',
      usd: (sqsRequests / 1e6) * p.sqsPerMillionRequests,
      basis: `${count(sqsRequests)} (S3 sends, receives + deletes per batch, ${count(idlePolls)} idle long polls)`,
    },
    {
      component: 'DynamoDB writes (on-demand)',
      usd: ((objects * WORKLOAD.dynamoWritesPerObject) / 1e6) * p.dynamoWritePerMillionUnits,
      basis: `${count(objects * WORKLOAD.dynamoWritesPerObject)} WRU`,
    },
    {
      component: 'DynamoDB storage + PITR',
      usd: tableGb * (p.dynamoStoragePerGbMonth + p.dynamoPitrPerGbMonth),
      basis: `${tableGb.toFixed(2)} GB table`,
    },
    {
      component: 'KMS keys + requests',
      usd: inventory.kmsKeys * p.kmsPerKeyMonth + (kmsRequests / 1e4) * p.kmsPerTenThousandRequests,
      basis: `${inventory.kmsKeys} keys, ${count(kmsRequests)} requests`,
    },
    {
      component: 'CloudWatch alarms, dashboard, metrics',
      usd:
        inventory.alarms * p.cloudWatchPerAlarmMonth +
        inventory.dashboards * p.cloudWatchPerDashboardMonth +
        inventory.emfMetrics * p.cloudWatchPerMetricMonth,
      basis: `${inventory.alarms} alarms, ${inventory.dashboards} dashboard, ${inventory.emfMetrics} custom metrics`,
    },
    {
      component: 'CloudWatch Logs',
      usd: logGb * p.logsIngestPerGb + logGb * keptLogMonths * p.logsStoragePerGbMonth,
      basis: `${logGb.toFixed(3)} GB ingested (${stage.processor.logLevel}), kept ${stage.logRetentionDays} d`,
    },
    {
      component: 'X-Ray traces',
      usd: (traces / 1e6) * p.xrayPerMillionTraces,
      basis: `${count(traces)} traces sampled`,
    },
  ];
  if (stage.backup.awsBackup) {
    const keptBackups = stage.backup.backupRetentionDays;
    const copies = stage.backup.copyToRegion === undefined ? 1 : 2;
    lines.push({
      component: 'AWS Backup (table + bucket)',
      usd: copies * (tableGb * keptBackups * p.backupDynamoPerGbMonth + objectsGb * p.backupS3PerGbMonth),
      basis: `${keptBackups} daily full table backups, incremental bucket${copies === 2 ? ', x2 for the copy region' : ''}`,
    });
  }
  if (stage.network.vpc) {
    lines.push({
      component: 'VPC interface endpoints',
      usd:
        inventory.interfaceEndpoints * stage.network.maxAzs * HOURS_PER_MONTH * p.interfaceEndpointPerAzHour,
      basis: `${inventory.interfaceEndpoints} endpoint(s) x ${stage.network.maxAzs} AZs`,
    });
  }
  const processingUsd = lines.reduce((sum, l) => sum + l.usd, 0);
  const storageUsd = objectsGb * p.s3StandardPerGbMonth;
  return {
    objects,
    invocations,
    averageBatch: batch,
    lines,
    processingUsd,
    storageUsd,
    totalUsd: processingUsd + storageUsd,
  };
}

function money(n: number): string {
  if (n === 0) return '$0';
  if (n < 0.01) return '< $0.01';
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** One stage's table: a row per component, a column per volume, then totals and the budget verdict. */
export function renderStageCost(stage: StageConfig, inventory: StageInventory): string {
  const costs = VOLUMES.map((v) => stageCost(stage, inventory, v));
  const components = costs[0]?.lines.map((l) => l.component) ?? [];
  const budget = stage.budget.monthlyUsd;
  const rows: string[][] = components.map((component, i) => [
    component,
    ...costs.map((c) => money(c.lines[i]?.usd ?? 0)),
    costs.at(-1)?.lines[i]?.basis ?? '',
  ]);
  rows.push(['**Processing**', ...costs.map((c) => `**${money(c.processingUsd)}**`), '']);
  rows.push([
    `S3 storage (${WORKLOAD.averageObjectKiB} KiB objects)`,
    ...costs.map((c) => money(c.storageUsd)),
    "one month's uploads kept",
  ]);
  rows.push(['**Total**', ...costs.map((c) => `**${money(c.totalUsd)}**`), '']);
  rows.push([
    `Budget $${budget}`,
    ...costs.map((c) =>
      c.totalUsd > budget
        ? 'over'
        : c.totalUsd > (budget * BUDGET_ACTUAL_THRESHOLD_PERCENT) / 100
          ? 'alerts (80%)'
          : 'within',
    ),
    '',
  ]);
  const p = stage.processor;
  const q = stage.ingestQueue;
  return [
    `#### ${stage.stageName}`,
    '',
    `${p.memoryMiB} MiB arm64, batch ${q.batchSize} / window ${q.maxBatchingWindowSeconds} s, ${p.recordConcurrency} records at once, log level ${p.logLevel} kept ${stage.logRetentionDays} d, table ${stage.table.mode}, AWS Backup ${stage.backup.awsBackup ? 'on' : 'off'}, VPC ${stage.network.vpc ? 'on' : 'off'}.`,
    '',
    table(['component', ...VOLUMES.map((v) => `${v.label} objects/month`), 'basis at 100M'], rows),
  ].join('\n');
}

/** Where each stage's budget notifies, from the config and the budget construct's thresholds. */
export function renderBudgets(stages: readonly StageConfig[]): string {
  return table(
    [
      'stage',
      'monthly budget',
      `actual > ${BUDGET_ACTUAL_THRESHOLD_PERCENT}%`,
      `forecast > ${BUDGET_FORECAST_THRESHOLD_PERCENT}%`,
      'notifies',
    ],
    stages.map((s) => [
      s.stageName,
      `$${s.budget.monthlyUsd}`,
      money((s.budget.monthlyUsd * BUDGET_ACTUAL_THRESHOLD_PERCENT) / 100),
      money((s.budget.monthlyUsd * BUDGET_FORECAST_THRESHOLD_PERCENT) / 100),
      `alarm topic${(s.budget.email ?? s.alarms.email) ? ` + ${s.budget.email ?? s.alarms.email}` : ' (+ e-mail when configured)'}`,
    ]),
  );
}

export function renderAssumptions(): string {
  const p = PRICES;
  const w = WORKLOAD;
  const rows: string[][] = [
    ['Lambda arm64 compute', `$${p.lambdaArmPerGbSecond} per GB-s`],
    ['Lambda requests', `$${p.lambdaPerMillionRequests} per million`],
    ['S3 GET', `$${p.s3GetPerThousand} per 1,000`],
    ['S3 Standard storage', `$${p.s3StandardPerGbMonth} per GB-month`],
    ['SQS standard requests', `$${p.sqsPerMillionRequests} per million (64 KB chunks)`],
    ['DynamoDB on-demand writes', `$${p.dynamoWritePerMillionUnits} per million WRU`],
    ['DynamoDB storage / PITR', `$${p.dynamoStoragePerGbMonth} / $${p.dynamoPitrPerGbMonth} per GB-month`],
    ['KMS', `$${p.kmsPerKeyMonth} per key-month, $${p.kmsPerTenThousandRequests} per 10,000 requests`],
    [
      'CloudWatch',
      `$${p.cloudWatchPerAlarmMonth} per alarm, $${p.cloudWatchPerDashboardMonth} per dashboard, $${p.cloudWatchPerMetricMonth} per custom metric (month)`,
    ],
    [
      'CloudWatch Logs',
      `$${p.logsIngestPerGb} per GB ingested, $${p.logsStoragePerGbMonth} per GB-month stored (no compression assumed: an upper bound)`,
    ],
    ['X-Ray', `$${p.xrayPerMillionTraces} per million traces recorded`],
    ['AWS Backup', `$${p.backupDynamoPerGbMonth} (DynamoDB) / $${p.backupS3PerGbMonth} (S3) per GB-month`],
    ['VPC interface endpoint', `$${p.interfaceEndpointPerAzHour} per AZ-hour`],
  ];
  const workload: string[][] = [
    [
      'Requests per object',
      `${w.s3GetsPerObject} ranged S3 GET, ${w.dynamoWritesPerObject} conditional DynamoDB write (1 WRU: items ~${w.itemBytes} B)`,
    ],
    [
      'Warm invocation',
      `${w.runtimeOverheadMs} ms + 2 round trips of ${w.roundTripMs} ms per wave of \`recordConcurrency\` records + CPU (${w.measuredCpu.perInvocationMs} ms + ${w.measuredCpu.perObjectMs} ms per object, **measured** by \`npm run bench\` on one full core) / the stage's CPU share (memory / ${MIB_PER_VCPU} MB)`,
    ],
    [
      'Cold start',
      `${w.coldStartInitMs} ms init, billed; share of invocations: ${VOLUMES.map((v) => `${v.label} ${v.coldStartShare * 100}%`).join(', ')}`,
    ],
    ['Batch fill', '1 + arrivals during the batching window (month-average rate), capped at the batch size'],
    [
      'Logs',
      `${Object.entries(w.logBytesPerObject)
        .map(([l, b]) => `${l} ${b} B`)
        .join(', ')} per object; ${w.logBytesPerInvocation} B per invocation`,
    ],
    ['Idle SQS polling', `${w.idlePollers} long polls (20 s) in flight at all times`],
    [
      'KMS requests',
      `${w.kmsBaseRequests.toLocaleString('en-US')} a month + ${w.kmsRequestsPerObject} per object (data keys are cached)`,
    ],
    ['X-Ray sampling', `${w.xrayReservoirPerSecond} trace/s, then ${w.xrayRate * 100}%`],
    ['Object size', `${w.averageObjectKiB} KiB average (storage line only)`],
  ];
  return [
    `Prices: **assumptions**, ${p.region} on-demand list prices as known in ${p.asOf}, not fetched from AWS; free tiers ignored. Check them in the AWS Pricing Calculator before quoting a figure.`,
    '',
    table(['price', 'USD'], rows),
    '',
    "Workload: **assumptions**, except the processor's CPU time, which `npm run bench` measures and this page reads from bench/results.json (a full run regenerates it); change the assumptions in `tools/docs/cost-model.ts`.",
    '',
    table(['assumption', 'value'], workload),
  ].join('\n');
}
