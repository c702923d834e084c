/**
 * Every reach into CDK Pipelines' internals (construct IDs and files it generates but does not expose), in one
 * place. Each accessor throws one clear error naming the aws-cdk-lib version when an upgrade changes what it
 * relies on, instead of silently doing nothing.
 */
import { Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type { CodePipeline } from 'aws-cdk-lib/pipelines';
import type { IConstruct } from 'constructs';

/** The aws-cdk-lib these accessors were written against (the version package.json pins). */
const WRITTEN_FOR = 'aws-cdk-lib 2.276';

export class CdkInternalsChanged extends Error {
  constructor(what: string) {
    super(
      `CDK Pipelines internals changed: ${what} (written for ${WRITTEN_FOR}); update lib/pipeline/cdk-pipelines-internals.ts`,
    );
    this.name = 'CdkInternalsChanged';
  }
}

/** Construct ID of the scope CDK Pipelines creates the asset-publishing projects and role in. */
const ASSETS_SCOPE_ID = 'Assets';
/** Construct ID of the role shared by the file-asset publishing projects. */
const FILE_ASSET_ROLE_ID = 'FileRole';

/** The CodeBuild projects of the Assets stage. Call after `buildPipeline()`. */
export function assetPublishingProjects(pipeline: CodePipeline): codebuild.Project[] {
  const hasAssetsStage = pipeline.pipeline.stages.some((s) => s.stageName === ASSETS_SCOPE_ID);
  const scope = pipeline.node.tryFindChild(ASSETS_SCOPE_ID);
  if (!hasAssetsStage) return [];
  if (scope === undefined) throw new CdkInternalsChanged(`no "${ASSETS_SCOPE_ID}" scope under the pipeline`);
  const projects = scope.node.children.filter((c): c is codebuild.Project => c instanceof codebuild.Project);
  if (projects.length === 0) throw new CdkInternalsChanged(`no CodeBuild project in "${ASSETS_SCOPE_ID}"`);
  return projects;
}

/** The role CDK Pipelines shares between file-asset publishing projects, if the pipeline publishes files. */
export function fileAssetRole(pipeline: CodePipeline): IConstruct | undefined {
  const projects = assetPublishingProjects(pipeline);
  if (projects.length === 0) return undefined;
  const role = pipeline.node.tryFindChild(ASSETS_SCOPE_ID)?.node.tryFindChild(FILE_ASSET_ROLE_ID);
  if (role === undefined) throw new CdkInternalsChanged(`no "${ASSETS_SCOPE_ID}/${FILE_ASSET_ROLE_ID}" role`);
  return role;
}

/**
 * The buildspec files (relative to the cloud assembly root) of the asset projects: with
 * `publishAssetsInParallel: false` CDK Pipelines writes each project's buildspec into the assembly and points the
 * project's `Source.BuildSpec` at it.
 */
export function assetBuildSpecFiles(pipeline: CodePipeline): string[] {
  return assetPublishingProjects(pipeline).map((project) => {
    const source = Stack.of(project).resolve((project.node.defaultChild as codebuild.CfnProject).source) as {
      buildSpec?: unknown;
    };
    if (typeof source.buildSpec !== 'string' || !/^buildspec-[\w-]+\.yaml$/.test(source.buildSpec)) {
      throw new CdkInternalsChanged(
        `asset project ${project.node.path} has no buildspec file in the assembly (Source.BuildSpec ${JSON.stringify(source.buildSpec)}); is publishAssetsInParallel still false?`,
      );
    }
    return source.buildSpec;
  });
}
