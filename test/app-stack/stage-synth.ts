import { App, Stage } from 'aws-cdk-lib';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import { ProcessorStack } from '../../lib/app-stack/processor-stack.ts';
import { type AppConfigInput, loadAppConfig } from '../../lib/config/app-config.ts';
import { processorStackName, stageId } from '../../lib/config/names.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { TEST_APP_CONTEXT, TEST_APP_CONTEXT_WITH_BUNDLING } from '../support/test-app.ts';

/** One synthesized stage: its stack, template and annotations. */
export interface SynthesizedStage {
  readonly config: StageConfig;
  readonly stack: ProcessorStack;
  readonly template: Template;
  readonly annotations: Annotations;
}

export interface SynthOptions {
  /** Adjusts each stage's configuration (passed to `loadAppConfig`, so it is validated). */
  readonly customise?: (stage: StageConfig) => StageConfig;
  /** Overrides as bin/ would pass them. */
  readonly input?: AppConfigInput;
  /**
   * Run esbuild for the function. Off by default: assertion tests need the template, not the bytes, and the
   * machine is shared (one test file bundles and checks the real asset).
   */
  readonly bundle?: boolean;
  /** Only these stages. @default every stage of the configuration */
  readonly stages?: readonly string[];
  /** Called with the App before synthesis (e.g. to register cdk-nag). */
  readonly beforeSynth?: (app: App) => void;
}

/**
 * Builds an App the way bin/ does (one Stage per configured stage, the processor stack inside it, named by
 * `processorStackName`) and synthesizes every stage once.
 */
export function synthStages(options: SynthOptions = {}): {
  app: App;
  stages: Record<string, SynthesizedStage>;
} {
  const config = loadAppConfig(options.input, options.customise);
  const app = new App({ context: options.bundle ? TEST_APP_CONTEXT_WITH_BUNDLING : TEST_APP_CONTEXT });
  const built = config.stages
    .filter((s) => options.stages === undefined || options.stages.includes(s.stageName))
    .map((stageConfig) => {
      const stage = new Stage(app, stageId(stageConfig.stageName), {
        env: { account: stageConfig.account, region: stageConfig.region },
      });
      const stack = new ProcessorStack(stage, 'Processor', {
        stackName: processorStackName(config.project, stageConfig),
        config: stageConfig,
        project: config.project,
      });
      return { config: stageConfig, stack };
    });
  options.beforeSynth?.(app);
  const stages: Record<string, SynthesizedStage> = {};
  for (const { config: stageConfig, stack } of built) {
    stages[stageConfig.stageName] = {
      config: stageConfig,
      stack,
      template: Template.fromStack(stack),
      annotations: Annotations.fromStack(stack),
    };
  }
  return { app, stages };
}

/** The one resource of `type` whose logical ID starts with `prefix` (fails loudly otherwise). */
export function resourceOf(
  template: Template,
  type: string,
  prefix: string,
): { logicalId: string; resource: { Properties: Record<string, unknown>; [key: string]: unknown } } {
  const matches = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} whose logical ID starts with ${prefix}, found ${matches.length}`);
  }
  const [logicalId, resource] = matches[0] as [string, { Properties: Record<string, unknown> }];
  return { logicalId, resource };
}

/** Statements of an IAM managed policy, by its logical ID prefix. */
export function managedPolicyStatements(template: Template, prefix: string): Array<Record<string, unknown>> {
  const { resource } = resourceOf(template, 'AWS::IAM::ManagedPolicy', prefix);
  return (resource.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement;
}

/** The stage's synthesized stage, failing loudly when it is missing. */
export function stageOf(stages: Record<string, SynthesizedStage>, name: string): SynthesizedStage {
  const stage = stages[name];
  if (!stage) throw new Error(`stage ${name} was not synthesized`);
  return stage;
}
