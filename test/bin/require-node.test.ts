import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const GUARD = './bin/require-node.mjs';
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const CDK_JSON = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));

describe('the Node.js version guard', () => {
  it('is what engines says: the Node major Lambda runs (nodejs24.x) and the node devDependency pins', () => {
    expect(PACKAGE.engines.node).toBe('24.x');
    expect(PACKAGE.devDependencies.node).toMatch(/^24\./);
  });

  it('runs first in the CDK app and in every npm script that runs a TypeScript entry with node', () => {
    expect(CDK_JSON.app).toBe(`node --import ${GUARD} bin/app.ts`);
    const nodeScripts = Object.entries(PACKAGE.scripts as Record<string, string>).filter(([, command]) =>
      /^node .*\.ts\b/.test(command),
    );
    expect(nodeScripts.length).toBeGreaterThan(5);
    const unguarded = nodeScripts.filter(([, command]) => !command.startsWith(`node --import ${GUARD} `));
    expect(unguarded.map(([name]) => name)).toEqual([]);
    // vitest runs the test scripts; its config imports the guard.
    expect(readFileSync(path.join(ROOT, 'vitest.config.ts'), 'utf8')).toContain(`import '${GUARD}';`);
  });

  describe('on a Node.js the project does not run on', () => {
    // The guard reads the required major from the package.json beside it: a copy that asks for Node 99 makes this
    // Node the wrong one, and the TypeScript entry after it is one that only a Node with type stripping could load.
    const dir = mkdtempSync(path.join(tmpdir(), 'require-node-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync(path.join(ROOT, GUARD), path.join(dir, GUARD));
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'demo', type: 'module', engines: { node: '99.x' } }),
    );
    writeFileSync(path.join(dir, 'bin', 'app.ts'), "const ran: string = 'ran';\nconsole.log(ran);\n");
    const run = (env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', GUARD, 'bin/app.ts'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', ...env },
      });

    it('stops before the entry with one line naming the Node it needs and the one it got, exit 1', () => {
      const result = run();
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `demo runs on Node.js 99 (package.json "engines"), not ${process.version} (${process.execPath}): run it through npm or npx, which use the Node.js 99 that npm ci installs in node_modules/.bin, or put Node.js 99 first on PATH.`,
      );
    });

    it('lets the entry run when the Node is the one engines names', () => {
      writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify({
          name: 'demo',
          type: 'module',
          engines: { node: `${process.versions.node.split('.')[0]}.x` },
        }),
      );
      const result = run();
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('ran\n');
      expect(result.status).toBe(0);
    });
  });
});
