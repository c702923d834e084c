import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack, Stage } from 'aws-cdk-lib';
import { buildApp } from '../../bin/build-app.ts';
import { cdkJsonContext } from '../../lib/config/resolve.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';

/** One synthesized template and where it is deployed. */
export interface DeployedTemplate {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly template: Record<string, unknown>;
}

export interface DeployedApp {
  readonly config: AppConfig;
  readonly pipeline: DeployedTemplate;
  /** Each stage's processor stack, by stage name, with the stage's configuration. */
  readonly stages: ReadonlyMap<string, DeployedTemplate & { readonly config: StageConfig }>;
}

/**
 * The app exactly as `cdk synth` builds it (bin/build-app.ts with cdk.json's context, feature flags included, and
 * no environment overrides), synthesized once. Bundling and CloudFormation schema validation are skipped
 * (TEST_APP_CONTEXT): policies do not depend on the bundle's bytes, and the CLI synths of the rehearsal and
 * entry-points tests validate the same app with cdk.json's flags.
 */
export function synthesizeDeployedApp(): DeployedApp {
  const outdir = mkdtempSync(join(tmpdir(), 'deployed-app-'));
  try {
    const app = new App({ outdir, context: { ...cdkJsonContext(), ...TEST_APP_CONTEXT } });
    const built = buildApp(app, {});
    if (built.kind !== 'pipeline') throw new Error('expected the pipeline app (no sandbox setting)');
    const assembly = app.synth();
    const templateOf = (stack: Stack): DeployedTemplate => {
      const stage = Stage.of(stack);
      const stageAssembly =
        stage === undefined || stage === app ? assembly : assembly.getNestedAssembly(stage.artifactId);
      return {
        stackName: stack.stackName,
        account: stack.account,
        region: stack.region,
        template: stageAssembly.getStackArtifact(stack.artifactId).template,
      };
    };
    const stages = new Map(
      built.pipelineStack.stages.map((stage) => [
        stage.config.stageName,
        { ...templateOf(stage.stack), config: stage.config },
      ]),
    );
    return { config: built.config, pipeline: templateOf(built.pipelineStack), stages };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
