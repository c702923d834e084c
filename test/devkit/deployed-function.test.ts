import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ASSET_RESOURCE_METADATA_ENABLED_CONTEXT } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../bin/build-app.ts';
import {
  type DeployedFunction,
  resolveEnvironment,
  synthesizeDeployedFunction,
} from '../../devkit/deployed-function.ts';
import { LAMBDA_RUNTIME_ENVIRONMENT } from '../../lib/app-stack/processor-bundling.ts';
import { stageByName } from '../../lib/config/app-config.ts';
import { processorEnvironment } from '../../lib/config/processor-environment.ts';
import { loadProjectConfig } from '../../lib/config/resolve.ts';

/**
 * The proof that `npm start` runs what the pipeline deploys: the whole app is synthesized through the same entry
 * as `cdk synth` (bin/), and the dev stage's function in it is compared with what the local environment extracts
 * from its own synth: same code asset (hash and every byte), same handler, same environment.
 */

interface TemplateFunction {
  readonly Properties: {
    readonly Code: { readonly S3Key: unknown };
    readonly Handler: string;
    readonly Environment: { readonly Variables: Record<string, unknown> };
  };
  readonly Metadata: Record<string, string>;
}

const scratch = mkdtempSync(join(tmpdir(), 'deployed-function-test-'));
let local: DeployedFunction;
let pipelineFunction: TemplateFunction;
let pipelineAssetDir: string;

beforeAll(() => {
  local = synthesizeDeployedFunction({ stageName: 'dev', outdir: join(scratch, 'local') });

  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
  const app = new App({
    outdir: join(scratch, 'pipeline'),
    context: { ...context, [ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true },
  });
  buildApp(app, {});
  const assembly = app.synth();
  const dev = assembly.nestedAssemblies.find(
    (n) => n.id === 'assembly-ProcessorPipeline-Dev',
  )?.nestedAssembly;
  const stack = dev?.stacks.find((s) => s.stackName === local.stackName);
  if (!dev || !stack) throw new Error(`the pipeline app has no stack ${local.stackName}`);
  const resources = stack.template.Resources as Record<string, TemplateFunction & { Type: string }>;
  const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  const processor = functions.find(
    (f) => f.Properties.Handler === local.handler && f.Metadata['aws:asset:path'],
  );
  if (!processor) throw new Error('the pipeline app has no processor function');
  pipelineFunction = processor;
  pipelineAssetDir = join(dev.directory, processor.Metadata['aws:asset:path'] as string);
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const digestOf = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir).map((file) => [
      file,
      createHash('sha256')
        .update(readFileSync(join(dir, file)))
        .digest('hex'),
    ]),
  );

describe('the local environment runs the deployed function', () => {
  it('runs the code asset the pipeline deploys: same asset hash, same bytes', () => {
    const localHash = local.assetDir.split('asset.').at(-1);
    expect(pipelineFunction.Properties.Code.S3Key).toBe(`${localHash}.zip`);
    const localFiles = digestOf(local.assetDir);
    expect(Object.keys(localFiles).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    expect(localFiles).toEqual(digestOf(pipelineAssetDir));
  });

  it('uses the handler and the environment the stack sets, derived from the stage configuration', () => {
    const stage = stageByName(loadProjectConfig({ env: {} }).config, 'dev');
    const environment = resolveEnvironment(local, { table: 'local-table', bucket: 'local-bucket' });

    expect(local.handler).toBe('index.handler');
    expect(local.runtime).toBe('nodejs24.x');
    expect(environment).toEqual({
      ...processorEnvironment(stage, 'local-table'),
      ...LAMBDA_RUNTIME_ENVIRONMENT,
    });
    expect(local.environment).toEqual(pipelineFunction.Properties.Environment.Variables);
  });

  it("reads the queue, event source and timeout settings from the template, matching the stage's config", () => {
    const stage = stageByName(loadProjectConfig({ env: {} }).config, 'dev');
    expect(local.eventSource).toEqual({
      batchSize: stage.ingestQueue.batchSize,
      maxBatchingWindowSeconds: stage.ingestQueue.maxBatchingWindowSeconds,
      maxConcurrency: stage.processor.maxEventSourceConcurrency,
      reportBatchItemFailures: true,
    });
    expect(local.ingestQueue).toEqual({
      visibilityTimeoutSeconds: stage.ingestQueue.visibilityTimeoutSeconds,
      maxReceiveCount: stage.ingestQueue.maxReceiveCount,
    });
    expect(local.timeoutSeconds).toBe(stage.processor.timeoutSeconds);
    expect(local.tableKeys.KeySchema).toEqual([{ AttributeName: 'objectKey', KeyType: 'HASH' }]);
  });

  it('refuses an environment reference the local environment cannot provide', () => {
    const withQueueUrl: DeployedFunction = {
      ...local,
      environment: { ...local.environment, QUEUE_URL: { Ref: 'ProcessorIngestQueue1234' } },
    };
    expect(() => resolveEnvironment(withQueueUrl, { table: 't', bucket: 'b' })).toThrow(
      'environment variable QUEUE_URL of the function is {"Ref":"ProcessorIngestQueue1234"}, which the local environment cannot provide',
    );
  });
});
