import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { restrictKeyGrants } from '../compliance/kms-grants.ts';
import { COST_TAG_KEYS, healthAlarmName, OUTPUT_KEYS, type OutputName } from '../config/names.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { AlarmGateRole } from './alarm-gate-role.ts';
import { CanaryDeployment } from './canary-deployment.ts';
import { DataBackup } from './data-backup.ts';
import { IntegTestRole } from './integ-test-role.ts';
import { Processor } from './processor.ts';
import { ProcessorMonitoring } from './processor-monitoring.ts';
import { StageBudget } from './stage-budget.ts';

export interface ProcessorStackProps extends StackProps {
  /** The stage's validated configuration (from `loadAppConfig`). */
  readonly config: StageConfig;
  /** Project name, used for the `project` cost-allocation tag. */
  readonly project: string;
}

/**
 * One stage of the S3 object processor. The stack only composes constructs and publishes outputs: the outputs are
 * the contract through which the pipeline, the integration tests and operators find the stage's resources.
 */
export class ProcessorStack extends Stack {
  readonly processor: Processor;
  readonly monitoring: ProcessorMonitoring;
  readonly integTestRole: IntegTestRole;
  /** The role the pipeline's stage conditions read the health alarm as. */
  readonly alarmGateRole: AlarmGateRole;
  readonly budget: StageBudget;
  /** Progressive deployment (stages with `deployment.canary`). */
  readonly canaryDeployment?: CanaryDeployment;
  /** AWS Backup plan (stages with `backup.awsBackup`). */
  readonly backup?: DataBackup;
  readonly outputs: Record<OutputName, CfnOutput>;

  constructor(scope: Construct, id: string, props: ProcessorStackProps) {
    super(scope, id, props);
    const { config, project } = props;
    Tags.of(this).add(COST_TAG_KEYS.project, project);
    Tags.of(this).add(COST_TAG_KEYS.stage, config.stageName);
    restrictKeyGrants(this);

    this.processor = new Processor(this, 'Processor', { config });
    this.monitoring = new ProcessorMonitoring(this, 'Monitoring', {
      config,
      processor: this.processor,
      healthAlarmName: healthAlarmName(project, config.stageName),
    });
    if (this.processor.alias) {
      this.canaryDeployment = new CanaryDeployment(this, 'CanaryDeployment', {
        alias: this.processor.alias,
        rollbackAlarms: [this.monitoring.errorsAlarm, this.monitoring.throttlesAlarm],
        canaryMinutes: config.deployment.canaryMinutes,
      });
    }
    this.budget = new StageBudget(this, 'Budget', {
      config,
      stageTagKey: COST_TAG_KEYS.stage,
      topic: this.monitoring.alarmTopic,
      costTags: { [COST_TAG_KEYS.project]: project, [COST_TAG_KEYS.stage]: config.stageName },
    });
    if (config.backup.awsBackup) {
      this.backup = new DataBackup(this, 'Backup', { config, project, processor: this.processor });
    }
    this.integTestRole = new IntegTestRole(this, 'IntegTestRole', { config, processor: this.processor });
    this.alarmGateRole = new AlarmGateRole(this, 'AlarmGateRole', {
      config,
      healthAlarmName: this.monitoring.healthAlarm.alarmName,
    });

    const output = (name: OutputName, value: string, description: string) =>
      new CfnOutput(this, OUTPUT_KEYS[name], { value, description });
    this.outputs = {
      bucketName: output('bucketName', this.processor.bucket.bucketName, 'Objects bucket (uploads)'),
      tableName: output('tableName', this.processor.table.tableName, 'Object records table'),
      ingestQueueUrl: output('ingestQueueUrl', this.processor.ingestQueue.queueUrl, 'Ingest queue'),
      deadLetterQueueUrl: output(
        'deadLetterQueueUrl',
        this.processor.deadLetterQueue.queueUrl,
        'Dead-letter queue (redrive from here)',
      ),
      integTestRoleArn: output(
        'integTestRoleArn',
        this.integTestRole.role.roleArn,
        'Role the post-deploy integration tests assume',
      ),
      dashboardName: output('dashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard'),
      functionName: output('functionName', this.processor.function.functionName, 'Processor function'),
      alarmTopicArn: output(
        'alarmTopicArn',
        this.monitoring.alarmTopic.topicArn,
        'Alarm notifications topic',
      ),
    };
  }
}
