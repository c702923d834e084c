import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integTestRoleName } from '../../lib/app-stack/integ-test-role.ts';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import { OUTPUT_KEYS } from '../../lib/config/names.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { ProcessorStage } from '../../lib/stages/processor-stage.ts';

// One stage, one synth; bundling skipped (the stage's wiring is under test, not the bundle).
let outdir: string;
let config: StageConfig;
let stage: ProcessorStage;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'stage-test-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const appConfig = loadAppConfig({
    project: 'acme-files',
    stages: {
      staging: { account: '999999999999', region: 'eu-central-1', integTestTrustedAccount: '888888888888' },
    },
  });
  config = stageByName(appConfig, 'staging');
  stage = new ProcessorStage(app, 'Staging', { config, project: 'acme-files' });
  template = Template.fromStack(stage.stack);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('ProcessorStage', () => {
  it("deploys into the stage's account and region, under the stack name tools look outputs up by", () => {
    expect(stage.account).toBe('999999999999');
    expect(stage.region).toBe('eu-central-1');
    expect(stage.stack.account).toBe('999999999999');
    expect(stage.stack.region).toBe('eu-central-1');
    expect(stage.stack.stackName).toBe('acme-files-staging-processor');
    expect(stage.config).toBe(config);
  });

  it("exposes the stack's outputs, one per output key, for envFromCfnOutputs", () => {
    expect(Object.keys(stage.outputs).sort()).toEqual(Object.keys(OUTPUT_KEYS).sort());
    for (const [name, output] of Object.entries(stage.outputs)) {
      expect(Stack.of(output)).toBe(stage.stack);
      expect(output.node.id).toBe(OUTPUT_KEYS[name as keyof typeof OUTPUT_KEYS]);
    }
    template.hasOutput(OUTPUT_KEYS.integTestRoleArn, {});
  });

  it('names the integration-test role so another account can reference its ARN literally', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'acme-files-staging-processor-integ-test',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Principal: {
              AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::888888888888:root']] },
            },
          },
        ],
      },
    });
    // The literal has no token but the partition, which resolves in the consuming (pipeline) stack.
    const other = new Stack(new App(), 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
    expect(other.resolve(stage.integTestRoleArn)).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':iam::999999999999:role/acme-files-staging-processor-integ-test',
        ],
      ],
    });
    expect(Token.isUnresolved(stage.integTestRoleArn)).toBe(true);
  });
});

describe('integTestRoleName', () => {
  it('is the stack name plus a suffix when it fits IAM', () => {
    expect(integTestRoleName('s3-object-processor-dev-processor')).toBe(
      's3-object-processor-dev-processor-integ-test',
    );
  });

  it('keeps long names within 64 characters, distinct, and stable', () => {
    const a = integTestRoleName(`${'a'.repeat(50)}-dev-processor`);
    const b = integTestRoleName(`${'a'.repeat(50)}-prd-processor`);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(b.length).toBeLessThanOrEqual(64);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^a{50}-dev-[0-9a-f]{8}$/);
    expect(integTestRoleName(`${'a'.repeat(50)}-dev-processor`)).toBe(a);
  });
});
