import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';

/**
 * The secrets gate (`npm run secrets`, secretlint with the recommended preset) run exactly as package.json runs
 * it: over the repository, which must pass, and over a scratch directory holding the repository's config plus
 * planted credentials, which must fail. The credentials are made up when the test runs, never written into the
 * repository, so the repository scan cannot trip over this test.
 */

const SECRETLINT = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'secretlint');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'secrets-scan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The arguments of the `secrets` script, as a shell would split them. */
function scriptArgs(): string[] {
  const script = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts
    .secrets as string;
  const [command, ...args] = [...script.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
  expect(command).toBe('secretlint');
  return args;
}

function scan(cwd: string) {
  const result = spawnSync(SECRETLINT, [...scriptArgs(), '--format', 'json', '--no-color'], {
    cwd,
    encoding: 'utf8',
    // The JSON formatter reports every file scanned, findings or not: about 1 MB for this repository.
    maxBuffer: 64 * 1024 * 1024,
  });
  const findings = result.stdout.trim()
    ? (JSON.parse(result.stdout) as Array<{ filePath: string; messages: Array<{ ruleId: string }> }>)
    : [];
  return {
    status: result.status,
    scanned: findings.map((f) => path.relative(cwd, f.filePath)),
    findings: findings.flatMap((f) =>
      f.messages.map((m) => `${path.relative(cwd, f.filePath)} ${m.ruleId.replace(/^.*> /, '')}`),
    ),
    stderr: result.stderr,
  };
}

/** An AWS secret access key of the real shape (40 base64 characters), different every run. */
const fakeAwsSecret = () => randomBytes(30).toString('base64');

describe('npm run secrets', () => {
  it('passes on the repository itself', () => {
    const result = scan(PROJECT_ROOT);
    expect(result.findings).toEqual([]);
    // It did look: the sources, the docs and the dot-directories, but not the ignored generated files.
    expect(result.scanned).toEqual(
      expect.arrayContaining(['lib/pipeline/pipeline-stack.ts', 'README.md', '.ci/run', 'cdk.json']),
    );
    expect(result.scanned).not.toContain('package-lock.json');
    expect(result.scanned.some((f) => f.startsWith('node_modules/'))).toBe(false);
    expect(result.status, result.stderr).toBe(0);
  });

  it('fails on a planted AWS secret key and a private key, naming each file and rule', () => {
    for (const file of ['.secretlintrc.json', '.secretlintignore']) {
      copyFileSync(path.join(PROJECT_ROOT, file), path.join(scratch, file));
    }
    mkdirSync(path.join(scratch, 'lib'), { recursive: true });
    writeFileSync(
      path.join(scratch, 'lib', 'settings.ts'),
      `export const credentials = {\n  aws_secret_access_key: '${fakeAwsSecret()}',\n};\n`,
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(
      path.join(scratch, 'deploy-key.pem'),
      privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    );
    // A planted credential in an ignored generated file is not the scan's business (package-lock.json).
    writeFileSync(
      path.join(scratch, 'package-lock.json'),
      `{"x": "aws_secret_access_key=${fakeAwsSecret()}"}\n`,
    );

    const result = scan(scratch);
    expect(result.status).toBe(1);
    expect(result.findings.sort()).toEqual([
      'deploy-key.pem @secretlint/secretlint-rule-privatekey',
      'lib/settings.ts @secretlint/secretlint-rule-aws',
    ]);
  });
});
