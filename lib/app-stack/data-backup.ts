import { Aws, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { restrictKeyGrants } from '../compliance/kms-grants.ts';
import type { StageConfig } from '../config/stage-config.ts';
import type { Processor } from './processor.ts';

/**
 * Name of the vault that receives a stage's cross-region backup copies. A deliberate physical name: it is an
 * address across regions (like a stack name), and `DrBackupVaultStack` creates the vault under it.
 */
export function drBackupVaultName(project: string, stageName: string): string {
  return `${project}-${stageName}-dr-copies`;
}

export interface DataBackupProps {
  /** The stage's configuration (`backup` settings). */
  readonly config: StageConfig;
  /** Project name, part of the disaster-recovery vault's name. */
  readonly project: string;
  /** The processor whose table and bucket are backed up. */
  readonly processor: Processor;
}

/** AWS managed policies AWS Backup documents for its service role (DynamoDB and S3 backups). */
const BACKUP_SERVICE_POLICIES = [
  'service-role/AWSBackupServiceRolePolicyForBackup',
  'AWSBackupServiceRolePolicyForS3Backup',
] as const;

/**
 * AWS Backup for the table and the bucket: a daily backup kept `backupRetentionDays`, optionally copied to another
 * region. Point-in-time recovery (35 days) stays on in every stage; this adds longer, separately encrypted copies.
 */
export class DataBackup extends Construct {
  readonly vault: backup.BackupVault;
  readonly plan: backup.BackupPlan;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DataBackupProps) {
    super(scope, id);
    const { config, processor, project } = props;
    const removalPolicy = config.dataProtection.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const key = new kms.Key(this, 'BackupKey', {
      description: `Encrypts AWS Backup recovery points (${config.stageName})`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(config.dataProtection.retainData ? 30 : 7),
    });
    this.vault = new backup.BackupVault(this, 'Vault', { encryptionKey: key, removalPolicy });
    const retention = Duration.days(config.backup.backupRetentionDays);
    const copyRegion = config.backup.copyToRegion;
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: this.vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'Daily',
          scheduleExpression: events.Schedule.cron({ hour: '3', minute: '0' }),
          deleteAfter: retention,
          copyActions:
            copyRegion === undefined
              ? []
              : [
                  {
                    destinationBackupVault: backup.BackupVault.fromBackupVaultArn(
                      this,
                      'DrCopyVault',
                      `arn:${Aws.PARTITION}:backup:${copyRegion}:${Aws.ACCOUNT_ID}:backup-vault:${drBackupVaultName(project, config.stageName)}`,
                    ),
                    deleteAfter: retention,
                  },
                ],
        }),
      ],
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('backup.amazonaws.com'),
      description: `AWS Backup of the processor's table and bucket (${config.stageName})`,
      managedPolicies: BACKUP_SERVICE_POLICIES.map((name) =>
        iam.ManagedPolicy.fromAwsManagedPolicyName(name),
      ),
    });
    for (const name of BACKUP_SERVICE_POLICIES) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`,
        reason:
          'AWS Backup service role (not the function): AWS documents and maintains this exact permission set for backing up DynamoDB and S3; a hand-copied version would silently fall behind the service.',
      });
    }
    this.plan.addSelection('TableAndBucket', {
      role: this.role,
      disableDefaultBackupPolicy: true,
      resources: [
        backup.BackupResource.fromDynamoDbTable(processor.table),
        backup.BackupResource.fromArn(processor.bucket.bucketArn),
      ],
    });
  }
}

export interface DrBackupVaultStackProps extends StackProps {
  /** Project name, part of the vault name. */
  readonly project: string;
  /** The stage whose backups are copied here; deploy this stack in its `backup.copyToRegion`. */
  readonly config: StageConfig;
}

/** The vault in the disaster-recovery region that a stage's backup plan copies into (deploy before the stage). */
export class DrBackupVaultStack extends Stack {
  readonly vault: backup.BackupVault;

  constructor(scope: Construct, id: string, props: DrBackupVaultStackProps) {
    super(scope, id, props);
    restrictKeyGrants(this);
    const key = new kms.Key(this, 'DrBackupKey', {
      description: `Encrypts cross-region backup copies (${props.config.stageName})`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vault = new backup.BackupVault(this, 'DrVault', {
      backupVaultName: drBackupVaultName(props.project, props.config.stageName),
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
