import type { App } from 'aws-cdk-lib';
import { addNagPacks } from '../lib/compliance/nag.ts';
import { ConfigError, FAKE_ACCOUNTS, stageByName } from '../lib/config/app-config.ts';
import type { Environment } from '../lib/config/app-input.ts';
import { pipelineStackName } from '../lib/config/names.ts';
import { resolveAppConfig } from '../lib/config/resolve.ts';
import type { AppConfig } from '../lib/config/stage-config.ts';
import { PipelineStack } from '../lib/pipeline/pipeline-stack.ts';
import { ProcessorStage } from '../lib/stages/processor-stage.ts';

/** Construct ID of the pipeline stack: what `npx cdk deploy <id>` selects. */
export const PIPELINE_STACK_ID = 'ProcessorPipeline';
/** Construct ID of a sandbox stage: `npx cdk deploy -c sandbox=dev --all` deploys its stack. */
export const SANDBOX_STAGE_ID = 'Sandbox';

export type BuiltApp =
  | { readonly kind: 'pipeline'; readonly config: AppConfig; readonly pipelineStack: PipelineStack }
  | { readonly kind: 'sandbox'; readonly config: AppConfig; readonly stage: ProcessorStage };

/**
 * Composes the app from context and environment: normally the pipeline stack (in the tooling account), which
 * carries every stage; with `sandbox=<stage>`, only that stage, in the caller's own account, trusting itself for
 * the integration-test role. The cdk-nag packs check whatever was built. Configuration errors are `ConfigError`s
 * whose problems name the stage, the field and the setting that supplied the value.
 */
export function buildApp(app: App, env: Environment): BuiltApp {
  const { config, sandboxStage } = resolveAppConfig((key) => app.node.tryGetContext(key), env);
  const built =
    sandboxStage === undefined ? buildPipeline(app, config, env) : buildSandbox(app, config, sandboxStage);
  addNagPacks(app);
  return built;
}

function buildPipeline(app: App, config: AppConfig, env: Environment): BuiltApp {
  // The pipeline's synth step sees only committed settings. Placeholder accounts there mean the real ones were
  // only ever given as environment variables: self-mutation would redeploy the pipeline against fake accounts.
  if (env.CODEBUILD_BUILD_ID !== undefined && config.pipeline.account === FAKE_ACCOUNTS.tooling) {
    throw new ConfigError([
      `pipeline: account is the documented placeholder ${FAKE_ACCOUNTS.tooling} in a CodeBuild build; commit the real accounts to cdk.json "context" (README "Deploy")`,
    ]);
  }
  const pipelineStack = new PipelineStack(app, PIPELINE_STACK_ID, {
    config,
    stackName: pipelineStackName(config.project),
    description: `Delivery pipeline of ${config.project}: ${config.stages.map((s) => s.stageName).join(' -> ')}`,
  });
  return { kind: 'pipeline', config, pipelineStack };
}

/** The sandbox stage alone; the resolver has already pointed it at the caller's account and region. */
function buildSandbox(app: App, config: AppConfig, stageName: string): BuiltApp {
  const stage = new ProcessorStage(app, SANDBOX_STAGE_ID, {
    config: stageByName(config, stageName),
    project: config.project,
  });
  return { kind: 'sandbox', config, stage };
}
