import type { StageConfig } from '../../lib/config/stage-config.ts';
import { table } from './blocks.ts';

/** DynamoDB's point-in-time recovery window when the stack does not set RecoveryPeriodInDays (it does not). */
export const PITR_DAYS = 35;

/** What each stage can recover from, and how far back, from its configuration. */
export function renderRecoveryPerStage(stages: readonly StageConfig[]): string {
  const row = (label: string, value: (s: StageConfig) => string) => [label, ...stages.map(value)];
  const backup = (s: StageConfig) =>
    s.backup.awsBackup ? `daily 03:00 UTC, kept ${s.backup.backupRetentionDays} days` : 'off (PITR only)';
  const copy = (s: StageConfig) =>
    s.backup.copyToRegion === undefined
      ? 'none (`backup.copyToRegion` unset)'
      : `to ${s.backup.copyToRegion}, kept ${s.backup.backupRetentionDays} days`;
  const objectsRpo = (s: StageConfig) =>
    `0 for changes in the last ${s.dataProtection.noncurrentVersionExpirationDays} days (previous versions)`;
  const bucketRpo = (s: StageConfig) =>
    s.backup.awsBackup
      ? `24 h (last daily backup, kept ${s.backup.backupRetentionDays} days)`
      : 'not covered: non-production data is disposable';
  const regionRpo = (s: StageConfig) =>
    s.backup.awsBackup && s.backup.copyToRegion !== undefined
      ? '24 h (last copied backup)'
      : 'not covered: data unavailable until the region recovers';
  return table(
    ['', ...stages.map((s) => s.stageName)],
    [
      row('Table: point-in-time recovery', () => `${PITR_DAYS} days, to the second`),
      row('Table: RPO (bad writes, deleted items)', () => '~5 min (PITR lags about 5 minutes)'),
      row(
        'Objects: replaced or deleted versions kept',
        (s) => `${s.dataProtection.noncurrentVersionExpirationDays} days`,
      ),
      row('Objects: RPO (overwrite, delete)', objectsRpo),
      row('Bucket emptied or versions purged: RPO', bucketRpo),
      row('AWS Backup (table + bucket)', backup),
      row('Cross-region backup copy', copy),
      row('Region loss: RPO', regionRpo),
      row('Stack deletion', (s) =>
        s.dataProtection.retainData
          ? 'retains bucket, table and keys'
          : 'destroys bucket (emptied), table and keys',
      ),
      row('Table deletion protection', (s) => (s.dataProtection.deletionProtection ? 'on' : 'off')),
      row('RTO objective', (s) => (s.isProduction ? '4 h (see below)' : 'best effort, next working day')),
    ],
  );
}
