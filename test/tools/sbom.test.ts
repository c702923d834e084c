import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProcessorBundle } from '../../devkit/bundle.ts';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { ASSET_PUBLISHER, bundleAssetPublisher } from '../../lib/pipeline/asset-publishing.ts';
import { APP_POLICY, FUNCTION_POLICY, PUBLISHER_POLICY } from '../../tools/lib/license-policy.ts';
import { packageRootOf, readInstalledPackage, readLockfile } from '../../tools/lib/npm-packages.ts';
import { validateSbom } from '../../tools/lib/sbom-builder.ts';
import { SBOM_FILES } from '../../tools/lib/sbom-files.ts';
import { checkSbom, licenses } from '../../tools/licenses.ts';
import { SYNTH_DIR_PREFIX, sbom } from '../../tools/sbom.ts';
import { captureIo } from './helpers.ts';

/**
 * One run of `npm run sbom` for the whole file (one stage synth with esbuild, one run of the CDK app, one
 * publisher bundle), then its output is checked against facts established another way: the function's packages
 * against an esbuild metafile of the same entry and options (whose bundle is byte-identical to the asset, by the
 * SBOM's own hash), the app's against package-lock.json, the publisher's against the `// <input>` comments
 * esbuild writes into the publisher bundle itself (rebuilt without a metafile: same bytes, by the SBOM's hash).
 */

// biome-ignore lint/suspicious/noExplicitAny: CycloneDX JSON, walked dynamically; the assertions check its shape.
type Json = any;
interface Component {
  readonly group?: string;
  readonly name: string;
  readonly version: string;
  readonly purl: string;
  readonly licenses?: Json[];
  readonly properties?: Array<{ name: string; value: string }>;
}

const out = mkdtempSync(path.join(os.tmpdir(), 'sbom-test-'));
const texts: Record<keyof typeof SBOM_FILES, string> = { function: '', app: '', publisher: '' };
const boms: Record<keyof typeof SBOM_FILES, Json> = { function: {}, app: {}, publisher: {} };
const SBOM_KEYS = Object.keys(SBOM_FILES) as (keyof typeof SBOM_FILES)[];
let summary: Json;
/** name@version of every package esbuild emitted code from, by its metafile. */
let metafilePackages: Set<string>;
let rebuiltSha256: string;
/** The publisher bundle as the synth builds it (no metafile), and its SHA-256. */
let publisherBundle: string;
let publisherSha256: string;

beforeAll(async () => {
  const io = captureIo();
  const code = await sbom(['--out', out, '--json'], io, { env: {} });
  expect(code, io.text()).toBe(0);
  summary = JSON.parse(io.lines.join('\n'));
  for (const key of SBOM_KEYS) {
    texts[key] = readFileSync(path.join(out, SBOM_FILES[key]), 'utf8');
    boms[key] = JSON.parse(texts[key]);
  }
  const rebuilt = await buildProcessorBundle(path.join(out, 'rebuilt'));
  rebuiltSha256 = createHash('sha256').update(readFileSync(rebuilt.file)).digest('hex');
  metafilePackages = new Set();
  for (const output of Object.values(rebuilt.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      // Attributed here by a regex and the package's own package.json, not by the tool's code.
      const dir = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
      if (!dir || bytesInOutput === 0) continue;
      const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, dir, 'package.json'), 'utf8'));
      metafilePackages.add(`${pkg.name}@${pkg.version}`);
    }
  }
  publisherBundle = readFileSync(bundleAssetPublisher(path.join(out, 'publisher-rebuilt')), 'utf8');
  publisherSha256 = createHash('sha256').update(publisherBundle).digest('hex');
}, 180_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

const idOf = (c: Component) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`;
const components = (bom: Json): Component[] => bom.components;
const paths = (c: Component) =>
  (c.properties ?? []).filter((p) => p.name === 'cdx:npm:package:path').map((p) => p.value);
const property = (component: Json, name: string) =>
  (component.properties as Array<{ name: string; value: string }>).find((p) => p.name === name)?.value;

/** Packages one list has and the other lacks. */
function difference(listed: Iterable<string>, expected: Iterable<string>) {
  const a = new Set(listed);
  const b = new Set(expected);
  return { missing: [...b].filter((x) => !a.has(x)).sort(), extra: [...a].filter((x) => !b.has(x)).sort() };
}

const nameOf = (c: Component) => (c.group ? `${c.group}/${c.name}` : c.name);
const hashesOf = (bom: Json): Record<string, string> =>
  Object.fromEntries(bom.metadata.component.hashes.map((h: Json) => [h.alg, h.content]));

/**
 * name@version of every package in an unminified esbuild bundle, read from the bundle's text: esbuild heads the
 * code of each input file with a `// <path relative to its working directory>` comment.
 */
function bundleCommentPackages(bundle: string): { inputs: string[]; packages: Set<string> } {
  const inputs = [...bundle.matchAll(/^\/\/ (\S+\.[cm]?[jt]s)$/gm)].map((m) => m[1] as string);
  const packages = new Set<string>();
  for (const input of inputs) {
    const dir = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (!dir) continue;
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, dir, 'package.json'), 'utf8'));
    packages.add(`${pkg.name}@${pkg.version}`);
  }
  return { inputs, packages };
}

/**
 * Each component against the package installed at its first path: name, version, purl and license from its
 * package.json, and the tarball's SHA-512 unless package-lock.json says it came inside its parent's tarball
 * (bundleDependencies, which have no tarball of their own).
 */
function expectInstalledFacts(bom: Json): void {
  const lockfile = readLockfile();
  for (const c of components(bom)) {
    const [first] = paths(c);
    if (!first) throw new Error(`${idOf(c)} has no installed path`);
    const installed = readInstalledPackage(path.join(PROJECT_ROOT, first), lockfile);
    expect(idOf(c)).toBe(`${installed.name}@${installed.version}`);
    expect(c.purl).toBe(`pkg:npm/${installed.name.replace('@', '%40')}@${installed.version}`);
    const declared = c.licenses?.map((l) => l.expression ?? l.license?.id ?? l.license?.name);
    // The `license` field, then any entries of the legacy `licenses` list (yazl's buffer-crc32 has both).
    expect(declared, idOf(c)).toEqual([
      ...(installed.license ? [installed.license] : []),
      ...(installed.licenses ?? []).map((l) => l.type),
    ]);
    const algorithms = ((c as Json).hashes ?? []).map((h: Json) => h.alg);
    if (lockfile.packages[first]?.inBundle) {
      expect(property(c, 'cdx:npm:package:bundled'), idOf(c)).toBe('true');
    } else {
      expect(algorithms, idOf(c)).toContain('SHA-512');
    }
  }
}

/** Names no function SBOM may contain: build and test tools, and everything only the CDK app uses. */
function buildOnlyNames(): Set<string> {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
  return new Set([...Object.keys(pkg.devDependencies), 'aws-cdk-lib', 'constructs', 'cdk-nag', 'yaml']);
}

describe('function.cdx.json', () => {
  it('describes the asset the stage deploys: its hashes are those of the bundle esbuild builds from the same entry and options', () => {
    const subject = boms.function.metadata.component;
    const hashes = hashesOf(boms.function);
    expect(hashes['SHA-256']).toBe(rebuiltSha256);
    expect(hashes['SHA-512']).toMatch(/^[0-9a-f]{128}$/);
    expect(property(subject, 's3-object-processor:cdk-asset-hash')).toMatch(/^[0-9a-f]{64}$/);
    expect(property(subject, 's3-object-processor:lambda-runtime')).toBe('nodejs24.x');
    expect(property(subject, 's3-object-processor:bundler')).toMatch(/^esbuild@\d/);
    expect(summary.function.components).toBe(components(boms.function).length);
  });

  it('lists every package esbuild put into the bundle, and nothing else', () => {
    expect(metafilePackages.size).toBeGreaterThan(10);
    expect(difference(components(boms.function).map(idOf), metafilePackages)).toEqual({
      missing: [],
      extra: [],
    });
  });

  it('the completeness check fails on an SBOM that lost a package or gained one', () => {
    const listed = components(boms.function).map(idOf);
    const [dropped, ...rest] = listed;
    expect(difference(rest, metafilePackages).missing).toEqual([dropped]);
    expect(difference([...listed, 'esbuild@0.28.2'], metafilePackages).extra).toEqual(['esbuild@0.28.2']);
  });

  it('holds no build-only tool, no Node built-in and not the project itself', () => {
    const names = components(boms.function).map((c) => (c.group ? `${c.group}/${c.name}` : c.name));
    const buildOnly = buildOnlyNames();
    expect(names.filter((n) => buildOnly.has(n))).toEqual([]);
    expect(names.filter((n) => builtinModules.includes(n) || n.startsWith('node:'))).toEqual([]);
    expect(names).not.toContain('s3-object-processor');
    // The check itself: a build tool in the list would be caught.
    expect([...names, 'esbuild'].filter((n) => buildOnly.has(n))).toEqual(['esbuild']);
  });

  it('gives each component its version, purl and license from its own package.json, and its tarball hash', () => {
    expectInstalledFacts(boms.function);
  });

  it('keeps one component per package version and names every installed copy of it', () => {
    const ids = components(boms.function).map(idOf);
    expect(new Set(ids).size).toBe(ids.length);
    const copies = components(boms.function).filter((c) => paths(c).length > 1);
    for (const c of copies)
      for (const p of paths(c))
        expect(p.endsWith(`node_modules/${idOf(c).replace(/@[^@]+$/, '')}`)).toBe(true);
  });
});

describe('publisher.cdx.json', () => {
  it('describes the publisher the synth bundles: its hashes are those of the bundle built without a metafile', () => {
    const subject = boms.publisher.metadata.component;
    const hashes = hashesOf(boms.publisher);
    // The SBOM's bundle was built with --metafile, this one without: esbuild's metafile leaves the bytes alone.
    expect(hashes['SHA-256']).toBe(publisherSha256);
    expect(hashes['SHA-512']).toMatch(/^[0-9a-f]{128}$/);
    expect(property(subject, 's3-object-processor:cloud-assembly-path')).toBe(ASSET_PUBLISHER);
    expect(property(subject, 's3-object-processor:bundler')).toMatch(/^esbuild@\d/);
    expect(summary.publisher.components).toBe(components(boms.publisher).length);
    expect(summary.publisher.subject).toContain(publisherSha256.slice(0, 12));
  });

  it('lists every package in the bundle, as the bundle itself names its inputs, and nothing else', () => {
    const { inputs, packages } = bundleCommentPackages(publisherBundle);
    // The reading works: it finds the project's own entry and the library the publisher is written over.
    expect(inputs).toContain('services/asset-publisher/src/cli.ts');
    expect(packages.size).toBeGreaterThan(30);
    expect([...packages].some((p) => p.startsWith('@aws-cdk/cdk-assets-lib@'))).toBe(true);
    expect(difference(components(boms.publisher).map(idOf), packages)).toEqual({ missing: [], extra: [] });
  });

  it('gives each component its version, purl and license from its own package.json, and its tarball hash', () => {
    expectInstalledFacts(boms.publisher);
    // Two of its packages come inside @aws-cdk/cloud-assembly-schema's tarball: the check above met that case.
    expect(
      components(boms.publisher).filter((c) => property(c, 'cdx:npm:package:bundled')).length,
    ).toBeGreaterThan(0);
  });

  it('holds no build-only tool, no Node built-in and not the project itself', () => {
    const names = components(boms.publisher).map(nameOf);
    const buildOnly = buildOnlyNames();
    expect(names.filter((n) => buildOnly.has(n))).toEqual([]);
    expect(names.filter((n) => builtinModules.includes(n) || n.startsWith('node:'))).toEqual([]);
    expect(names).not.toContain('s3-object-processor');
  });
});

describe('app.cdx.json', () => {
  it('lists the libraries the CDK app is built from, none of them development-only', () => {
    const names = components(boms.app).map((c) => (c.group ? `${c.group}/${c.name}` : c.name));
    expect(names).toEqual(expect.arrayContaining(['aws-cdk-lib', 'constructs', 'cdk-nag']));
    const lock = readLockfile().packages;
    // Independently of the SBOM's own marking: package-lock.json says none of these is dev-only.
    const devOnly = components(boms.app).filter((c) => paths(c).every((p) => lock[p]?.dev === true));
    expect(devOnly.map(idOf)).toEqual([]);
    // The app does not load the operator tools' SDK clients, nor the bundler as a library.
    expect(names).not.toContain('@aws-sdk/client-cloudformation');
    expect(names).not.toContain('esbuild');
  });
});

describe('all three SBOMs', () => {
  it('are valid CycloneDX (strict schema, the library validator), validated without touching the network', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const fetch = vi.spyOn(globalThis, 'fetch');
    try {
      for (const key of SBOM_KEYS) {
        expect(boms[key].specVersion).toBe('1.6');
        expect(await validateSbom(texts[key]), key).toBeNull();
      }
      expect(connect).not.toHaveBeenCalled();
      expect(fetch).not.toHaveBeenCalled();
    } finally {
      connect.mockRestore();
      fetch.mockRestore();
    }
  });

  it('the schema check fails on a broken document', async () => {
    const broken = structuredClone(boms.function);
    delete broken.components[0].type;
    broken.components[1].hashes = [{ alg: 'SHA-256', content: 'not hex' }];
    const errors = await validateSbom(JSON.stringify(broken));
    expect(errors).not.toBeNull();
    expect(JSON.stringify(errors)).toMatch(/type|pattern/);
  });

  it('pass the license gate: the real bundle, app and publisher are within the reviewed policy', async () => {
    expect(checkSbom(path.join(out, SBOM_FILES.function), FUNCTION_POLICY).violations).toEqual([]);
    expect(checkSbom(path.join(out, SBOM_FILES.app), APP_POLICY).violations).toEqual([]);
    expect(checkSbom(path.join(out, SBOM_FILES.publisher), PUBLISHER_POLICY).violations).toEqual([]);
    const io = captureIo();
    expect(await licenses(['--sbom', out], io)).toBe(0);
    expect(io.text()).toMatch(/^function bundle: \d+ components; licenses: .*Apache-2.0/m);
    expect(io.text()).toMatch(
      new RegExp(
        `^asset publisher: ${components(boms.publisher).length} components; licenses: .*Apache-2.0`,
        'm',
      ),
    );
  });

  it('leave no temporary cloud assembly in the project', () => {
    expect(readdirSync(PROJECT_ROOT).filter((f) => f.startsWith(SYNTH_DIR_PREFIX))).toEqual([]);
  });
});

describe('packageRootOf', () => {
  it('finds the innermost package directory, scoped or not', () => {
    expect(packageRootOf('/p/node_modules/zod/v4/mini/index.js')).toBe('/p/node_modules/zod');
    expect(packageRootOf('/p/node_modules/@a/b/node_modules/@c/d/x.js')).toBe(
      '/p/node_modules/@a/b/node_modules/@c/d',
    );
    expect(packageRootOf('/p/services/processor/src/handler.ts')).toBeUndefined();
  });
});
