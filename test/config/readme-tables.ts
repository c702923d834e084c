import { CANARY_PERCENTAGE } from '../../lib/app-stack/canary-deployment.ts';
import { SETTINGS } from '../../lib/config/app-input.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';

/**
 * The README "Configure" tables, rendered from the code they describe; a test keeps the README equal to them, so
 * the documentation cannot drift from the configuration.
 */

const ROWS: ReadonlyArray<readonly [string, (s: StageConfig) => string]> = [
  ['function memory / timeout', (s) => `${s.processor.memoryMiB} MiB / ${s.processor.timeoutSeconds} s`],
  [
    'reserved / event-source max concurrency',
    (s) => `${s.processor.reservedConcurrency} / ${s.processor.maxEventSourceConcurrency}`,
  ],
  [
    'batch size / batching window',
    (s) => `${s.ingestQueue.batchSize} / ${s.ingestQueue.maxBatchingWindowSeconds} s`,
  ],
  [
    'queue visibility / receives before DLQ',
    (s) => `${s.ingestQueue.visibilityTimeoutSeconds} s / ${s.ingestQueue.maxReceiveCount}`,
  ],
  ['log level / log retention', (s) => `${s.processor.logLevel} / ${s.logRetentionDays} d`],
  [
    'noncurrent object versions / access logs kept',
    (s) =>
      `${s.dataProtection.noncurrentVersionExpirationDays} d / ${s.dataProtection.accessLogRetentionDays} d`,
  ],
  [
    'bucket, table, keys on stack delete',
    (s) => (s.dataProtection.retainData ? 'retained' : 'destroyed (buckets emptied)'),
  ],
  ['table deletion protection', (s) => (s.dataProtection.deletionProtection ? 'on' : 'off')],
  ['table capacity', (s) => s.table.mode],
  [
    'point-in-time recovery / AWS Backup',
    (s) => `on / ${s.backup.awsBackup ? `daily, kept ${s.backup.backupRetentionDays} d` : 'off'}`,
  ],
  [
    'deployment of a new version',
    (s) =>
      s.deployment.canary
        ? `CodeDeploy canary, ${CANARY_PERCENTAGE}% for ${s.deployment.canaryMinutes} min`
        : 'all at once',
  ],
  [
    'alarm: errors / throttles per 5 min',
    (s) => `>= ${s.alarms.functionErrors} / >= ${s.alarms.functionThrottles}`,
  ],
  [
    'alarm: p99 duration / oldest message',
    (s) =>
      `>= ${s.alarms.durationP99PercentOfTimeout}% of timeout / >= ${s.alarms.oldestMessageAgeSeconds} s`,
  ],
  ['monthly budget', (s) => `USD ${s.budget.monthlyUsd}`],
];

/** What differs between stages, one column per stage. */
export function renderStageTable(config: AppConfig): string {
  const lines = [
    `| setting | ${config.stages.map((s) => s.stageName).join(' | ')} |`,
    `| --- | ${config.stages.map(() => '---').join(' | ')} |`,
    ...ROWS.map(([name, value]) => `| ${name} | ${config.stages.map(value).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Every setting bin/ reads, with its context key and environment variable. */
export function renderSettingsTable(): string {
  return [
    '| context key | environment variable | what it sets |',
    '| --- | --- | --- |',
    ...SETTINGS.map((s) => `| \`${s.context}\` | \`${s.env}\` | ${s.description} |`),
  ].join('\n');
}
