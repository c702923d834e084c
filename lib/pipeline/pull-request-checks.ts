import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../config/stage-config.ts';
import { IMAGE_NODE_RUNTIME, NPM_CACHE_PATH, type PipelineBuildEnvironment } from './build-environment.ts';

export interface PullRequestChecksProps {
  /** Repository, branch and connection of the delivery pipeline: pull requests into that branch are checked. */
  readonly pipeline: PipelineConfig;
  /** Exactly the delivery pipeline's synth commands, so both agree on what "green" means. */
  readonly commands: readonly string[];
  /** Image, cache and log group shared with the pipeline's projects. */
  readonly buildEnvironment: PipelineBuildEnvironment;
  /** Project name (an address: contributors see it as the check's name). */
  readonly projectName: string;
}

/** Pull-request events that run the checks: opened, pushed to, reopened. */
export const PULL_REQUEST_EVENTS = [
  codebuild.EventAction.PULL_REQUEST_CREATED,
  codebuild.EventAction.PULL_REQUEST_UPDATED,
  codebuild.EventAction.PULL_REQUEST_REOPENED,
] as const;

/** GitHub repository roles whose pull requests build at once, and whose comment lets a fork's pull request build. */
export const PULL_REQUEST_APPROVERS = ['GITHUB_WRITE', 'GITHUB_MAINTAIN', 'GITHUB_ADMIN'] as const;

/**
 * The synth gates on every pull request into the pipeline's branch, before it is merged: a CodeBuild project with
 * a GitHub webhook that reports its result as a commit status on the pull request. It deploys nothing and cannot:
 * its role may assume no role at all (an explicit deny), so no stage role, bootstrap role or pipeline role is
 * within its reach, whatever a pull request's code tries.
 *
 * Why a webhook project and not a second CodePipeline with a pull-request trigger: CodeBuild reports the build
 * status to GitHub itself (a pipeline would need its own reporter), a contributor sees one check with a link to
 * its log, and it costs build minutes only (a V2 pipeline adds action-minute charges and keeps no per-PR status).
 */
export class PullRequestChecks extends Construct {
  readonly project: codebuild.Project;

  constructor(scope: Construct, id: string, props: PullRequestChecksProps) {
    super(scope, id);
    const { pipeline, buildEnvironment } = props;
    const [owner = '', repo = ''] = pipeline.repository.split('/');
    const defaults = buildEnvironment.codeBuildDefaults();
    const synthMachine = buildEnvironment.synthCodeBuildDefaults();
    this.project = new codebuild.Project(this, 'Project', {
      projectName: props.projectName,
      description: `Pull-request checks of ${pipeline.repository} into ${pipeline.branch}: the synth gates, nothing deployed`,
      source: codebuild.Source.gitHub({
        owner,
        repo,
        webhook: true,
        reportBuildStatus: true,
        webhookFilters: [
          codebuild.FilterGroup.inEventOf(...PULL_REQUEST_EVENTS).andBaseBranchIs(pipeline.branch),
        ],
      }),
      environment: { ...defaults.buildEnvironment, ...synthMachine.buildEnvironment },
      cache: defaults.cache,
      logging: defaults.logging,
      timeout: synthMachine.timeout,
      // It produces no artifact; the key covers what CodeBuild would encrypt (cache uploads, reports) anyway.
      encryptionKey: buildEnvironment.logsKey,
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: {
          install: { 'runtime-versions': { nodejs: IMAGE_NODE_RUNTIME } },
          build: { commands: [...props.commands] },
        },
        cache: { paths: [NPM_CACHE_PATH] },
      }),
    });
    // CodeBuild reads the repository through the pipeline's CodeConnections connection (no OAuth token to keep);
    // the L2 GitHub source has no property for it.
    const cfnProject = this.project.node.defaultChild as codebuild.CfnProject;
    cfnProject.addPropertyOverride('Source.Auth', {
      Type: 'CODECONNECTIONS',
      Resource: pipeline.connectionArn,
    });
    // A pull request from a fork runs someone else's code with this project's role and cache: only after a person
    // with write access to the repository approves it with a comment (PULL_REQUEST_APPROVERS).
    cfnProject.addPropertyOverride('Triggers.PullRequestBuildPolicy', {
      RequiresCommentApproval: 'FORK_PULL_REQUESTS',
      ApproverRoles: [...PULL_REQUEST_APPROVERS],
    });
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadRepositoryThroughConnection',
        actions: [
          'codeconnections:UseConnection',
          'codeconnections:GetConnectionToken',
          'codestar-connections:UseConnection',
          'codestar-connections:GetConnectionToken',
        ],
        resources: [pipeline.connectionArn],
      }),
    );
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeployNothing',
        effect: iam.Effect.DENY,
        actions: ['sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
        resources: ['*'],
      }),
    );
  }
}
