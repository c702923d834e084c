import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { REQUIRE_NODE_24 } from '../../lib/pipeline/build-environment.ts';
import { loadPostDeployBuildSpec } from '../../lib/pipeline/post-deploy-buildspec.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'buildspec-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadPostDeployBuildSpec', () => {
  it("reads the repository's buildspec.yml: installs, checks for Node 24, runs the integration tests", () => {
    const spec = JSON.parse(new Stack().resolve(loadPostDeployBuildSpec().toBuildSpec()));
    expect(spec.version).toBe('0.2');
    expect(spec.phases.install.commands).toEqual(['npm ci --no-audit --no-fund', REQUIRE_NODE_24]);
    expect(spec.phases.build.commands[0]).toMatch(/^npm run integ -- --stage "\$INTEG_STAGE"/);
  });

  it.each([
    ['not a mapping', '- just\n- a list\n', 'is not a YAML mapping'],
    [
      'an unquoted version',
      'version: 0.2\nphases:\n  build:\n    commands: [x]\n',
      'version must be the string "0.2"',
    ],
    [
      'its own artifacts',
      'version: "0.2"\nphases:\n  build:\n    commands: [x]\nartifacts:\n  files: ["**/*"]\n',
      'must not declare artifacts',
    ],
    [
      'no test commands',
      'version: "0.2"\nphases:\n  install:\n    commands: [npm ci]\n',
      'phases.build.commands',
    ],
  ])('rejects a buildspec with %s, naming the file', (_what, text, message) => {
    const p = file(`${message.length}.yml`, text);
    expect(() => loadPostDeployBuildSpec(p)).toThrow(`${p}: ${message}`);
  });
});
