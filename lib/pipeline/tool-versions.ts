import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The lockfile every tool version of the pipeline comes from, so that one commit decides them all. */
export const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));

interface LockFile {
  readonly packages?: Record<string, { readonly version?: string } | undefined>;
}

/**
 * The version package-lock.json installs for a top-level package. Throws when the package is not in the lockfile,
 * so a pipeline can never install a tool the repository does not pin.
 */
export function lockedVersion(pkg: string, lockFile: string = LOCK_FILE): string {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as LockFile;
  const version = lock.packages?.[`node_modules/${pkg}`]?.version;
  if (version === undefined) throw new Error(`${lockFile} pins no version of ${pkg}; add it to package.json`);
  return version;
}

/**
 * The CDK CLI the pipeline installs for self-mutation (`npm install -g aws-cdk@<version>`): the version the
 * repository's own `npx cdk synth` uses. The Assets stage installs nothing (lib/pipeline/asset-publishing.ts).
 */
export const CDK_CLI_VERSION = lockedVersion('aws-cdk');
