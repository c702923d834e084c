import { join } from 'node:path';
import { App, type CfnResource } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { ASSET_RESOURCE_METADATA_ENABLED_CONTEXT } from 'aws-cdk-lib/cx-api';
import type { ProcessorStack } from '../app-stack/processor-stack.ts';
import { stageByName } from '../config/app-config.ts';
import { SCHEMA_VALIDATION_CONTEXT, stageId } from '../config/names.ts';
import { cdkJsonContext, loadProjectConfig } from '../config/resolve.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { ProcessorStage } from './processor-stage.ts';

/**
 * One stage synthesized the way the pipeline synthesizes it (a ProcessorStage in an App, with the context of cdk.json),
 * and the processor function's code asset in its cloud assembly: the directory CDK zips and uploads, i.e. the
 * esbuild bundle, byte for byte, that the stage deploys. The local environment, the benchmarks and the SBOM all
 * read the function from here, so none of them can describe a bundle other than the deployed one.
 */

export interface SynthesizeStageOptions {
  /** Stage to synthesize (one of the configured stages). */
  readonly stageName: string;
  /** Where the cloud assembly goes; the asset directory is inside it. */
  readonly outdir: string;
  /** Environment the settings are read from, as bin/ reads them. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface SynthesizedProcessorStage {
  readonly stage: StageConfig;
  readonly project: string;
  readonly stack: ProcessorStack;
  /** The stage's cloud assembly. */
  readonly assembly: CloudAssembly;
  /** Resources of the processor stack's synthesized template, by logical ID. */
  readonly resources: Readonly<Record<string, TemplateResource>>;
  /** Logical ID of the processor function. */
  readonly functionLogicalId: string;
  /** Directory of the function's code asset in the cloud assembly (what CDK zips and uploads). */
  readonly assetDir: string;
  /** CDK's hash of the asset (the name of the zip it uploads: `<hash>.zip`). */
  readonly assetHash: string;
  /** Logical ID of a construct's CloudFormation resource in the processor stack. */
  readonly logicalIdOf: (construct: { node: { defaultChild?: unknown } }) => string;
}

/** Synthesizes the stage the way the pipeline does and finds its processor function's code asset. */
export function synthesizeProcessorStage(options: SynthesizeStageOptions): SynthesizedProcessorStage {
  const { config } = loadProjectConfig({ env: options.env ?? process.env, sandboxAccount: 'optional' });
  const stage = stageByName(config, options.stageName);
  // The CLI enables asset metadata by default; it names each resource's asset directory in the assembly.
  const app = new App({
    outdir: options.outdir,
    // The schema validation cdk.json asks for changes no output and costs a second per stack: the pipeline's own
    // synth runs it (SCHEMA_VALIDATION_CONTEXT).
    context: {
      ...cdkJsonContext(),
      [ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true,
      [SCHEMA_VALIDATION_CONTEXT]: false,
    },
  });
  const processorStage = new ProcessorStage(app, stageId(stage.stageName), {
    config: stage,
    project: config.project,
  });
  const stack = processorStage.stack;
  const assembly = processorStage.synth();
  const artifact = assembly.getStackArtifact(stack.artifactId);
  const resources = (artifact.template as { Resources: Record<string, TemplateResource> }).Resources;
  const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as CfnResource);

  const functionLogicalId = logicalIdOf(stack.processor.function);
  const fn = resources[functionLogicalId];
  const assetPath = fn?.Metadata?.['aws:asset:path'];
  if (fn?.Type !== 'AWS::Lambda::Function' || typeof assetPath !== 'string') {
    throw new Error(`function ${functionLogicalId} has no code asset in the assembly`);
  }
  const s3Key = (fn.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const assetHash =
    typeof s3Key === 'string' ? s3Key.replace(/\.zip$/, '') : assetPath.replace(/^.*asset\./, '');
  return {
    stage,
    project: config.project,
    stack,
    assembly,
    resources,
    functionLogicalId,
    assetDir: join(assembly.directory, assetPath),
    assetHash,
    logicalIdOf,
  };
}
