import type { StageConfig } from './stage-config.ts';

/** Construct ID of a stage: `dev` -> `Dev`, `staging` -> `Staging`. */
export function stageId(stageName: string): string {
  return stageName
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/**
 * CloudFormation stack name of a stage's processor stack. Stack names are addresses, not physical resource names:
 * integration tests and operator tools find a stage's outputs through it.
 */
export function processorStackName(project: string, stage: Pick<StageConfig, 'stageName'>): string {
  return `${project}-${stage.stageName}-processor`;
}

/**
 * CloudFormation stack name of a stage's disaster-recovery vault stack (stages with `backup.copyToRegion`): it lives
 * in the copy region, beside no other stack of the project, and is found by this name like the processor stack.
 */
export function drVaultStackName(project: string, stage: Pick<StageConfig, 'stageName'>): string {
  return `${project}-${stage.stageName}-dr-vault`;
}

/** CloudFormation name of the pipeline stack. */
export function pipelineStackName(project: string): string {
  return `${project}-pipeline`;
}

/** Name of the delivery pipeline in CodePipeline: an address operators and tools find it by, like a stack name. */
export function pipelineName(project: string): string {
  return project;
}

/** Keys of the processor stack's CfnOutputs: the contract between the stack, the pipeline, tests and tools. */
export const OUTPUT_KEYS = {
  bucketName: 'BucketName',
  tableName: 'TableName',
  ingestQueueUrl: 'IngestQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  integTestRoleArn: 'IntegTestRoleArn',
  dashboardName: 'DashboardName',
  functionName: 'FunctionName',
  alarmTopicArn: 'AlarmTopicArn',
} as const;
export type OutputName = keyof typeof OUTPUT_KEYS;

/** Cost-allocation tag keys; activate them once in the Billing console so budgets and Cost Explorer can filter. */
export const COST_TAG_KEYS = { project: 'project', stage: 'stage' } as const;

/** Environment variables through which the pipeline hands a deployed stage's outputs to the integration tests. */
export const INTEG_ENV = {
  bucketName: 'INTEG_BUCKET_NAME',
  tableName: 'INTEG_TABLE_NAME',
  roleArn: 'INTEG_ROLE_ARN',
  region: 'INTEG_REGION',
} as const;
