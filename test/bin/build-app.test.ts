import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, PIPELINE_STACK_ID, SANDBOX_STAGE_ID } from '../../bin/build-app.ts';
import { ConfigError, FAKE_ACCOUNTS, loadAppConfig } from '../../lib/config/app-config.ts';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';

// Composition tests: construction only (cheap), bundling skipped wherever a synth is needed.
const outdirs: string[] = [];
function newApp(context: Record<string, unknown> = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'build-app-test-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...TEST_APP_CONTEXT, ...context } });
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

const CDK_JSON_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

describe('buildApp: pipeline', () => {
  it("cdk.json's context holds exactly the documented placeholders (nothing real, nothing diverging)", () => {
    const built = buildApp(newApp(CDK_JSON_CONTEXT), {});
    expect(built.config).toEqual(loadAppConfig());
  });

  it('builds only the pipeline stack, in the tooling account, named after the project', () => {
    const app = newApp();
    const built = buildApp(app, { TOOLING_ACCOUNT: '101010101010', PROJECT_NAME: 'files' });

    expect(built.kind).toBe('pipeline');
    const stack = app.node.findChild(PIPELINE_STACK_ID);
    expect(stack).toBeInstanceOf(PipelineStack);
    expect((stack as PipelineStack).account).toBe('101010101010');
    expect((stack as PipelineStack).stackName).toBe('files-pipeline');
    expect(app.node.children.map((c) => c.node.id)).toEqual([PIPELINE_STACK_ID]);
  });

  it('refuses, inside CodeBuild, to synthesize the pipeline against placeholder accounts', () => {
    expect(() => buildApp(newApp(), { CODEBUILD_BUILD_ID: 'build:1' })).toThrow(ConfigError);
    expect(() => buildApp(newApp(), { CODEBUILD_BUILD_ID: 'build:1' })).toThrow(/commit the real accounts/);
    expect(buildApp(newApp(), { CODEBUILD_BUILD_ID: 'build:1', TOOLING_ACCOUNT: '101010101010' }).kind).toBe(
      'pipeline',
    );
  });

  it('registers the cdk-nag packs: a non-compliant resource fails the synth', () => {
    const app = newApp();
    const built = buildApp(app, {});
    if (built.kind !== 'pipeline') throw new Error('expected the pipeline');
    new s3.Bucket(built.pipelineStack, 'NonCompliantBucket');
    expect(() => app.synth()).toThrow(/S3 Bucket/);
    const report = JSON.parse(readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { violatingConstructs: { constructPath: string }[] }[] }[];
    };
    const paths = new Set(
      report.pluginReports.flatMap((r) =>
        r.violations.flatMap((v) => v.violatingConstructs.map((c) => c.constructPath)),
      ),
    );
    // Only the planted bucket: the pipeline and all three stages are otherwise clean under every pack.
    expect([...paths]).toEqual(['ProcessorPipeline/NonCompliantBucket/Resource']);
  });
});

describe('buildApp: sandbox', () => {
  const caller = { CDK_DEFAULT_ACCOUNT: '555555555555', CDK_DEFAULT_REGION: 'eu-central-1' };

  it("builds one stage in the caller's account and region, trusting that account for its integ-test role", () => {
    const app = newApp({ sandbox: 'dev' });
    const built = buildApp(app, caller);

    if (built.kind !== 'sandbox') throw new Error('expected a sandbox');
    expect(app.node.children.map((c) => c.node.id)).toEqual([SANDBOX_STAGE_ID]);
    expect(built.stage.config).toMatchObject({
      stageName: 'dev',
      account: '555555555555',
      region: 'eu-central-1',
      integTestTrustedAccount: '555555555555',
    });
    // Other stages keep their configuration: a sandbox changes nothing but itself.
    expect(built.config.stages.find((s) => s.stageName === 'prod')?.account).toBe(FAKE_ACCOUNTS.prod);
    Template.fromStack(built.stage.stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 's3-object-processor-dev-processor-integ-test',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Principal: {
              AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::555555555555:root']] },
            },
          },
        ],
      },
    });
  });

  it("uses the stage's configured region when the CLI has none", () => {
    const built = buildApp(newApp(), { SANDBOX_STAGE: 'staging', CDK_DEFAULT_ACCOUNT: '555555555555' });
    expect(built.kind === 'sandbox' && built.stage.region).toBe('eu-west-1');
  });

  it("needs the caller's account, and a stage that exists", () => {
    expect(() => buildApp(newApp({ sandbox: 'dev' }), {})).toThrow(/sandbox.*CDK_DEFAULT_ACCOUNT/);
    expect(() => buildApp(newApp({ sandbox: 'qa' }), caller)).toThrow(
      /sandbox is "qa"; known stages: dev, staging, prod/,
    );
  });
});
