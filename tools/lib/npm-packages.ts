import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { ToolError } from './cli.ts';

/**
 * Attributes files (the sources a bundle's source map names, the modules a process loaded) to the npm packages
 * installed in node_modules, with what the package's own package.json and package-lock.json say about each. The
 * package a file belongs to is the directory after its last `node_modules/` (two segments for a scope): that is
 * how Node resolves it, and it keeps nested copies (`a/node_modules/b`) apart from the top-level one.
 */

/** One installed copy of a package. */
export interface InstalledPackage {
  /** Package name, with its scope (`@aws-sdk/client-s3`). */
  readonly name: string;
  readonly version: string;
  /** The package.json `license` field as written (an SPDX expression, by npm's rules), if any. */
  readonly license?: string;
  /** The legacy `licenses` array of package.json, for the few packages that still use it. */
  readonly licenses?: ReadonlyArray<{ readonly type?: string; readonly url?: string }>;
  /** The whole package.json, for the CycloneDX builder (description, author, repository, homepage). */
  readonly packageJson: Readonly<Record<string, unknown>>;
  /** Directory relative to the project root, as package-lock.json keys it (`node_modules/a/node_modules/b`). */
  readonly lockPath: string;
  /** The lockfile's entry for this path. */
  readonly lock: LockEntry;
}

/** What package-lock.json (v2/v3 `packages`) records about one installed path. */
export interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
  /** Needed only by devDependencies: `npm ci --omit=dev` and `npm audit --omit=dev` leave it out. */
  readonly dev?: boolean;
  readonly optional?: boolean;
  /** Shipped inside its parent's tarball (bundleDependencies), not fetched from the registry. */
  readonly inBundle?: boolean;
  readonly license?: string;
}

export interface Lockfile {
  readonly lockfileVersion: number;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/** The package directory an absolute file path lies in, or undefined for a file outside every node_modules. */
export function packageRootOf(file: string): string | undefined {
  const at = file.lastIndexOf(NODE_MODULES);
  if (at < 0) return undefined;
  const rest = file.slice(at + NODE_MODULES.length).split(path.sep);
  const depth = rest[0]?.startsWith('@') ? 2 : 1;
  if (rest.length <= depth) return undefined;
  return file.slice(0, at + NODE_MODULES.length) + rest.slice(0, depth).join(path.sep);
}

export function readLockfile(root: string = PROJECT_ROOT): Lockfile {
  const file = path.join(root, 'package-lock.json');
  const lock = JSON.parse(readFileSync(file, 'utf8')) as Partial<Lockfile>;
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new ToolError(
      `${file} has no "packages" map (lockfileVersion ${lock.lockfileVersion}); run npm install`,
    );
  }
  return lock as Lockfile;
}

/**
 * Reads the installed package in `dir` and its lockfile entry. A package the lockfile does not know, or knows at
 * another version, means node_modules is not what `npm ci` would install: the record would describe the wrong
 * thing, so that is an error rather than a guess.
 */
export function readInstalledPackage(
  dir: string,
  lockfile: Lockfile,
  root: string = PROJECT_ROOT,
): InstalledPackage {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest))
    throw new ToolError(`${manifest} does not exist: is node_modules installed (npm ci)?`);
  const packageJson = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
  const { name, version } = packageJson;
  if (typeof name !== 'string' || typeof version !== 'string') {
    throw new ToolError(`${manifest} has no name or version`);
  }
  const lockPath = path.relative(root, dir).split(path.sep).join('/');
  const lock = lockfile.packages[lockPath];
  if (!lock) throw new ToolError(`${lockPath} (${name}@${version}) is not in package-lock.json; run npm ci`);
  if (lock.version !== undefined && lock.version !== version) {
    throw new ToolError(
      `${lockPath} is ${name}@${version} but package-lock.json pins ${lock.version}; run npm ci so node_modules matches the lockfile`,
    );
  }
  return {
    name,
    version,
    ...(typeof packageJson.license === 'string' ? { license: packageJson.license } : {}),
    ...(Array.isArray(packageJson.licenses)
      ? { licenses: packageJson.licenses as InstalledPackage['licenses'] }
      : {}),
    packageJson,
    lockPath,
    lock,
  };
}

/** `name@version`: one package version, however many copies of it are installed. */
export const packageId = (p: { readonly name: string; readonly version: string }): string =>
  `${p.name}@${p.version}`;

/**
 * The installed packages that own `files` (absolute paths), one entry per package directory. Files outside every
 * node_modules are the project's own (`ownFiles`) when they lie under the project root; anything else cannot be
 * attributed and is an error, so that nothing in the input is silently dropped.
 */
export function packagesOwning(
  files: Iterable<string>,
  options: { readonly lockfile?: Lockfile; readonly root?: string } = {},
): { readonly packages: InstalledPackage[]; readonly ownFiles: string[] } {
  const root = options.root ?? PROJECT_ROOT;
  const lockfile = options.lockfile ?? readLockfile(root);
  const dirs = new Set<string>();
  const ownFiles: string[] = [];
  for (const file of files) {
    const dir = packageRootOf(file);
    if (dir !== undefined) {
      dirs.add(dir);
      continue;
    }
    const relative = path.relative(root, file);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new ToolError(`${file} is neither in the project (${root}) nor in a node_modules directory`);
    }
    ownFiles.push(relative);
  }
  const packages = [...dirs].sort().map((dir) => readInstalledPackage(dir, lockfile, root));
  return { packages, ownFiles };
}
