import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Duration, Stack, Stage, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessorStack } from '../../lib/app-stack/processor-stack.ts';
import { addNagPacks, NAG_PACK_NAMES, nagPacks } from '../../lib/compliance/nag.ts';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';

const outdirs: string[] = [];
function newApp(): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nag-test-'));
  outdirs.push(outdir);
  return new App({ outdir, context: TEST_APP_CONTEXT });
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Every finding of every pack in the tree, as `RuleId @ construct path`. */
function findings(scope: IConstruct): string[] {
  return nagPacks().flatMap((pack) =>
    (pack as NagPack)
      .validateScope(scope)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`)),
  );
}

interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
  }>;
}

/** Every stage as the pipeline deploys it, plus a sandbox stage with every optional mode on (VPC, provisioned...). */
function processorApp(): App {
  const app = newApp();
  const config = loadAppConfig({ stages: { dev: { alarmEmail: 'oncall@example.com' } } });
  for (const stage of config.stages) {
    const scope = new Stage(app, stage.stageName, { env: { account: stage.account, region: stage.region } });
    new ProcessorStack(scope, 'Processor', { config: stage, project: config.project });
  }
  const dev = stageByName(config, 'dev');
  const variant = {
    ...dev,
    stageName: 'sandbox',
    network: { vpc: true, maxAzs: 2 },
    table: {
      mode: 'provisioned' as const,
      read: { min: 1, max: 5, targetUtilizationPercent: 70 },
      write: { min: 1, max: 5, targetUtilizationPercent: 70 },
    },
    objects: { ...dev.objects, keyPrefix: 'in/' },
    backup: { awsBackup: true, backupRetentionDays: 7, copyToRegion: 'eu-central-1' },
    deployment: { ...dev.deployment, canary: true, canaryMinutes: 10 },
  };
  const sandbox = new Stage(app, 'Sandbox', { env: { account: dev.account, region: dev.region } });
  new ProcessorStack(sandbox, 'Processor', { config: variant, project: config.project });
  return app;
}

describe('cdk-nag on the processor', () => {
  const app = processorApp();

  it(`finds nothing unacknowledged in any stage or mode (${NAG_PACK_NAMES.join(', ')})`, () => {
    expect(findings(app)).toEqual([]);
  });

  it('lets the synth pass with the packs registered as validation plugins, as bin/ does', () => {
    addNagPacks(app);
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledges only exact findings, each with a specific reason', () => {
    const acknowledgements: Array<{ path: string; id: string; reason: string }> = [];
    const visit = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          // aws-cdk-lib acknowledges its own CloudFormation-Validate warnings (e.g. literal AZs); ours are cdk-nag's.
          if (id.startsWith('CloudFormation-Validate::')) continue;
          acknowledgements.push({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason });
        }
      }
      for (const child of node.node.children) visit(child);
    };
    visit(app);
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const a of acknowledgements) {
      expect(a.id, a.path).toMatch(/^(AwsSolutions|Serverless|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?$/);
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThanOrEqual(20);
      // IAM5 wildcards are acknowledged one resource or action at a time, never as a whole rule.
      if (a.id.startsWith('AwsSolutions-IAM5')) expect(a.id, a.path).toMatch(/\[(Resource|Action)::.+\]$/);
      if (a.id.startsWith('AwsSolutions-IAM4')) expect(a.id, a.path).toMatch(/\[Policy::.+\]$/);
    }
    // Nothing is acknowledged for a whole stage or stack.
    expect(acknowledgements.filter((a) => a.path.split('/').length <= 2)).toEqual([]);
  });
});

describe('cdk-nag sees stacks nested in a Stage', () => {
  it('reports a deliberately non-compliant stack inside a Stage, for every pack, through synth', () => {
    const app = newApp();
    addNagPacks(app);
    const stage = new Stage(app, 'Careless', { env: { account: '222222222222', region: 'eu-west-1' } });
    const stack = new Stack(stage, 'Leaky');
    new s3.CfnBucket(stack, 'PlainBucket');
    new sqs.CfnQueue(stack, 'PlainQueue');
    new lambda.Function(stack, 'PlainFunction', {
      runtime: lambda.Runtime.NODEJS_18_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
      timeout: Duration.seconds(3),
    });

    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
    const report = JSON.parse(
      readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    const byPack = Object.fromEntries(
      report.pluginReports.map((p) => [
        p.pluginName,
        p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} @ ${c.constructPath}`)),
      ]),
    );
    // aws-cdk-lib's own CloudFormation-Validate plugin reports here too; ours must each be present.
    expect(Object.keys(byPack)).toEqual(expect.arrayContaining([...NAG_PACK_NAMES]));
    expect(byPack.AwsSolutions).toContain('AwsSolutions-S1 @ Careless/Leaky/PlainBucket');
    expect(byPack.AwsSolutions).toContain('AwsSolutions-SQS3 @ Careless/Leaky/PlainQueue');
    expect(byPack.Serverless).toContain('Serverless-LambdaTracing @ Careless/Leaky/PlainFunction/Resource');
    expect(byPack['NIST.800.53.R5']).toContain(
      'NIST.800.53.R5-S3BucketVersioningEnabled @ Careless/Leaky/PlainBucket',
    );
  });

  it('an acknowledgement removes exactly the finding it names', () => {
    const app = newApp();
    const stage = new Stage(app, 'Careless', { env: { account: '222222222222', region: 'eu-west-1' } });
    const stack = new Stack(stage, 'Leaky');
    const bucket = new s3.CfnBucket(stack, 'PlainBucket');
    const before = findings(app);
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'A test bucket whose access is never audited.',
    });
    const after = findings(app);
    expect(before).toContain('AwsSolutions-S1 @ Careless/Leaky/PlainBucket');
    expect(before.filter((f) => !after.includes(f))).toEqual([
      'AwsSolutions-S1 @ Careless/Leaky/PlainBucket',
    ]);
  });
});
