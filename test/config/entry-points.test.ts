import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';

/**
 * The seam between `cdk synth` and everything else that needs a stage's stack name or region: a user sets their
 * own project, tooling region and a stage's region in cdk.json, the CDK CLI synthesizes the app from a copy of the
 * repository, and each operator tool, run as an operator runs it in that copy, must ask CloudFormation for the
 * stack the synth named, in the region it put it. The tools' requests go to a loopback CloudFormation stand-in that
 * records the stack name and the region the request was signed for, so nothing is taken from the tools' own word.
 */

const run = promisify(execFile);
const NODE = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
const CDK = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk');

const CUSTOM = {
  project: 'acme-files',
  toolingRegion: 'eu-central-1',
  stagingRegion: 'us-west-2',
  prodAccount: '555555555555',
};

/** What a DescribeStacks request asked for. */
interface CapturedRequest {
  readonly action: string | null;
  readonly stackName: string | null;
  /** The region of the SigV4 credential scope: where the SDK would really have sent it. */
  readonly signedRegion: string | undefined;
}

let copy: string;
let server: Server;
let endpoint: string;
const requests: CapturedRequest[] = [];

/** A copy of the sources with the user's cdk.json, sharing node_modules. */
function copyRepository(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'entry-points-'));
  const skipped = new Set(['node_modules', '.git', 'cdk.out', 'cdk.json', 'cdk.context.json', 'sbom']);
  // `npm run sbom` synthesizes in a temporary .sbom-synth-* directory there, which may vanish mid-copy.
  const copied = readdirSync(PROJECT_ROOT).filter((e) => !skipped.has(e) && !e.startsWith('.sbom-synth-'));
  for (const entry of copied) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
  cdkJson.context = { ...cdkJson.context, ...CUSTOM };
  writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify(cdkJson, null, 2));
  return dir;
}

beforeAll(async () => {
  copy = copyRepository();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/cloudformation\//.exec(
        req.headers.authorization ?? '',
      );
      requests.push({
        action: params.get('Action'),
        stackName: params.get('StackName'),
        signedRegion: scope?.[1],
      });
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${params.get('StackName')} does not exist</Message></Error><RequestId>standin</RequestId></ErrorResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (copy) rmSync(copy, { recursive: true, force: true });
});

interface SynthesizedStack {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
}

/** Stacks of the assembly `cdk synth` wrote, nested stage assemblies included, by their CloudFormation name. */
function synthesizedStacks(outdir: string): Map<string, SynthesizedStack> {
  const stacks = new Map<string, SynthesizedStack>();
  const visit = (dir: string) => {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<
        string,
        { type: string; environment?: string; properties?: { stackName?: string; directoryName?: string } }
      >;
    };
    for (const artifact of Object.values(manifest.artifacts)) {
      if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.stackName) {
        const [, account = '', region = ''] = /^aws:\/\/(\d+)\/(.+)$/.exec(artifact.environment ?? '') ?? [];
        stacks.set(artifact.properties.stackName, {
          stackName: artifact.properties.stackName,
          account,
          region,
        });
      }
      if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
        visit(path.join(dir, artifact.properties.directoryName));
      }
    }
  };
  visit(outdir);
  return stacks;
}

/** Each tool with the least arguments that make it look its stage up. */
const TOOLS: Record<string, readonly string[]> = {
  status: [],
  redrive: ['--dry-run'],
  backfill: ['--dry-run'],
  'restore-table': ['--to', '2026-01-01T00:00:00Z', '--dry-run'],
};

describe('one configuration for every entry point', () => {
  it('cdk synth and every operator tool agree on stack names and regions under a customised cdk.json', async () => {
    const outdir = path.join(copy, 'cdk.out');
    await run(CDK, ['synth', '-q', '-o', outdir], {
      cwd: copy,
      env: { PATH: `${path.dirname(NODE)}:${process.env.PATH}`, HOME: copy, CI: 'true' },
    });
    const stacks = synthesizedStacks(outdir);
    expect(stacks.get('acme-files-pipeline')).toMatchObject({ region: 'eu-central-1' });

    for (const stage of ['dev', 'staging', 'prod']) {
      const synthesized = stacks.get(`acme-files-${stage}-processor`);
      expect(synthesized, `synth made no stack for ${stage}: ${[...stacks.keys()].join(', ')}`).toBeDefined();
      for (const [tool, extra] of Object.entries(TOOLS)) {
        requests.length = 0;
        const result = await run(
          NODE,
          [
            path.join(copy, 'tools', `${tool}.ts`),
            '--stage',
            stage,
            '--endpoint',
            `cloudformation=${endpoint}`,
            ...extra,
          ],
          // An operator's shell: a default region elsewhere must not redirect the tool.
          { cwd: copy, env: { PATH: process.env.PATH, AWS_REGION: 'ap-southeast-2' } },
        ).catch((error: { stderr: string; code: number }) => error);
        expect(requests, `${tool} --stage ${stage}: ${JSON.stringify(result)}`).toEqual([
          { action: 'DescribeStacks', stackName: synthesized?.stackName, signedRegion: synthesized?.region },
        ]);
        // And the operator is told the same thing, in one line.
        expect((result as { stderr: string }).stderr.trim()).toBe(
          `error: stack ${synthesized?.stackName} not found in ${synthesized?.region}: is stage "${stage}" deployed there, and are the credentials for its account? (--region overrides the region)`,
        );
      }
    }
    expect(stacks.get('acme-files-staging-processor')?.region).toBe('us-west-2');
    expect(stacks.get('acme-files-prod-processor')?.account).toBe('555555555555');
  }, 120_000);
});

describe('no entry point resolves the configuration on its own', () => {
  /** Production and development entry points; only lib/config/resolve.ts may turn input into an AppConfig. */
  const ENTRY_DIRS = ['bin', 'lib', 'tools', 'local', 'bench', 'integ', 'reliability', 'services'];

  function sources(dir: string): string[] {
    return readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => path.join(dir, f));
  }

  it('calls loadAppConfig only from the resolver, and reads cdk.json nowhere else', () => {
    const offenders = ENTRY_DIRS.flatMap(sources).filter((file) => {
      if (
        file === path.join('lib', 'config', 'resolve.ts') ||
        file === path.join('lib', 'config', 'app-config.ts')
      )
        return false;
      const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
      return /\bloadAppConfig\(|cdk\.json['"]/.test(text);
    });
    expect(offenders).toEqual([]);
  });
});
