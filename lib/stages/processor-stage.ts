import { type CfnOutput, Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DrBackupVaultStack } from '../app-stack/data-backup.ts';
import { ProcessorStack } from '../app-stack/processor-stack.ts';
import { drVaultStackName, healthAlarmName, type OutputName, processorStackName } from '../config/names.ts';
import type { StageConfig } from '../config/stage-config.ts';

export interface ProcessorStageProps extends Omit<StageProps, 'env'> {
  /** The stage's validated configuration; its account and region become the Stage's environment. */
  readonly config: StageConfig;
  /** Project name: prefix of the stack name and the `project` cost-allocation tag. */
  readonly project: string;
}

/**
 * One deployable environment of the processor (dev, staging, prod, or a developer's sandbox): the unit the
 * pipeline promotes and the unit a developer deploys by hand. The same class serves both, so what a developer
 * tests in a sandbox is what the pipeline ships.
 */
export class ProcessorStage extends Stage {
  readonly config: StageConfig;
  readonly stack: ProcessorStack;
  /**
   * The vault the backup plan copies into, in the stage's account and `backup.copyToRegion` (stages that set it).
   * Deployed before the processor stack: the plan's copy action names the vault, which must exist.
   */
  readonly drVaultStack?: DrBackupVaultStack;
  /** The stack's outputs, for `envFromCfnOutputs` in post-deploy steps. */
  readonly outputs: Record<OutputName, CfnOutput>;
  /** ARN of the integration-test role as a literal the pipeline's CodeBuild role may assume, and nothing else. */
  readonly integTestRoleArn: string;
  /** ARN of the role the pipeline's stage conditions read the health alarm as (a literal, like the one above). */
  readonly alarmGateRoleArn: string;
  /** Name of the stage's health alarm, which the pipeline's stage conditions watch. */
  readonly healthAlarmName: string;

  constructor(scope: Construct, id: string, props: ProcessorStageProps) {
    const { config, project, ...stageProps } = props;
    super(scope, id, { ...stageProps, env: { account: config.account, region: config.region } });
    this.config = config;
    // The stack name is the address integ tests and operator tools look outputs up by: fixed per project and stage.
    const stackName = processorStackName(project, config);
    this.stack = new ProcessorStack(this, 'Processor', { config, project, stackName });
    const copyRegion = config.backup.copyToRegion;
    if (copyRegion !== undefined) {
      this.drVaultStack = new DrBackupVaultStack(this, 'DrVault', {
        project,
        config,
        stackName: drVaultStackName(project, config),
        env: { account: config.account, region: copyRegion },
        description: `Disaster-recovery copies of ${project} ${config.stageName} (AWS Backup, from ${config.region})`,
      });
      // No reference crosses the regions (the plan names the vault by ARN); the dependency orders the deploys,
      // in a sandbox (`cdk deploy --all`) as in the pipeline (CDK Pipelines runs a stage's stacks in this order).
      this.stack.addStackDependency(this.drVaultStack, 'the backup plan copies into the DR vault');
    }
    this.outputs = this.stack.outputs;
    this.integTestRoleArn = this.stack.integTestRole.crossAccountRoleArn;
    this.alarmGateRoleArn = this.stack.alarmGateRole.crossAccountRoleArn;
    this.healthAlarmName = healthAlarmName(project, config.stageName);
  }
}
