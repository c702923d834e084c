import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import { CodeBuildStep, CodePipeline, CodePipelineSource, type Step } from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import { restrictKeyGrants } from '../compliance/kms-grants.ts';
import {
  COST_TAG_KEYS,
  PIPELINE_ACTIONS,
  pipelineName,
  postDeployTestAction,
  stageId,
} from '../config/names.ts';
import type { AppConfig } from '../config/stage-config.ts';
import { ProcessorStage } from '../stages/processor-stage.ts';
import { ReviewedApprovalStep } from './approval-step.ts';
import { expireArtifacts } from './artifact-retention.ts';
import { publishAssetsWithPinnedLibrary } from './asset-publishing.ts';
import { NPM_CI, PipelineBuildEnvironment, REQUIRE_NODE_24 } from './build-environment.ts';
import { acknowledgePipelineFindings } from './nag-acknowledgements.ts';
import { PipelineNotifications } from './pipeline-notifications.ts';
import { loadPostDeployBuildSpec } from './post-deploy-buildspec.ts';
import { PullRequestChecks } from './pull-request-checks.ts';
import { applyStageConditions } from './stage-conditions.ts';
import { changeSetReviewStep, driftCheckStep, postDeployTestStep } from './stage-steps.ts';
import { publishSboms, SUPPLY_CHAIN_GATE_COMMANDS } from './supply-chain-gates.ts';
import { CDK_CLI_VERSION } from './tool-versions.ts';

/** The synth step's commands: every gate a release must pass, in the order a developer runs them. */
export const SYNTH_COMMANDS = [
  NPM_CI,
  REQUIRE_NODE_24,
  ...SUPPLY_CHAIN_GATE_COMMANDS,
  'npm run lint',
  'npm run typecheck',
  'npm test',
  'npx cdk synth',
];

export interface PipelineStackProps extends Omit<StackProps, 'env'> {
  /** The validated app configuration: the pipeline's own account/region and the stages it promotes through. */
  readonly config: AppConfig;
  /** The post-deploy test buildspec. @default the repository's buildspec.yml */
  readonly postDeployBuildSpec?: BuildSpec;
}

/**
 * The delivery pipeline, in the tooling account: source (push to the branch) -> synth (supply-chain gates, lint,
 * typecheck, tests, cdk synth) -> self-mutation -> assets -> one CodePipeline stage per configured stage, in
 * promotion order. Every stage is drift-checked before its deploy and tested after it. A stage with
 * `changeReview` (prod) renders its change set for a person, who approves it before it executes. Stage conditions
 * (stage-conditions.ts) keep promotion out of alarming stages, bake each stage on its health alarm, and roll a
 * failed stage back.
 */
export class PipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  readonly stages: readonly ProcessorStage[];
  readonly notifications: PipelineNotifications;
  readonly buildEnvironment: PipelineBuildEnvironment;
  /** The synth gates on pull requests, before they are merged (deploys nothing). */
  readonly pullRequestChecks: PullRequestChecks;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    const { config, postDeployBuildSpec, ...stackProps } = props;
    super(scope, id, {
      ...stackProps,
      env: { account: config.pipeline.account, region: config.pipeline.region },
    });
    Tags.of(this).add(COST_TAG_KEYS.project, config.project);

    this.buildEnvironment = new PipelineBuildEnvironment(this, 'BuildEnvironment');
    this.notifications = new PipelineNotifications(this, 'Notifications', {
      email: config.pipeline.notificationEmail,
    });
    const source = CodePipelineSource.connection(config.pipeline.repository, config.pipeline.branch, {
      connectionArn: config.pipeline.connectionArn,
      triggerOnPush: true,
    });

    this.pipeline = new CodePipeline(this, 'Pipeline', {
      // An address, like a stack name: operators find the pipeline by it in the console and the CLI.
      pipelineName: pipelineName(config.project),
      pipelineType: codepipeline.PipelineType.V2,
      selfMutation: true,
      crossAccountKeys: true,
      enableKeyRotation: true,
      dockerEnabledForSynth: false,
      dockerEnabledForSelfMutation: false,
      publishAssetsInParallel: false,
      // Self-mutation installs the CLI the lockfile pins; the Assets stage installs nothing (asset-publishing.ts).
      cliVersion: CDK_CLI_VERSION,
      codeBuildDefaults: this.buildEnvironment.codeBuildDefaults(),
      synthCodeBuildDefaults: this.buildEnvironment.synthCodeBuildDefaults(),
      synth: publishSboms(
        new CodeBuildStep('Synth', {
          input: source,
          commands: SYNTH_COMMANDS,
          primaryOutputDirectory: 'cdk.out',
        }),
      ),
    });

    const buildSpec = postDeployBuildSpec ?? loadPostDeployBuildSpec();
    this.stages = config.stages.map((stageConfig) => {
      const stage = new ProcessorStage(this, stageId(stageConfig.stageName), {
        config: stageConfig,
        project: config.project,
      });
      const driftCheck = driftCheckStep(PIPELINE_ACTIONS.driftCheck, stage, source);
      const tests = postDeployTestStep(postDeployTestAction(stageConfig), stage, {
        input: source,
        buildSpec,
        smoke: stageConfig.isProduction,
      });
      if (stageConfig.changeReview.enabled) {
        this.pipeline.addStage(stage, {
          stackSteps: [{ stack: stage.stack, changeSet: this.reviewedApproval(stage, source, driftCheck) }],
          post: [tests],
        });
      } else {
        this.pipeline.addStage(stage, { pre: [driftCheck], post: [tests] });
      }
      return stage;
    });

    this.pipeline.buildPipeline();
    publishAssetsWithPinnedLibrary(this.pipeline);
    applyStageConditions(this.pipeline, this.stages, { alarmGates: config.pipeline.alarmGates });
    restrictKeyGrants(this);
    expireArtifacts(this.pipeline.pipeline.artifactBucket);
    // A stage outside the pipeline's region gets an artifact bucket and key in a support stack CDK creates beside
    // this one (under the app, so this stack's aspects do not reach it): the same expiry and grant restriction.
    for (const support of Object.values(this.pipeline.pipeline.crossRegionSupport)) {
      restrictKeyGrants(support.stack);
      expireArtifacts(support.replicationBucket);
    }
    this.pipeline.pipeline.notifyOn('Notify', this.notifications.notificationTarget, {
      notificationRuleName: `${config.project}-pipeline`,
      events: [
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
      ],
    });

    this.pullRequestChecks = new PullRequestChecks(this, 'PullRequestChecks', {
      pipeline: config.pipeline,
      commands: SYNTH_COMMANDS,
      buildEnvironment: this.buildEnvironment,
      projectName: `${pipelineName(config.project)}-pull-requests`,
    });

    new CfnOutput(this, 'PipelineName', { value: this.pipeline.pipeline.pipelineName });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.pipeline.pipeline.artifactBucket.bucketName });
    new CfnOutput(this, 'BuildCacheBucketName', { value: this.buildEnvironment.cacheBucket.bucketName });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.notifications.topic.topicArn });

    acknowledgePipelineFindings(this);
  }

  /**
   * The steps between a stage's change set and its execution, in order: the change-set review (the approver's
   * rendering, and the stateful-replacement guard), the manual approval that carries its summary and links to it,
   * then the drift check right before the change set executes (a check made before a long approval would be
   * stale).
   */
  private reviewedApproval(
    stage: ProcessorStage,
    source: CodePipelineSource,
    driftCheck: CodeBuildStep,
  ): Step[] {
    const review = changeSetReviewStep(PIPELINE_ACTIONS.reviewChangeSet, stage, {
      input: source,
      reviewBucket: () => this.pipeline.pipeline.artifactBucket,
    });
    const { stageName, account, region } = stage.config;
    const approval = new ReviewedApprovalStep(PIPELINE_ACTIONS.approveDeploy, {
      comment: `Deploy to ${stageName} (${account}, ${region})? Change set: ${review.exportedVariable('SUMMARY')}. The full review is at the link; the previous stages passed their tests and bake time.`,
      reviewUrl: review.exportedVariable('REVIEW_URL'),
    });
    approval.addStepDependency(review);
    driftCheck.addStepDependency(approval);
    return [review, approval, driftCheck];
  }
}
