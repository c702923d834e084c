import { createHash } from 'node:crypto';
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

/** IAM's limit on role names. */
const MAX_ROLE_NAME = 64;

/**
 * Name of a role of a stage's stack that another account addresses by ARN (the pipeline cannot read a generated
 * name across accounts): `<stack name>-<purpose>`. Long names keep a readable prefix and end in a hash of the
 * full name, so two long stack names cannot collide.
 */
export function crossAccountRoleName(stackName: string, purpose: string): string {
  const name = `${stackName}-${purpose}`;
  if (name.length <= MAX_ROLE_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_ROLE_NAME - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

/**
 * Name of a stage's health alarm: the composite of its alarms that the pipeline's stage conditions watch. An
 * address across accounts, like a stack name, so it is fixed per project and stage.
 */
export function healthAlarmName(project: string, stageName: string): string {
  return `${project}-${stageName}-health`;
}

/**
 * CodePipeline stage names of the delivery pipeline before its deploy stages. CDK Pipelines chooses them; each
 * deploy stage after them is named `stageId(stageName)` ('Dev', 'Staging', 'Prod'). Listed here so that the
 * pipeline stack, its tests and the promotions tool agree on them.
 */
export const PIPELINE_STAGES = {
  source: 'Source',
  build: 'Build',
  updatePipeline: 'UpdatePipeline',
  assets: 'Assets',
} as const;

/**
 * Step IDs of the delivery pipeline, which CodePipeline shows as action names (see `stageActions` for the names a
 * deploy stage's actions really get) and the promotions tool reads history by.
 */
export const PIPELINE_ACTIONS = {
  synth: 'Synth',
  selfMutate: 'SelfMutate',
  /** CodeBuild step that renders the change set before the approval (stages with changeReview). */
  reviewChangeSet: 'ReviewChangeSet',
  /** The manual approval before the deploy of a stage with changeReview (prod). */
  approveDeploy: 'ApproveDeploy',
  driftCheck: 'DriftCheck',
  integrationTests: 'IntegrationTests',
  smokeTest: 'SmokeTest',
} as const;

/** The test action after a stage's deploy: the integration tests, or in production the smoke test. */
export function postDeployTestAction(stage: Pick<StageConfig, 'isProduction'>): string {
  return stage.isProduction ? PIPELINE_ACTIONS.smokeTest : PIPELINE_ACTIONS.integrationTests;
}

/** The CodePipeline actions of one deploy stage, by what they do. */
export interface StageActionNames {
  readonly driftCheck: string;
  /** Creates the change set. */
  readonly prepare: string;
  /** Executes the change set: the moment the stage runs the new version. */
  readonly deploy: string;
  readonly tests: string;
  /** Stages with changeReview only. */
  readonly review?: string;
  readonly approval?: string;
}

/**
 * The names CDK Pipelines gives a deploy stage's actions. It derives the CloudFormation actions from the stack
 * name (`<stack name>.Prepare`, `<stack name>.Deploy`), and so also the steps that run between them: in a stage
 * with changeReview the review, the approval and the drift check are `<stack name>.<step id>`. The pipeline
 * stack cannot choose these names, so they are computed here from the same inputs.
 */
export function stageActions(
  project: string,
  stage: Pick<StageConfig, 'stageName' | 'isProduction' | 'changeReview'>,
): StageActionNames {
  const stack = processorStackName(project, stage);
  const inStack = (step: string) => `${stack}.${step}`;
  const reviewed = stage.changeReview.enabled;
  return {
    driftCheck: reviewed ? inStack(PIPELINE_ACTIONS.driftCheck) : PIPELINE_ACTIONS.driftCheck,
    prepare: inStack('Prepare'),
    deploy: inStack('Deploy'),
    tests: postDeployTestAction(stage),
    ...(reviewed
      ? {
          review: inStack(PIPELINE_ACTIONS.reviewChangeSet),
          approval: inStack(PIPELINE_ACTIONS.approveDeploy),
        }
      : {}),
  };
}

/** The rules of a deploy stage's conditions, by what they watch. */
export interface StageConditionRuleNames {
  /** Entry: the previous stage's health alarm is not in ALARM. */
  readonly entryPreviousStageHealthy: string;
  /** Entry: the stage's own health alarm is not in ALARM. */
  readonly entryOwnHealthy: string;
  /** On success: the stage's health alarm stays out of ALARM for its bake time. */
  readonly bakeTime: string;
}

/**
 * Names of the rules lib/pipeline/stage-conditions.ts gives a stage's conditions. CodePipeline's history
 * (ListRuleExecutions, GetPipelineState) names a rule and its stage, not the condition it belongs to: the promotions
 * tool tells an entry check from the bake time by these names.
 */
export function stageConditionRules(stage: Pick<StageConfig, 'stageName'>): StageConditionRuleNames {
  const id = stageId(stage.stageName);
  return {
    entryPreviousStageHealthy: `${id}EntryPreviousStageHealthy`,
    entryOwnHealthy: `${id}EntryOwnHealthy`,
    bakeTime: `${id}BakeTime`,
  };
}

/**
 * The CDK context flag of aws-cdk-lib's CloudFormation schema validation (cdk.json turns its findings into
 * errors). It runs in every `cdk synth`; in-process synths that only read a template or an asset (tests, the local
 * environment, the SBOM, the docs) turn it off, because it costs about a second per stack and changes no output.
 * test/bin/template-validation.test.ts proves it on; the CLI synths of the rehearsal and the entry-points test run it.
 */
export const SCHEMA_VALIDATION_CONTEXT = '@aws-cdk/core:validateAgainstDefaultRules';
