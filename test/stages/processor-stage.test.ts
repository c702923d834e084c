import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnKey } from 'aws-cdk-lib/aws-kms';
import { StageDeployment } from 'aws-cdk-lib/pipelines';
import type { NagPack } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrBackupVaultStack } from '../../lib/app-stack/data-backup.ts';
import { integTestRoleName } from '../../lib/app-stack/integ-test-role.ts';
import { nagPacks } from '../../lib/compliance/nag.ts';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import { drVaultStackName, OUTPUT_KEYS } from '../../lib/config/names.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { ProcessorStage } from '../../lib/stages/processor-stage.ts';
import { resourceOf } from '../app-stack/stage-synth.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';

// One stage, one synth; bundling skipped (the stage's wiring is under test, not the bundle).
let outdir: string;
let config: StageConfig;
let stage: ProcessorStage;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'stage-test-'));
  const app = new App({ outdir, context: TEST_APP_CONTEXT });
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

  it('has no disaster-recovery vault stack when the stage copies no backups', () => {
    expect(config.backup.copyToRegion).toBeUndefined();
    expect(stage.drVaultStack).toBeUndefined();
    expect(stage.stack.dependencies).toEqual([]);
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

describe('ProcessorStage with backup.copyToRegion', () => {
  const COPY_REGION = 'eu-central-1';
  /** prod (AWS Backup on) copying to another region, as a deployment that sets copyToRegion would. */
  function drStage(): ProcessorStage {
    const app = new App({
      outdir: mkdtempSync(path.join(tmpdir(), 'dr-stage-')),
      context: TEST_APP_CONTEXT,
    });
    outdirs.push(app.outdir);
    const appConfig = loadAppConfig(undefined, (s) =>
      s.stageName === 'prod' ? { ...s, backup: { ...s.backup, copyToRegion: COPY_REGION } } : s,
    );
    return new ProcessorStage(app, 'Prod', {
      config: stageByName(appConfig, 'prod'),
      project: appConfig.project,
    });
  }
  const outdirs: string[] = [];
  afterAll(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });
  const dr = drStage();
  const drStack = dr.drVaultStack;
  if (!drStack) throw new Error('expected a DR vault stack');

  it("adds the vault stack in the stage's account and the copy region, under its own stack name", () => {
    expect(drStack.account).toBe(dr.config.account);
    expect(drStack.region).toBe(COPY_REGION);
    expect(drStack.stackName).toBe(drVaultStackName('s3-object-processor', dr.config));
    expect(dr.stack.region).toBe(dr.config.region);
  });

  it('creates exactly the vault the backup plan copies into', () => {
    const plan = resourceOf(Template.fromStack(dr.stack), 'AWS::Backup::BackupPlan', 'BackupPlan').resource;
    const [rule] = (plan.Properties.BackupPlan as { BackupPlanRule: Array<{ CopyActions: unknown[] }> })
      .BackupPlanRule;
    const [copy] = (rule?.CopyActions ?? []) as Array<{ DestinationBackupVaultArn: unknown }>;
    // The plan's account and partition are the deploy-time pseudo parameters of the processor stack.
    const targetArn = resolvePseudo(copy?.DestinationBackupVaultArn, {
      partition: 'aws',
      account: dr.stack.account,
    });
    const vaults = Template.fromStack(drStack).findResources('AWS::Backup::BackupVault');
    expect(Object.keys(vaults)).toHaveLength(1);
    const vault = Object.values(vaults)[0] as {
      Properties: { BackupVaultName: string };
      DeletionPolicy: string;
    };
    expect(targetArn).toBe(
      `arn:aws:backup:${drStack.region}:${drStack.account}:backup-vault:${vault.Properties.BackupVaultName}`,
    );
    expect(vault.DeletionPolicy).toBe('Retain');
  });

  it('is deployed before the processor stack, by the CLI and by CDK Pipelines', () => {
    expect(dr.stack.dependencies).toEqual([drStack]);
    const deployment = StageDeployment.fromStage(dr);
    const byName = Object.fromEntries(deployment.stacks.map((s) => [s.stackName, s]));
    const processor = byName[dr.stack.stackName];
    const vault = byName[drStack.stackName];
    expect(vault?.region).toBe(COPY_REGION);
    expect(processor?.stackDependencies).toEqual([vault]);
    expect(vault?.stackDependencies).toEqual([]);
  });

  it('passes cdk-nag with nothing to acknowledge, and the packs do inspect it', () => {
    const findings = (stack: Stack) =>
      nagPacks().flatMap((pack) =>
        (pack as NagPack)
          .validateScope(stack)
          .violations.flatMap((v) => v.violatingResources.map(() => v.ruleName)),
      );
    expect(findings(drStack)).toEqual([]);
    // The same stack with its key's rotation switched off is reported.
    const careless = new DrBackupVaultStack(new App(), 'Careless', {
      project: 's3-object-processor',
      config: dr.config,
      env: { account: dr.config.account, region: COPY_REGION },
    });
    (careless.node.findChild('DrBackupKey').node.defaultChild as CfnKey).enableKeyRotation = false;
    expect(findings(careless)).toContain('NIST.800.53.R5-KMSBackingKeyRotationEnabled');
  });
});

/** Replaces `{ Ref: AWS::Partition }` and `{ Ref: AWS::AccountId }` in an `Fn::Join` and joins it. */
function resolvePseudo(value: unknown, pseudo: { partition: string; account: string }): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`not an Fn::Join: ${JSON.stringify(value)}`);
  return join[1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref === 'AWS::Partition') return pseudo.partition;
      if (ref === 'AWS::AccountId') return pseudo.account;
      throw new Error(`unexpected part ${JSON.stringify(part)}`);
    })
    .join(join[0]);
}

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
