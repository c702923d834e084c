import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { resourceOf, stageOf } from './stage-synth.ts';
import { arnOf, BUCKET, stages, TABLE } from './synthesized-stages.ts';

/** AWS Backup (lib/app-stack/data-backup.ts): prod only. */
describe('what differs between stages', () => {
  it('prod backs up table and bucket daily with AWS Backup into an encrypted vault, kept the configured days', () => {
    const { template, config } = stageOf(stages, 'prod');
    const vault = resourceOf(template, 'AWS::Backup::BackupVault', 'BackupVault');
    expect(vault.resource.Properties.EncryptionKeyArn).toEqual(
      arnOf(resourceOf(template, 'AWS::KMS::Key', 'BackupBackupKey').logicalId),
    );
    expect(vault.resource.DeletionPolicy).toBe('Retain');
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [
          Match.objectLike({
            RuleName: 'Daily',
            ScheduleExpression: 'cron(0 3 * * ? *)',
            Lifecycle: { DeleteAfterDays: config.backup.backupRetentionDays },
            TargetBackupVault: Match.anyValue(),
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: {
        Resources: [arnOf(TABLE), arnOf(BUCKET)],
      },
    });
    const plan = resourceOf(template, 'AWS::Backup::BackupPlan', 'BackupPlan').resource;
    const [rule] = (plan.Properties.BackupPlan as { BackupPlanRule: Array<{ CopyActions?: unknown[] }> })
      .BackupPlanRule;
    expect(rule?.CopyActions ?? []).toEqual([]);
  });

  it.each(['dev', 'staging'])('%s relies on point-in-time recovery only (no AWS Backup)', (name) => {
    const { template } = stageOf(stages, name);
    template.resourceCountIs('AWS::Backup::BackupPlan', 0);
    template.resourceCountIs('AWS::Backup::BackupVault', 0);
  });
});
