import { Aws, CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import {
  CodeBuildStep,
  CodePipeline,
  CodePipelineSource,
  ConfirmPermissionsBroadening,
  ManualApprovalStep,
  type Step,
} from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import { COST_TAG_KEYS, pipelineName, stageId } from '../config/names.ts';
import type { AppConfig, StageConfig } from '../config/stage-config.ts';
import { ProcessorStage } from '../stages/processor-stage.ts';
import { BakeStep, BakeTimer } from './bake-step.ts';
import { NPM_CI, PipelineBuildEnvironment, REQUIRE_NODE_24 } from './build-environment.ts';
import { acknowledgePipelineFindings } from './nag-acknowledgements.ts';
import { PipelineNotifications } from './pipeline-notifications.ts';
import { loadPostDeployBuildSpec } from './post-deploy-buildspec.ts';
import { driftCheckStep, postDeployTestStep } from './stage-steps.ts';

/** The CDK CLI the pipeline runs for self-mutation and asset publishing: the version package.json pins. */
export const CDK_CLI_VERSION = '2.1148.1';
/** cdk-assets, pinned so an asset-publishing release cannot change a deploy without a commit. */
export const CDK_ASSETS_VERSION = '4.7.3';

/** The synth step's commands: every gate a release must pass, in the order a developer runs them. */
export const SYNTH_COMMANDS = [
  NPM_CI,
  REQUIRE_NODE_24,
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
 * The delivery pipeline, in the tooling account: source (push to the branch) -> synth (lint, typecheck, tests,
 * cdk synth) -> self-mutation -> one CodePipeline stage per configured stage, in promotion order. Every stage is
 * drift-checked before its deploy and tested after it; production additionally waits out the bake time, checks
 * for broadened permissions and needs a person's approval before its deploy, and runs the smoke test after.
 */
export class PipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  readonly stages: readonly ProcessorStage[];
  readonly notifications: PipelineNotifications;
  readonly buildEnvironment: PipelineBuildEnvironment;
  readonly bakeTimer?: BakeTimer;

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
      cliVersion: CDK_CLI_VERSION,
      cdkAssetsCliVersion: CDK_ASSETS_VERSION,
      codeBuildDefaults: this.buildEnvironment.codeBuildDefaults(),
      synthCodeBuildDefaults: {
        // Tests, esbuild bundles and cdk-nag for three stages: more memory, same price class.
        buildEnvironment: { computeType: codebuild.ComputeType.MEDIUM },
        timeout: Duration.minutes(45),
      },
      synth: new CodeBuildStep('Synth', {
        input: source,
        commands: SYNTH_COMMANDS,
        primaryOutputDirectory: 'cdk.out',
      }),
    });

    const buildSpec = postDeployBuildSpec ?? loadPostDeployBuildSpec();
    const bakeMinutes = config.pipeline.prodBakeMinutes;
    this.bakeTimer =
      bakeMinutes > 0
        ? new BakeTimer(this, 'ProdBake', {
            minutes: bakeMinutes,
            stateMachineName: `${config.project}-prod-bake`,
          })
        : undefined;

    this.stages = config.stages.map((stageConfig) => {
      const stage = new ProcessorStage(this, stageId(stageConfig.stageName), {
        config: stageConfig,
        project: config.project,
      });
      this.pipeline.addStage(stage, {
        pre: this.gatesBefore(stage, source),
        post: [
          postDeployTestStep(stageConfig.isProduction ? 'SmokeTest' : 'IntegrationTests', stage, {
            input: source,
            buildSpec,
            smoke: stageConfig.isProduction,
          }),
        ],
      });
      return stage;
    });

    this.pipeline.buildPipeline();
    // The bake action names the state machine by its literal ARN, which CloudFormation cannot see as a reference.
    if (this.bakeTimer) this.pipeline.pipeline.node.addDependency(this.bakeTimer.stateMachine);
    this.pipeline.pipeline.notifyOn('Notify', this.notifications.notificationTarget, {
      notificationRuleName: `${config.project}-pipeline`,
      events: [
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
      ],
    });
    hardenSecurityCheck(
      this.pipeline,
      config,
      this.buildEnvironment.logGroup,
      this.buildEnvironment.newLogGroup('SecurityCheckApproverLogs'),
    );

    new CfnOutput(this, 'PipelineName', { value: this.pipeline.pipeline.pipelineName });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.pipeline.pipeline.artifactBucket.bucketName });
    new CfnOutput(this, 'BuildCacheBucketName', { value: this.buildEnvironment.cacheBucket.bucketName });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.notifications.topic.topicArn });

    acknowledgePipelineFindings(this);
  }

  /**
   * Steps before a stage's deploy, chained so they run one after another. Production: bake time, the
   * permissions-broadening check, the manual approval, then the drift check right before the deploy (a check
   * made before a long approval wait would be stale).
   */
  private gatesBefore(stage: ProcessorStage, source: CodePipelineSource): Step[] {
    const gates: Step[] = [];
    if (stage.config.isProduction) {
      if (this.bakeTimer) gates.push(new BakeStep('BakeTime', this.bakeTimer));
      gates.push(
        new ConfirmPermissionsBroadening('PermissionsBroadening', {
          stage,
          notificationTopic: this.notifications.topic,
        }),
        new ManualApprovalStep('ApproveDeploy', { comment: approvalComment(stage.config, this.bakeTimer) }),
      );
    }
    gates.push(driftCheckStep('DriftCheck', stage, source));
    for (const [previous, next] of gates.slice(0, -1).map((g, i) => [g, gates[i + 1]] as const)) {
      next?.addStepDependency(previous);
    }
    return gates;
  }
}

function approvalComment(stage: StageConfig, bake: BakeTimer | undefined): string {
  const baked = bake ? `, baked for ${bake.minutes} minutes` : '';
  return `Deploy to ${stage.stageName} (${stage.account}, ${stage.region})? The previous stages passed their integration tests${baked}.`;
}

/** Denies sts:AssumeRole on any role outside the given accounts. */
function onlyAssumeRolesIn(accounts: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'AssumeRolesOnlyInPipelineAccounts',
    effect: iam.Effect.DENY,
    actions: ['sts:AssumeRole'],
    notResources: accounts.map((account) => `arn:${Aws.PARTITION}:iam::${account}:role/*`),
  });
}

/**
 * Tightens the CDK-generated parts of ConfirmPermissionsBroadening:
 * - its CodeBuild project may assume any CDK deploy role in any account (a tag condition on `Resource: *`); it only
 *   needs the roles of the accounts this pipeline deploys to, so everything else is denied;
 * - its auto-approve function gets AWSLambdaBasicExecutionRole (logs on every log group); instead it writes to one
 *   encrypted log group with a retention, and may write nowhere else;
 * - its CodeBuild project logs, like every other project of the pipeline, to the encrypted build log group.
 */
function hardenSecurityCheck(
  pipeline: CodePipeline,
  config: AppConfig,
  buildLogs: logs.ILogGroup,
  approverLogs: logs.ILogGroup,
): void {
  const check = pipeline.node.tryFindChild('PipelinesSecurityCheck') as
    | { cdkDiffProject?: codebuild.Project; preApproveLambda?: lambda.Function }
    | undefined;
  const diffProject = check?.cdkDiffProject;
  if (diffProject) {
    diffProject.addToRolePolicy(onlyAssumeRolesIn(config.stages.map((s) => s.account)));
    (diffProject.node.defaultChild as codebuild.CfnProject).logsConfig = {
      cloudWatchLogs: { status: 'ENABLED', groupName: buildLogs.logGroupName },
    };
    buildLogs.grantWrite(diffProject);
  }
  const approver = check?.preApproveLambda;
  if (!approver?.role) return;
  (approver.role.node.defaultChild as iam.CfnRole).managedPolicyArns = [];
  (approver.node.defaultChild as lambda.CfnFunction).loggingConfig = { logGroup: approverLogs.logGroupName };
  approverLogs.grantWrite(approver.role);
}
