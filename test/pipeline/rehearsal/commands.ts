/**
 * What a rehearsal can prove about one buildspec command without AWS: that what it names exists in the
 * repository at the version the lockfile pins (scripts, binaries, files, tool versions), and, by running it,
 * that its flags and variables are accepted. Commands that need the registry are checked, not run.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { lockedVersion } from '../../../lib/pipeline/tool-versions.ts';

const run = promisify(execFile);

export interface Repository {
  /** Root of the checkout the action runs in (package.json, package-lock.json, node_modules). */
  readonly root: string;
}

/** How a command is treated: run as it is, or only checked (the reason says why it is not run, for the reader). */
export type Disposition = { readonly run: true } | { readonly run: false; readonly because: string };

export interface CommandCheck {
  readonly problems: readonly string[];
  readonly disposition: Disposition;
}

const SHELL_BUILTINS = /^(test|export|echo|cd|set|:)\b/;

/**
 * Checks one command against the repository. `installed` lists the global tools earlier commands of the same
 * buildspec installed (`npm install -g x@v`), which later commands may call by name.
 */
export function checkCommand(
  command: string,
  repo: Repository,
  installed: Set<string>,
  cwd: string,
): CommandCheck {
  const pkg = JSON.parse(readFileSync(path.join(repo.root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const scripts = pkg.scripts ?? {};
  const problems: string[] = [];
  const words = command.trim().split(/\s+/);
  const [program = '', sub = '', third = ''] = words;

  if (program === 'npm' && sub === 'ci') {
    if (!existsSync(path.join(repo.root, 'package-lock.json')))
      problems.push('npm ci without a package-lock.json');
    return {
      problems,
      disposition: {
        run: false,
        because: 'installs from the registry; the test runs on what npm ci installed from this lockfile',
      },
    };
  }
  if (program === 'npm' && sub === 'install' && words.includes('-g')) {
    for (const spec of words.slice(2).filter((w) => !w.startsWith('-'))) {
      const at = spec.lastIndexOf('@');
      const name = at > 0 ? spec.slice(0, at) : spec;
      const version = at > 0 ? spec.slice(at + 1) : undefined;
      let pinned: string | undefined;
      try {
        pinned = lockedVersion(name, path.join(repo.root, 'package-lock.json'));
      } catch {
        problems.push(`installs ${spec}, which package-lock.json does not pin`);
        continue;
      }
      if (version !== pinned) problems.push(`installs ${spec}; package-lock.json pins ${name}@${pinned}`);
      installed.add(binaryOf(repo, name));
    }
    return {
      problems,
      disposition: {
        run: false,
        because: 'installs from the registry; the lockfile installed the same version locally',
      },
    };
  }
  if (program === 'npm' && (sub === 'run' || sub === 'test')) {
    const script = sub === 'test' ? 'test' : third;
    if (!(script in scripts)) problems.push(`npm script "${script}" does not exist in package.json`);
    return { problems, disposition: { run: true } };
  }
  if (program === 'npx') {
    if (!existsSync(path.join(repo.root, 'node_modules', '.bin', sub))) {
      problems.push(`npx ${sub}: no such binary in node_modules/.bin (npx would download an unpinned one)`);
    }
    return { problems, disposition: { run: true } };
  }
  if (program.startsWith('node_modules/.bin/')) {
    if (!existsSync(path.join(repo.root, program))) problems.push(`${program} does not exist`);
    return { problems, disposition: { run: true } };
  }
  if (program === 'node') {
    if (!existsSync(path.join(cwd, sub))) problems.push(`node ${sub}: no such file in ${cwd}`);
    return { problems, disposition: { run: true } };
  }
  if (installed.has(program)) return { problems, disposition: { run: true } };
  if (SHELL_BUILTINS.test(program)) return { problems, disposition: { run: true } };
  problems.push(`"${program}" is neither installed by this buildspec nor provided by the repository`);
  return { problems, disposition: { run: true } };
}

/** The command a package's binary is called by (`aws-cdk` -> `cdk`). */
function binaryOf(repo: Repository, name: string): string {
  const manifest = JSON.parse(
    readFileSync(path.join(repo.root, 'node_modules', name, 'package.json'), 'utf8'),
  ) as { bin?: string | Record<string, string> };
  if (typeof manifest.bin === 'string') return name;
  return Object.keys(manifest.bin ?? {})[0] ?? name;
}

export interface ShellResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one command as CodeBuild would (bash, the action's environment), with the repository's node_modules/.bin
 * first on PATH: that is where `npm ci` put Node 24 and the CLIs the pipeline installs globally.
 */
export async function runShell(
  command: string,
  options: { cwd: string; env: Readonly<Record<string, string>>; repo: Repository; timeoutMs?: number },
): Promise<ShellResult> {
  const bin = path.join(options.repo.root, 'node_modules', '.bin');
  try {
    const { stdout, stderr } = await run('bash', ['-c', command], {
      cwd: options.cwd,
      env: { HOME: options.cwd, ...options.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
    };
  }
}

/** Replaces CodePipeline variables (`#{namespace.name}`); an unknown one is an error naming it. */
export function resolveVariables(
  value: string,
  lookup: (namespace: string, name: string) => string | undefined,
): string {
  return value.replace(/#\{([^.}]+)\.([^}]+)\}/g, (whole, namespace: string, name: string) => {
    const resolved = lookup(namespace, name);
    if (resolved === undefined) throw new Error(`variable ${whole} names no output the pipeline produces`);
    return resolved;
  });
}
