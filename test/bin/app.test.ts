import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ACCOUNTS } from '../../lib/config/app-config.ts';

// The whole app as `npx cdk synth` runs it: bin/app.ts in a fresh Node process, context from cdk.json, no AWS
// credentials or account variables in the environment, real esbuild bundling. One synth for the file.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CDK_JSON = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));
let outdir: string;
let assembly: CloudAssembly;

/** Runs the app the way the CDK CLI does (CDK_OUTDIR, CDK_CONTEXT_JSON), with only PATH and HOME inherited. */
function runApp(out: string, extraEnv: Record<string, string> = {}) {
  expect(CDK_JSON.app).toBe('node --import ./bin/require-node.mjs bin/app.ts');
  return spawnSync(process.execPath, ['--import', './bin/require-node.mjs', 'bin/app.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CDK_OUTDIR: out,
      CDK_CONTEXT_JSON: JSON.stringify(CDK_JSON.context),
      ...extraEnv,
    },
  });
}

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'app-synth-'));
  const result = runApp(outdir);
  if (result.status !== 0) throw new Error(`bin/app.ts failed (${result.status}):\n${result.stderr}`);
  assembly = new CloudAssembly(outdir);
}, 240_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the whole app, with only the repository defaults', () => {
  it('synthesizes the pipeline stack in the tooling account', () => {
    expect(assembly.stacks.map((s) => s.stackName)).toEqual(['s3-object-processor-pipeline']);
    expect(assembly.stacks[0]?.environment).toMatchObject({
      account: FAKE_ACCOUNTS.tooling,
      region: 'eu-west-1',
    });
  });

  it('synthesizes three stage assemblies, one processor stack each, in their own accounts', () => {
    const stages = assembly.nestedAssemblies.map((n) => {
      const [stack, ...others] = n.nestedAssembly.stacks;
      expect(others).toEqual([]);
      return { stackName: stack?.stackName, account: stack?.environment.account };
    });
    expect(stages.sort((a, b) => String(a.account).localeCompare(String(b.account)))).toEqual([
      { stackName: 's3-object-processor-dev-processor', account: FAKE_ACCOUNTS.dev },
      { stackName: 's3-object-processor-staging-processor', account: FAKE_ACCOUNTS.staging },
      { stackName: 's3-object-processor-prod-processor', account: FAKE_ACCOUNTS.prod },
    ]);
  });

  it('bundles the function for real (esbuild, no Docker) into every stage', () => {
    for (const nested of assembly.nestedAssemblies) {
      const stack = nested.nestedAssembly.stacks[0];
      const manifest = JSON.parse(
        readFileSync(path.join(nested.nestedAssembly.directory, `${stack?.id}.assets.json`), 'utf8'),
      ) as {
        files: Record<string, { displayName: string; source: { path: string } }>;
      };
      const code = Object.values(manifest.files).find((f) => f.displayName.endsWith('Function/Code'));
      expect(code, stack?.stackName).toBeDefined();
      const bundle = path.join(nested.nestedAssembly.directory, code?.source.path ?? '', 'index.mjs');
      expect(statSync(bundle).size, bundle).toBeGreaterThan(10_000);
    }
  });

  it('passes every cdk-nag pack with no finding', () => {
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  it('gates prod on a review and an approval, with no bake timer (stage conditions bake instead)', () => {
    const template = assembly.getStackByName('s3-object-processor-pipeline').template as {
      Resources: Record<
        string,
        { Type: string; Properties: { Stages?: { Name: string; Actions: { Name: string }[] }[] } }
      >;
    };
    const pipeline = Object.values(template.Resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline');
    const prod = pipeline?.Properties.Stages?.find((s) => s.Name === 'Prod');
    expect(prod?.Actions.map((a) => a.Name)).toContain('s3-object-processor-prod-processor.ReviewChangeSet');
    expect(prod?.Actions.map((a) => a.Name)).toContain('s3-object-processor-prod-processor.ApproveDeploy');
    expect(Object.values(template.Resources).some((r) => r.Type === 'AWS::StepFunctions::StateMachine')).toBe(
      false,
    );
  });
});

describe('bin/app.ts with a bad setting', () => {
  it('exits 1 with the problem (stage, field, source) and no stack trace, before synthesizing anything', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'app-bad-'));
    try {
      const result = runApp(out, { STAGING_ACCOUNT: '33333' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        'stage "staging": account is "33333"; must be a 12-digit AWS account id (from environment variable STAGING_ACCOUNT="33333")',
      );
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
