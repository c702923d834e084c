import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cdkAppCommand, cdkJsonContext, PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { ToolError } from './cli.ts';

/**
 * The files of JavaScript code the CDK app loads while it synthesizes: the app command of cdk.json, run the way the
 * CDK CLI runs it (a child process with the context in CDK_CONTEXT_JSON and the output directory in CDK_OUTDIR,
 * bundling included), with tools/lib/record-loaded-modules.ts preloaded to note every module it loads.
 *
 * Why loaded modules and not the production closure of package-lock.json: the closure also holds what only the
 * operator tools use (the AWS SDK clients of tools/), which never runs at synth; the loaded set is what actually
 * executes with the synth step's credentials and decides the templates. JSON-only loads are left out: the CDK
 * reads `esbuild/package.json` and `typescript/package.json` to learn their versions, which runs no code of theirs.
 */

const HOOK = fileURLToPath(new URL('./record-loaded-modules.ts', import.meta.url));

export interface LoadedModules {
  /** Absolute paths of the JavaScript modules (ESM and CommonJS) the app loaded from files. */
  readonly files: string[];
  /** The app command as cdk.json gives it. */
  readonly command: string;
}

/**
 * The CDK app's command, its entry file and the modules it preloads (`--import <file>`, such as the Node version
 * guard), when the command is `node [--import <file>]... <file>`; anything else is an error.
 */
export function cdkAppEntry(root: string = PROJECT_ROOT): {
  command: string;
  entry: string;
  imports: string[];
} {
  const command = cdkAppCommand(root) ?? '';
  const match = /^node((?:\s+--import\s+\S+)*)\s+(\S+)$/.exec(command.trim());
  if (!match?.[2]) {
    throw new ToolError(
      `the CDK app command (cdk.json "app") is "${command}"; the SBOM can only record an app run as \`node [--import <file>] <file>\``,
    );
  }
  const imports = [...(match[1] ?? '').matchAll(/--import\s+(\S+)/g)].map((m) =>
    path.resolve(root, m[1] as string),
  );
  return { command, entry: path.resolve(root, match[2]), imports };
}

/** Runs the CDK app once, as `cdk synth` does, and returns the modules it loaded. */
export async function recordAppModules(
  options: { readonly env?: NodeJS.ProcessEnv; readonly root?: string } = {},
): Promise<LoadedModules> {
  const root = options.root ?? PROJECT_ROOT;
  const { command, entry, imports } = cdkAppEntry(root);
  const scratch = mkdtempSync(path.join(tmpdir(), 'sbom-app-'));
  const record = path.join(scratch, 'loaded.json');
  try {
    const env = {
      // Bundling runs `npx esbuild`: it needs this process's PATH even when the settings come from elsewhere.
      PATH: process.env.PATH,
      ...(options.env ?? process.env),
      CDK_OUTDIR: path.join(scratch, 'cdk.out'),
      CDK_CONTEXT_JSON: JSON.stringify(cdkJsonContext(root)),
      RECORD_LOADED_MODULES_TO: record,
    };
    const stderr: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      // process.execPath: the Node that runs this tool, i.e. node_modules/.bin/node under `npm run`, the one
      // `cdk synth` finds first on the PATH npm sets.
      const child = spawn(
        process.execPath,
        ['--import', HOOK, ...imports.flatMap((i) => ['--import', i]), entry],
        {
          cwd: root,
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) {
      const last = stderr.join('').trim().split('\n').slice(-3).join(' / ');
      throw new ToolError(`the CDK app (${command}) failed with exit code ${code}: ${last}`);
    }
    const loaded = JSON.parse(readFileSync(record, 'utf8')) as Array<{ url: string; format: string }>;
    const files = loaded
      .filter((m) => m.format !== 'json' && m.format !== 'builtin')
      .map((m) => fileURLToPath(m.url));
    return { files, command };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
