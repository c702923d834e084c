import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The AWS SDK clients share their runtime: with one version of @aws-sdk/core and of the Smithy client runtime in
 * the lockfile, every client (and the processor's bundle) carries one copy of it, and middleware, credential
 * providers and error classes are the same objects across clients. The clients' own versions may differ; their
 * runtime must not. (@smithy/smithy-client was folded into @smithy/core, which now carries the client runtime;
 * both names are checked so the old package cannot come back as a second copy.)
 */
const SHARED_RUNTIME = ['@aws-sdk/core', '@smithy/core', '@smithy/smithy-client'] as const;

interface Lockfile {
  readonly packages: Record<string, { readonly version?: string }>;
}

/** Every version of `name` installed anywhere in the tree, with where. */
function installedVersions(lock: Lockfile, name: string): Record<string, string[]> {
  const versions: Record<string, string[]> = {};
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (!location.endsWith(`node_modules/${name}`) || entry.version === undefined) continue;
    versions[entry.version] = [...(versions[entry.version] ?? []), location];
  }
  return versions;
}

const lock = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '..', '..', 'package-lock.json'), 'utf8'),
) as Lockfile;

describe('the AWS SDK runtime in package-lock.json', () => {
  it.each(SHARED_RUNTIME)('has at most one version of %s', (name) => {
    expect(
      Object.keys(installedVersions(lock, name)).length,
      JSON.stringify(installedVersions(lock, name)),
    ).toBeLessThanOrEqual(1);
  });

  it('has @aws-sdk/core and @smithy/core, each hoisted once', () => {
    expect(Object.values(installedVersions(lock, '@aws-sdk/core'))).toEqual([['node_modules/@aws-sdk/core']]);
    expect(Object.values(installedVersions(lock, '@smithy/core'))).toEqual([['node_modules/@smithy/core']]);
  });

  it('would report a second copy nested under one client', () => {
    const mutated: Lockfile = {
      packages: {
        ...lock.packages,
        'node_modules/@aws-sdk/client-s3/node_modules/@aws-sdk/core': { version: '3.0.0' },
      },
    };
    expect(Object.keys(installedVersions(mutated, '@aws-sdk/core'))).toHaveLength(2);
  });
});
