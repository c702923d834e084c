import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  developmentOnly,
  formatViolation,
  type LicensedComponent,
  licensedComponents,
  licenseViolations,
  satisfies,
} from '../../tools/lib/license-gate.ts';
import {
  APP_LICENSES,
  APP_POLICY,
  FUNCTION_LICENSES,
  FUNCTION_POLICY,
  type LicensePolicy,
  PUBLISHER_POLICY,
} from '../../tools/lib/license-policy.ts';
import { SBOM_FILES } from '../../tools/lib/sbom-files.ts';
import { checkSbom, licenses } from '../../tools/licenses.ts';
import { captureIo } from './helpers.ts';

/**
 * The license gate on fixtures that violate the policy (a fake component list and fake SBOM files). That the
 * real bundle, the real app and the real publisher pass is shown in test/tools/sbom.test.ts, over the SBOMs
 * `npm run sbom` writes.
 */

const parseSpdx = createRequire(import.meta.url)('spdx-expression-parse') as (e: string) => unknown;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'licenses-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const component = (pkg: string, ...licenses: string[]): LicensedComponent => ({
  package: pkg,
  licenses,
  development: false,
});

/** A minimal CycloneDX document with the given components, as `npm run sbom` would write them. */
function sbomJson(
  components: Array<{ name: string; version: string; group?: string; license?: object }>,
): string {
  return JSON.stringify({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    components: components.map((c) => ({
      type: 'library',
      name: c.name,
      version: c.version,
      ...(c.group ? { group: c.group } : {}),
      ...(c.license ? { licenses: [c.license] } : {}),
    })),
  });
}

const PERMISSIVE_APP = sbomJson([
  { name: 'aws-cdk-lib', version: '2.0.0', license: { license: { id: 'Apache-2.0' } } },
]);
const PERMISSIVE_PUBLISHER = sbomJson([
  { group: '@aws-cdk', name: 'cdk-assets-lib', version: '1.0.0', license: { license: { id: 'Apache-2.0' } } },
]);

function sbomDir(name: string, fn: string, app: string, publisher: string = PERMISSIVE_PUBLISHER): string {
  const target = mkdtempSync(path.join(scratch, `${name}-`));
  writeFileSync(path.join(target, SBOM_FILES.function), fn);
  writeFileSync(path.join(target, SBOM_FILES.app), app);
  writeFileSync(path.join(target, SBOM_FILES.publisher), publisher);
  return target;
}

describe('the policy', () => {
  it.each([
    ['function', FUNCTION_LICENSES],
    ['app', APP_LICENSES],
  ])('%s: every entry is one SPDX license identifier, with the reason it is acceptable', (_, list) => {
    for (const [id, reason] of Object.entries(list)) {
      expect(parseSpdx(id), id).toEqual({ license: id });
      expect(reason.length, id).toBeGreaterThan(20);
    }
  });

  it('judges the asset publisher by the app list: build tooling the pipeline runs, never deployed', () => {
    expect(PUBLISHER_POLICY.allowed).toBe(APP_LICENSES);
    expect(PUBLISHER_POLICY.scope).toBe('asset publisher');
  });

  it('the app list is looser than the function list, and neither allows strong copyleft', () => {
    for (const id of Object.keys(FUNCTION_LICENSES)) expect(APP_LICENSES[id], id).toBeDefined();
    expect(Object.keys(APP_LICENSES).length).toBeGreaterThan(Object.keys(FUNCTION_LICENSES).length);
    for (const id of [...Object.keys(APP_LICENSES)]) expect(id).not.toMatch(/GPL|SSPL|EUPL|OSL|CPAL/);
  });
});

describe('satisfies', () => {
  it('walks AND and OR, and takes identifiers, "+" and WITH exceptions literally', () => {
    expect(satisfies('MIT', FUNCTION_LICENSES)).toBe(true);
    expect(satisfies('(MIT OR GPL-3.0-or-later)', FUNCTION_LICENSES)).toBe(true);
    expect(satisfies('MIT AND GPL-3.0-or-later', FUNCTION_LICENSES)).toBe(false);
    expect(satisfies('MIT AND (ISC OR GPL-2.0-only)', FUNCTION_LICENSES)).toBe(true);
    expect(satisfies('Apache-2.0 WITH LLVM-exception', FUNCTION_LICENSES)).toBe(false);
    expect(satisfies('BSD-3-Clause+', FUNCTION_LICENSES)).toBe(false);
    expect(satisfies('LicenseRef-Proprietary', APP_LICENSES)).toBe(false);
    expect(() => satisfies('Apache 2', FUNCTION_LICENSES)).toThrow();
  });
});

describe('licenseViolations', () => {
  const fixture = [
    component('zod@4.6.7', 'MIT'),
    component('left-pad@1.3.0', 'GPL-3.0-only'),
    component('dual@1.0.0', 'MIT OR GPL-3.0-or-later'),
    component('both@1.0.0', 'MIT AND GPL-3.0-or-later'),
    component('nothing@1.0.0'),
    component('named@1.0.0', 'name:SEE LICENSE IN LICENSE.md'),
    component('typo@1.0.0', 'Apache 2'),
    component('minimatch@10.2.6', 'BlueOak-1.0.0'),
  ];

  it('fails naming each package and its license when something outside the list is in the bundle', () => {
    expect(licenseViolations(fixture, FUNCTION_POLICY).map(formatViolation)).toEqual([
      'left-pad@1.3.0: license "GPL-3.0-only" is not allowed in the function bundle',
      'both@1.0.0: license "MIT AND GPL-3.0-or-later" is not allowed in the function bundle',
      'nothing@1.0.0 declares no license',
      'named@1.0.0: license "SEE LICENSE IN LICENSE.md" is not an SPDX license identifier or expression',
      'typo@1.0.0: license "Apache 2" is not a valid SPDX expression',
      'minimatch@10.2.6: license "BlueOak-1.0.0" is not allowed in the function bundle',
    ]);
  });

  it('applies the looser app list to the app: what the function may not contain, synth may load', () => {
    const packages = licenseViolations(fixture, APP_POLICY).map((v) => v.package);
    expect(packages).not.toContain('minimatch@10.2.6');
    expect(packages).toContain('left-pad@1.3.0');
  });

  it('lets an exception through for exactly the reviewed package version and license', () => {
    const policy: LicensePolicy = {
      ...FUNCTION_POLICY,
      exceptions: [{ package: 'left-pad@1.3.0', license: 'GPL-3.0-only', reason: 'fixture' }],
    };
    const packages = (list: LicensedComponent[]) => licenseViolations(list, policy).map((v) => v.package);
    expect(packages([component('left-pad@1.3.0', 'GPL-3.0-only')])).toEqual([]);
    expect(packages([component('left-pad@1.3.1', 'GPL-3.0-only')])).toEqual(['left-pad@1.3.1']);
    expect(packages([component('left-pad@1.3.0', 'AGPL-3.0-only')])).toEqual(['left-pad@1.3.0']);
  });

  it('fails a development-only package: npm audit --omit=dev would not vet it', () => {
    const dev = { ...component('vitest@5.1.1', 'MIT'), development: true };
    expect(
      developmentOnly([dev, component('zod@4.6.7', 'MIT')], 'function bundle').map(formatViolation),
    ).toEqual([
      'vitest@5.1.1 is in the function bundle but only a devDependency: `npm audit --omit=dev` does not vet it; move it to "dependencies"',
    ]);
  });
});

describe('npm run licenses', () => {
  it('reads licenses the way the SBOM spells them: SPDX id, expression, or a name', () => {
    const json = sbomJson([
      { group: '@aws-sdk', name: 'client-s3', version: '3.0.0', license: { license: { id: 'Apache-2.0' } } },
      { name: 'dual', version: '1.0.0', license: { expression: 'MIT OR Apache-2.0' } },
      { name: 'named', version: '1.0.0', license: { license: { name: 'Custom' } } },
    ]);
    expect(licensedComponents(json).map((c) => [c.package, c.licenses])).toEqual([
      ['@aws-sdk/client-s3@3.0.0', ['Apache-2.0']],
      ['dual@1.0.0', ['MIT OR Apache-2.0']],
      ['named@1.0.0', ['name:Custom']],
    ]);
  });

  it('fails (exit 1) on an SBOM whose function bundle contains a GPL package, naming it and its license', async () => {
    const fn = sbomJson([
      { name: 'zod', version: '4.6.7', license: { license: { id: 'MIT' } } },
      { name: 'left-pad', version: '1.3.0', license: { license: { id: 'GPL-3.0-only' } } },
    ]);
    const io = captureIo();
    expect(await licenses(['--sbom', sbomDir('gpl', fn, PERMISSIVE_APP)], io)).toBe(1);
    expect(io.lines).toContain(
      '  FAIL left-pad@1.3.0: license "GPL-3.0-only" is not allowed in the function bundle',
    );
    expect(io.text()).toMatch(/function bundle: 2 components; licenses: MIT \(1\), GPL-3.0-only \(1\)/);
  });

  it('fails (exit 1) on an asset publisher SBOM with a GPL package, naming it and its license', async () => {
    const fn = sbomJson([{ name: 'zod', version: '4.6.7', license: { license: { id: 'MIT' } } }]);
    const publisher = sbomJson([
      // Allowed in the publisher (the app list), though the function list would refuse it.
      { name: 'minimatch', version: '10.2.6', license: { license: { id: 'BlueOak-1.0.0' } } },
      { name: 'left-pad', version: '1.3.0', license: { license: { id: 'GPL-3.0-only' } } },
      { name: 'nothing', version: '1.0.0' },
    ]);
    const io = captureIo();
    expect(await licenses(['--sbom', sbomDir('publisher', fn, PERMISSIVE_APP, publisher)], io)).toBe(1);
    expect(io.lines.filter((l) => l.includes('FAIL'))).toEqual([
      '  FAIL left-pad@1.3.0: license "GPL-3.0-only" is not allowed in the asset publisher',
      '  FAIL nothing@1.0.0 declares no license',
    ]);
    expect(io.text()).toMatch(/^asset publisher: 3 components; licenses: BlueOak-1.0.0 \(1\), GPL-3.0-only/m);
  });

  it('counts a license a package declares twice (license and the legacy licenses list) once', () => {
    const file = path.join(mkdtempSync(path.join(scratch, 'twice-')), SBOM_FILES.publisher);
    const json = JSON.parse(
      sbomJson([{ name: 'buffer-crc32', version: '1.0.0', license: { license: { id: 'MIT' } } }]),
    );
    json.components[0].licenses.push({ license: { id: 'MIT', url: 'https://example.com/LICENSE' } });
    writeFileSync(file, JSON.stringify(json));
    expect(checkSbom(file, PUBLISHER_POLICY)).toMatchObject({ licenses: { MIT: 1 }, violations: [] });
  });

  it('passes (exit 0) when all three SBOMs are within their lists, and reports as JSON', async () => {
    const fn = sbomJson([{ name: 'zod', version: '4.6.7', license: { license: { id: 'MIT' } } }]);
    const io = captureIo();
    expect(await licenses(['--sbom', sbomDir('ok', fn, PERMISSIVE_APP), '--json'], io)).toBe(0);
    expect(JSON.parse(io.lines.join('\n'))).toMatchObject({
      ok: true,
      function: { violations: [] },
      app: { violations: [] },
      publisher: { components: 1, violations: [] },
    });
  });

  it('says what to run when the SBOMs are missing, and rejects unknown options', async () => {
    expect(() => checkSbom(path.join(scratch, 'none', SBOM_FILES.function), FUNCTION_POLICY)).toThrow(
      /does not exist: run `npm run sbom` first/,
    );
    // An SBOM directory from before the publisher had one fails too, rather than passing it unchecked.
    const old = sbomDir('old', PERMISSIVE_APP, PERMISSIVE_APP);
    rmSync(path.join(old, SBOM_FILES.publisher));
    await expect(licenses(['--sbom', old], captureIo())).rejects.toThrow(
      /publisher\.cdx\.json does not exist/,
    );
    await expect(licenses(['--sbom-dir', 'x'], captureIo())).rejects.toMatchObject({ exitCode: 2 });
  });
});
