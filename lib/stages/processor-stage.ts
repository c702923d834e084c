import { createHash } from 'node:crypto';
import { Aws, type CfnOutput, Stage, type StageProps } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ProcessorStack } from '../app-stack/processor-stack.ts';
import { type OutputName, processorStackName } from '../config/names.ts';
import type { StageConfig } from '../config/stage-config.ts';

export interface ProcessorStageProps extends Omit<StageProps, 'env'> {
  /** The stage's validated configuration; its account and region become the Stage's environment. */
  readonly config: StageConfig;
  /** Project name: prefix of the stack name and the `project` cost-allocation tag. */
  readonly project: string;
}

/** IAM's limit on role names. */
const MAX_ROLE_NAME = 64;

/**
 * Name of a stage's integration-test role, derived from its stack name (unique per project, stage and account).
 * Long names keep a readable prefix and end in a hash of the full name, so two long stack names cannot collide.
 */
export function integTestRoleName(stackName: string): string {
  const name = `${stackName}-integ-test`;
  if (name.length <= MAX_ROLE_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_ROLE_NAME - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

/**
 * One deployable environment of the processor (dev, staging, prod, or a developer's sandbox): the unit the
 * pipeline promotes and the unit a developer deploys by hand. The same class serves both, so what a developer
 * tests in a sandbox is what the pipeline ships.
 */
export class ProcessorStage extends Stage {
  readonly config: StageConfig;
  readonly stack: ProcessorStack;
  /** The stack's outputs, for `envFromCfnOutputs` in post-deploy steps. */
  readonly outputs: Record<OutputName, CfnOutput>;
  /**
   * ARN of the integration-test role as a literal other accounts can put in a policy (the pipeline's CodeBuild
   * role may assume exactly this role). A CloudFormation-generated name is only known after the deploy.
   */
  readonly integTestRoleArn: string;

  constructor(scope: Construct, id: string, props: ProcessorStageProps) {
    const { config, project, ...stageProps } = props;
    super(scope, id, { ...stageProps, env: { account: config.account, region: config.region } });
    this.config = config;
    // The stack name is the address integ tests and operator tools look outputs up by: fixed per project and stage.
    const stackName = processorStackName(project, config);
    this.stack = new ProcessorStack(this, 'Processor', { config, project, stackName });
    this.outputs = this.stack.outputs;
    this.integTestRoleArn = crossAccountRoleArn(this.stack.integTestRole.role, integTestRoleName(stackName));
  }
}

/**
 * Gives a role a name derived from its stack name and returns its ARN as a literal another account's template can
 * use. A CloudFormation-generated name is only known after the deploy, and CDK's cross-environment references need
 * the role's construct to opt in; naming it here keeps the contract in the one place that needs it. Renaming a
 * role replaces it, which is harmless for a role that holds no data.
 */
function crossAccountRoleArn(role: iam.Role, name: string): string {
  (role.node.defaultChild as iam.CfnRole).roleName = name;
  return `arn:${Aws.PARTITION}:iam::${role.env.account}:role/${name}`;
}
