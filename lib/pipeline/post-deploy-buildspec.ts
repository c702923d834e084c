import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import { parse } from 'yaml';

/** The repository's buildspec.yml: how the post-deploy integration tests run in CodeBuild. */
export const POST_DEPLOY_BUILDSPEC_FILE = fileURLToPath(new URL('../../buildspec.yml', import.meta.url));

/**
 * Parses buildspec.yml into a mergeable buildspec for the post-deploy test steps. CDK Pipelines merges it with
 * the environment it generates for each step (stage outputs, stage name); `BuildSpec.fromSourceFilename` cannot
 * be merged, so the file is read at synth time instead. A malformed file fails synth, not a deploy.
 */
export function loadPostDeployBuildSpec(file: string = POST_DEPLOY_BUILDSPEC_FILE): BuildSpec {
  const spec: unknown = parse(readFileSync(file, 'utf8'));
  const problem = buildSpecProblem(spec);
  if (problem) throw new Error(`${file}: ${problem}`);
  return BuildSpec.fromObject(spec as Record<string, unknown>);
}

function buildSpecProblem(spec: unknown): string | undefined {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return 'is not a YAML mapping';
  const { version, phases, artifacts } = spec as Record<string, unknown>;
  if (version !== '0.2') return `version must be the string "0.2" (got ${JSON.stringify(version)})`;
  // CDK Pipelines owns the step's artifacts; a second artifacts section cannot be merged.
  if (artifacts !== undefined) return 'must not declare artifacts';
  const build = (phases as Record<string, { commands?: unknown }> | undefined)?.build;
  if (!Array.isArray(build?.commands) || build.commands.length === 0) {
    return 'phases.build.commands must list the test commands';
  }
  return undefined;
}
