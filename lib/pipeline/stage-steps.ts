import { Aws, DefaultStackSynthesizer } from 'aws-cdk-lib';
import type { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, type IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { INTEG_ENV } from '../config/names.ts';
import type { ProcessorStage } from '../stages/processor-stage.ts';
import { NPM_CI, REQUIRE_NODE_24 } from './build-environment.ts';

/** The bootstrap qualifier the target accounts were bootstrapped with (README "Deploy": the default). */
export const BOOTSTRAP_QUALIFIER = DefaultStackSynthesizer.DEFAULT_QUALIFIER;

/**
 * ARN of the CDK bootstrap lookup role of a stage's account and region: ReadOnlyAccess (which includes
 * `cloudformation:Detect*`/`Describe*`) minus `kms:Decrypt`, and assumable from the accounts given to
 * `cdk bootstrap --trust`, i.e. the tooling account. Enough for drift detection, nothing that can change a stack.
 */
export function lookupRoleArn(stage: ProcessorStage): string {
  const { account, region } = stage.config;
  return `arn:${Aws.PARTITION}:iam::${account}:role/cdk-${BOOTSTRAP_QUALIFIER}-lookup-role-${account}-${region}`;
}

export interface PostDeployTestStepProps {
  /** The repository checkout the tests run from. */
  readonly input: IFileSetProducer;
  /** The parsed buildspec.yml. */
  readonly buildSpec: BuildSpec;
  /** Run the prod smoke test (`--smoke`) instead of the full suite. @default false */
  readonly smoke?: boolean;
}

/**
 * Runs the repository's integration tests (`npm run integ -- --stage <name>`, see buildspec.yml) against the
 * stage just deployed. Bucket, table and role come from the stage's outputs, never from guessed names. The
 * CodeBuild role may do exactly one thing: assume that stage's integration-test role.
 */
export function postDeployTestStep(
  id: string,
  stage: ProcessorStage,
  props: PostDeployTestStepProps,
): CodeBuildStep {
  const { stageName, region } = stage.config;
  return new CodeBuildStep(id, {
    input: props.input,
    // Everything the step runs is in buildspec.yml; the step only supplies the environment.
    commands: [],
    partialBuildSpec: props.buildSpec,
    env: {
      INTEG_STAGE: stageName,
      [INTEG_ENV.region]: region,
      ...(props.smoke ? { INTEG_SMOKE: '1' } : {}),
    },
    envFromCfnOutputs: {
      [INTEG_ENV.bucketName]: stage.outputs.bucketName,
      [INTEG_ENV.tableName]: stage.outputs.tableName,
      [INTEG_ENV.roleArn]: stage.outputs.integTestRoleArn,
    },
    rolePolicyStatements: [
      new iam.PolicyStatement({
        sid: 'AssumeStageIntegTestRole',
        actions: ['sts:AssumeRole'],
        resources: [stage.integTestRoleArn],
      }),
    ],
  });
}

/**
 * Detects CloudFormation drift on the stage's stack before it is deployed (tools/drift-check.ts) and fails
 * the stage when someone changed it by hand. The CodeBuild role may only assume the stage account's lookup role.
 */
export function driftCheckStep(id: string, stage: ProcessorStage, input: IFileSetProducer): CodeBuildStep {
  const roleArn = lookupRoleArn(stage);
  return new CodeBuildStep(id, {
    input,
    commands: [
      NPM_CI,
      REQUIRE_NODE_24,
      `npm run drift-check -- --stack-name ${stage.stack.stackName} --region ${stage.config.region} --role-arn ${roleArn}`,
    ],
    rolePolicyStatements: [
      new iam.PolicyStatement({
        sid: 'AssumeStageLookupRole',
        actions: ['sts:AssumeRole'],
        resources: [roleArn],
      }),
    ],
  });
}
