/**
 * Every reach into aws-cdk-lib internals, behind one door. Some of what this project hardens is created by
 * aws-cdk-lib itself and exposed by no public API: the stack-wide custom-resource provider singletons, the
 * bucket-notifications handler and its policy, and the asset-publishing projects (and role) CDK Pipelines
 * creates. They are found here by the construct IDs and classes
 * aws-cdk-lib gives them, and each accessor checks what it finds: when an upgrade renames or reshapes one, synth
 * fails with one message that names the installed aws-cdk-lib, the version this was written against and what
 * changed, instead of silently hardening nothing.
 */
import { createRequire } from 'node:module';
import { CfnResource, CustomResourceProviderBase, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { AssetType, type CodePipeline } from 'aws-cdk-lib/pipelines';
import type { IConstruct } from 'constructs';

/** The aws-cdk-lib release every accessor below was checked against (package.json pins it). */
export const VERIFIED_AWS_CDK_LIB_VERSION = '2.276.0';

/** The installed aws-cdk-lib. */
export const INSTALLED_AWS_CDK_LIB_VERSION: string = (
  createRequire(import.meta.url)('aws-cdk-lib/package.json') as { version: string }
).version;

/** An aws-cdk-lib internal is not where or what this module expects. */
export class CdkInternalsChangedError extends Error {
  constructor(what: string) {
    super(
      `aws-cdk-lib ${INSTALLED_AWS_CDK_LIB_VERSION} changed an internal this project relies on (checked against ${VERIFIED_AWS_CDK_LIB_VERSION}): ${what}. Adapt lib/cdk-internals.ts to the new version.`,
    );
    this.name = 'CdkInternalsChangedError';
  }
}

/** Construct IDs (= types) of the stack-wide custom-resource providers CDK creates for some L2 features. */
export const CDK_PROVIDERS = {
  /** Behind `autoDeleteObjects: true` on a bucket. */
  autoDeleteObjects: 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
  /** Behind `restrictDefaultSecurityGroup: true` on a VPC. */
  restrictDefaultSecurityGroup: 'Custom::VpcRestrictDefaultSGCustomResourceProvider',
} as const;
export type CdkProviderId = (typeof CDK_PROVIDERS)[keyof typeof CDK_PROVIDERS];

/** A stack-wide provider and the two L1 resources of its deploy-time Lambda. */
export interface CdkProviderParts {
  readonly provider: CustomResourceProviderBase;
  /** The `AWS::IAM::Role` of the provider's function. */
  readonly role: CfnResource;
  /** The `AWS::Lambda::Function`. */
  readonly handler: CfnResource;
}

/**
 * The provider singleton `providerId` of `stack`, with its role and function. Call it after the feature that
 * creates the provider (a bucket with auto-delete, a VPC restricting its default security group).
 */
export function cdkProvider(stack: Stack, providerId: CdkProviderId): CdkProviderParts {
  const provider = stack.node.tryFindChild(providerId);
  if (!(provider instanceof CustomResourceProviderBase)) {
    throw new CdkInternalsChangedError(
      `the stack-wide custom-resource provider "${providerId}" is ${describe(provider)}, expected a CustomResourceProviderBase`,
    );
  }
  const role = provider.node.tryFindChild('Role');
  const handler = provider.node.tryFindChild('Handler');
  if (!isCfn(role, 'AWS::IAM::Role') || !isCfn(handler, 'AWS::Lambda::Function')) {
    throw new CdkInternalsChangedError(
      `the provider "${providerId}" has no CfnResource children "Role" (AWS::IAM::Role) and "Handler" (AWS::Lambda::Function)`,
    );
  }
  return { provider, role, handler };
}

/** Construct ID (and logical ID) CDK gives the singleton Lambda behind `Custom::S3BucketNotifications`. */
export const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/** The `AWS::Lambda::Function` of the stack's bucket-notifications handler (exists once a bucket has a notification). */
export function bucketNotificationsHandler(stack: Stack): CfnResource {
  const handler = stack.node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID)?.node.defaultChild;
  if (!isCfn(handler, 'AWS::Lambda::Function')) {
    throw new CdkInternalsChangedError(
      `the bucket notifications handler "${BUCKET_NOTIFICATIONS_HANDLER_ID}" is ${describe(handler)}, expected a construct whose default child is an AWS::Lambda::Function`,
    );
  }
  return handler;
}

/**
 * The inline policy CDK builds for the notifications handler of `bucket` (`<bucket>/Notifications/HandlerPolicy`),
 * created with the bucket's first notification.
 */
export function bucketNotificationsHandlerPolicy(bucket: s3.Bucket): iam.Policy {
  const policy = bucket.node.tryFindChild('Notifications')?.node.tryFindChild('HandlerPolicy');
  if (!(policy instanceof iam.Policy)) {
    throw new CdkInternalsChangedError(
      `the notifications handler policy "${bucket.node.path}/Notifications/HandlerPolicy" is ${describe(policy)}, expected an iam.Policy`,
    );
  }
  return policy;
}

/** Construct ID of the scope CDK Pipelines creates the asset-publishing projects (and their role) in. */
const ASSETS_SCOPE_ID = 'Assets';

/** The CodeBuild projects of the pipeline's Assets stage. Call after `pipeline.buildPipeline()`. */
export function pipelineAssetProjects(pipeline: CodePipeline): codebuild.Project[] {
  if (!pipeline.pipeline.stages.some((s) => s.stageName === ASSETS_SCOPE_ID)) return [];
  const scope = pipeline.node.tryFindChild(ASSETS_SCOPE_ID);
  const projects =
    scope?.node.children.filter((c): c is codebuild.Project => c instanceof codebuild.Project) ?? [];
  if (projects.length === 0) {
    throw new CdkInternalsChangedError(
      `the pipeline has an Assets stage, but "${pipeline.node.path}/${ASSETS_SCOPE_ID}" holds no codebuild.Project`,
    );
  }
  return projects;
}

/**
 * The buildspec files (relative to the cloud assembly root) of the asset projects: with
 * `publishAssetsInParallel: false` CDK Pipelines writes each project's buildspec into the assembly and points the
 * project's `Source.BuildSpec` at it.
 */
export function pipelineAssetBuildSpecFiles(pipeline: CodePipeline): string[] {
  return pipelineAssetProjects(pipeline).map((project) => {
    const source = Stack.of(project).resolve((project.node.defaultChild as codebuild.CfnProject).source) as {
      buildSpec?: unknown;
    };
    if (typeof source.buildSpec !== 'string' || !/^buildspec-[\w-]+\.yaml$/.test(source.buildSpec)) {
      throw new CdkInternalsChangedError(
        `asset project ${project.node.path} has no buildspec file in the assembly (Source.BuildSpec ${JSON.stringify(source.buildSpec)}); is publishAssetsInParallel still false?`,
      );
    }
    return source.buildSpec;
  });
}

/**
 * The role CDK Pipelines' file-asset publishing projects share (`<pipeline>/Assets/FileRole`), or undefined when
 * no stack of the pipeline's stages has a file asset (stack templates are not published as assets unless
 * `publishTemplate` is on, which this project leaves off). Call after `pipeline.buildPipeline()`.
 */
export function pipelineFileAssetRole(pipeline: CodePipeline): iam.Role | undefined {
  const publishesFiles = pipeline.waves
    .flatMap((wave) => wave.stages)
    .flatMap((stage) => stage.stacks)
    .some((stack) => stack.assets.some((asset) => asset.assetType === AssetType.FILE));
  if (!publishesFiles) return undefined;
  const role = pipeline.node.tryFindChild('Assets')?.node.tryFindChild('FileRole');
  if (!(role instanceof iam.Role)) {
    throw new CdkInternalsChangedError(
      `the pipeline publishes file assets, but "${pipeline.node.path}/Assets/FileRole" is ${describe(role)}, expected an iam.Role`,
    );
  }
  return role;
}

function isCfn(construct: IConstruct | undefined, type: string): construct is CfnResource {
  return construct instanceof CfnResource && construct.cfnResourceType === type;
}

function describe(construct: IConstruct | undefined): string {
  if (construct === undefined) return 'missing';
  return `a ${construct.constructor.name}${construct instanceof CfnResource ? ` (${construct.cfnResourceType})` : ''}`;
}
