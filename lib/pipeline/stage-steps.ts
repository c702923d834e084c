import { Aws, DefaultStackSynthesizer, Lazy } from 'aws-cdk-lib';
import type { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
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

/** Where the review step writes its files inside the build (the rendering, summary and review URL). */
export const CHANGE_REVIEW_DIR = 'change-review';

export interface ChangeSetReviewStepProps {
  /** The repository checkout the review tool runs from. */
  readonly input: IFileSetProducer;
  /**
   * The bucket the rendering goes to (encrypted, as the approver reads it through the review link): the
   * pipeline's artifact bucket, which exists only once the pipeline is built, hence a function.
   */
  readonly reviewBucket: () => s3.IBucket;
}

/**
 * Renders the stage's change set for the approver (tools/review-change-set.ts) between its creation and the
 * manual approval, and fails on a stateful replacement the stage's config does not allow. Exports SUMMARY (the
 * approval comment) and REVIEW_URL (the approval's review link). Reads the change set as the stage account's
 * lookup role; writes only under `change-reviews/<stage>/` of the review bucket.
 */
export function changeSetReviewStep(
  id: string,
  stage: ProcessorStage,
  props: ChangeSetReviewStepProps,
): CodeBuildStep {
  const { stageName, region } = stage.config;
  const roleArn = lookupRoleArn(stage);
  const prefix = `change-reviews/${stageName}`;
  const bucketName = Lazy.string({ produce: () => props.reviewBucket().bucketName });
  const bucketArn = Lazy.string({ produce: () => props.reviewBucket().bucketArn });
  const keyArn = Lazy.string({
    produce: () => {
      const key = props.reviewBucket().encryptionKey;
      if (!key) throw new Error('changeSetReviewStep: the review bucket must be KMS-encrypted');
      return key.keyArn;
    },
  });
  return new CodeBuildStep(id, {
    input: props.input,
    commands: [
      NPM_CI,
      REQUIRE_NODE_24,
      `npm run review-change-set -- --stage ${stageName} --stack-name ${stage.stack.stackName} --region ${region} --role-arn ${roleArn} --out ${CHANGE_REVIEW_DIR} --upload "s3://$REVIEW_BUCKET/${prefix}/$PIPELINE_EXECUTION_ID" --kms-key-id "$REVIEW_KEY_ARN"`,
      `export SUMMARY="$(cat ${CHANGE_REVIEW_DIR}/summary.txt)" REVIEW_URL="$(cat ${CHANGE_REVIEW_DIR}/review-url.txt)"`,
    ],
    env: {
      REVIEW_BUCKET: bucketName,
      REVIEW_KEY_ARN: keyArn,
      PIPELINE_EXECUTION_ID: '#{codepipeline.PipelineExecutionId}',
    },
    rolePolicyStatements: [
      new iam.PolicyStatement({
        sid: 'ReadChangeSetAsLookupRole',
        actions: ['sts:AssumeRole'],
        resources: [roleArn],
      }),
      new iam.PolicyStatement({
        sid: 'WriteChangeReview',
        actions: ['s3:PutObject'],
        resources: [`${bucketArn}/${prefix}/*`],
      }),
      new iam.PolicyStatement({
        sid: 'EncryptChangeReview',
        actions: ['kms:GenerateDataKey'],
        resources: [keyArn],
      }),
    ],
  });
}
