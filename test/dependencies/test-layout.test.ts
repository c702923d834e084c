import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';

/**
 * docs/development.md, "Where tests live": a module's test mirrors its path under test/ with the top folder lib/
 * dropped; a service keeps its tests beside its source; integ/ and reliability/ suites stay in their folders;
 * concerns that span modules have a folder of their own. This test holds every test file to that, so a newcomer
 * finds a module's test where the convention says, and a test that fits none of it has to say why below.
 */

/** Folders under test/ named after a concern that spans modules: anything may live there. */
const CONCERN_FOLDERS = [
  'test/security/',
  'test/budgets/',
  'test/dependencies/',
  'test/config/',
  'test/scripts/',
];

/** Test files that are not the test of one module, each with the reason it lives where it does. */
const NOT_ONE_MODULE: Readonly<Record<string, string>> = {
  'test/app-stack/nag.test.ts':
    'cdk-nag over every synthesized stage (lib/compliance/nag.ts run on the app-stack)',
  'test/app-stack/variants.test.ts': 'the optional modes, across the constructs each one changes',
  'test/bin/template-validation.test.ts':
    "the CloudFormation schema validation cdk.json's flags switch on for bin/",
  'test/pipeline/rehearsal.test.ts':
    "every pipeline action's synthesized buildspec, run (docs/pipeline-rehearsal.md)",
  'test/local/documented-commands.test.ts':
    "the README's and docs' commands, run against the local environment",
  'test/toolchain.test.ts': 'the Node.js major every test runs on',
  'test/sdk-clients.test.ts':
    'every SDK client factory outside the handler (tools, devkit, integ) against a server that never answers',
  'services/processor/test/handler.integration.test.ts': 'the handler against s3rver and dynalite',
  'services/processor/test/processor.sdk.test.ts': 'the handler with mocked SDK clients',
};

/** What is wrong with where each of `testFiles` lives; `exists` answers for repository-relative paths. */
function layoutProblems(testFiles: readonly string[], exists: (relative: string) => boolean): string[] {
  const problems: string[] = [];
  for (const file of testFiles) {
    if (file in NOT_ONE_MODULE) continue;
    if (/^(integ|reliability)\/[^/]+\.test\.ts$/.test(file)) continue;
    if (CONCERN_FOLDERS.some((folder) => file.startsWith(folder))) continue;
    const service = /^services\/([^/]+)\/test\/([^/]+)\.test\.ts$/.exec(file);
    if (service) {
      const source = `services/${service[1]}/src/${service[2]}.ts`;
      if (!exists(source)) problems.push(`${file}: no ${source} (a service's tests mirror its src/)`);
      continue;
    }
    const mirrored = /^test\/(.+)\.test\.ts$/.exec(file)?.[1];
    if (mirrored === undefined) {
      problems.push(`${file}: a test outside test/, a service's test/, integ/ or reliability/`);
      continue;
    }
    const candidates = [`lib/${mirrored}.ts`, `${mirrored}.ts`, `${mirrored}.mjs`, `${mirrored}/`];
    if (!candidates.some(exists)) {
      problems.push(
        `${file}: mirrors none of ${candidates.join(', ')}; move it, or say why in NOT_ONE_MODULE`,
      );
    }
  }
  for (const listed of Object.keys(NOT_ONE_MODULE)) {
    if (!testFiles.includes(listed))
      problems.push(`${listed}: listed in NOT_ONE_MODULE but not in the repository`);
  }
  return problems;
}

const tracked = execFileSync('git', ['ls-files', '*.test.ts'], { cwd: PROJECT_ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((line) => line !== '' && !line.includes('node_modules/'));
const exists = (relative: string) => existsSync(path.join(PROJECT_ROOT, relative));

describe('where tests live (docs/development.md)', () => {
  it('every test file mirrors its module, or sits where its kind of test belongs', () => {
    expect(tracked.length).toBeGreaterThan(50);
    expect(layoutProblems(tracked, exists)).toEqual([]);
  });

  it('reports a test that mirrors no module, a service test without its source, and a stale exception', () => {
    const files = [...tracked.filter((f) => f !== 'test/toolchain.test.ts'), 'test/tools/backfil.test.ts'];
    files.push('services/processor/test/handlers.test.ts');
    expect(layoutProblems(files, exists)).toEqual([
      'test/tools/backfil.test.ts: mirrors none of lib/tools/backfil.ts, tools/backfil.ts, tools/backfil.mjs, tools/backfil/; move it, or say why in NOT_ONE_MODULE',
      "services/processor/test/handlers.test.ts: no services/processor/src/handlers.ts (a service's tests mirror its src/)",
      'test/toolchain.test.ts: listed in NOT_ONE_MODULE but not in the repository',
    ]);
  });
});
