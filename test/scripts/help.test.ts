import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every npm script that runs a file of this repository with node answers `--help` before doing any work: the
 * usage on stdout, exit 0, no stack trace, no tracked file written (a generator that ignores its arguments
 * rewrites docs/). Each script runs as package.json's command line says, with `--help` appended, as
 * `npm run <name> -- --help` runs it; at most two per core at a time. An unknown option is not run here (a
 * second round would double the time): the scripts share the parsers of tools/lib/cli.ts, tested in
 * test/tools/lib/cli.test.ts, and `npm start`'s and `npm run integ`'s have tests of their own.
 */

const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** Two per core: a script's start is mostly CPU (loading the CDK or the SDK), with some waiting on the disk. */
const PARALLEL = 2 * availableParallelism();
/** Past this a script is doing its work instead of answering (the slowest answers in about 2 s on 2 cores). */
const DEADLINE_MS = 30_000;

/** The scripts that run `node [flags] <file>.ts|.mjs`, as node's arguments; anything with cdk or a shell is not. */
function nodeScripts(scripts: Readonly<Record<string, string>>): Record<string, string[]> {
  const selected: Record<string, string[]> = {};
  for (const [name, command] of Object.entries(scripts)) {
    const [program, ...args] = command.trim().split(/\s+/);
    if (program !== 'node' || !/\.(ts|mjs)$/.test(args.at(-1) ?? '')) continue;
    if (/\bcdk\b/.test(command) || /[|&;<>$`"']/.test(command)) continue;
    selected[name] = args;
  }
  return selected;
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs node with these arguments in its own process group, so a deadline ends whatever it started too. */
function runNode(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** At most `limit` at a time: every script loads the CDK or the SDK, two dozen at once would only contend. */
async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const exitOf = (run: Run) =>
  run.timedOut ? `still running after ${DEADLINE_MS / 1000} s` : `exit ${run.code ?? run.signal}`;
const STACK_FRAME = /^\s+at \S/m;

function helpProblems(run: Run): string[] {
  const problems: string[] = [];
  if (run.code !== 0) problems.push(`--help: ${exitOf(run)}, expected exit 0; stderr: ${run.stderr.trim()}`);
  if (!/^Usage: /m.test(run.stdout))
    problems.push(`--help: no "Usage: " line on stdout: ${run.stdout.trim()}`);
  if (STACK_FRAME.test(run.stderr)) problems.push('--help: a stack trace on stderr');
  return problems;
}

/** Every tracked file's modification time (a rewrite with the same content shows here, not in git status). */
function trackedFiles(cwd: string): { status: string; mtimes: Map<string, number> } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });
  const mtimes = new Map<string, number>();
  for (const file of git('ls-files', '-z').split('\0').filter(Boolean)) {
    try {
      mtimes.set(file, statSync(path.join(cwd, file)).mtimeMs);
    } catch {
      mtimes.set(file, Number.NaN); // deleted in the work tree
    }
  }
  return { status: git('status', '--porcelain'), mtimes };
}

function changedFiles(
  before: ReturnType<typeof trackedFiles>,
  after: ReturnType<typeof trackedFiles>,
): string[] {
  const changed = [...before.mtimes].filter(([file, mtime]) => !Object.is(after.mtimes.get(file), mtime));
  const status =
    before.status === after.status ? [] : [`git status was:\n${before.status}now:\n${after.status}`];
  return [...changed.map(([file]) => file), ...status];
}

interface Report {
  /** Script name -> what is wrong with its answers; empty when nothing is. */
  readonly problems: Record<string, string[]>;
  /** Tracked files the runs wrote, and the git status change, if any. */
  readonly changed: string[];
}

/** Runs every node script of `scripts` with --help, in parallel, in `cwd`. */
async function checkScripts(scripts: Readonly<Record<string, string>>, cwd: string): Promise<Report> {
  const selected = Object.entries(nodeScripts(scripts));
  const before = trackedFiles(cwd);
  const runs = await inPool(
    selected.map(([, args]) => [...args, '--help']),
    PARALLEL,
    (args) => runNode(args, cwd, process.env),
  );
  const problems = Object.fromEntries(selected.map(([name], i) => [name, helpProblems(runs[i] as Run)]));
  return { problems, changed: changedFiles(before, trackedFiles(cwd)) };
}

describe('every npm script that runs a file with node', () => {
  const scripts = (
    JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  let report: Report;
  beforeAll(async () => {
    report = await checkScripts(scripts, ROOT);
  });

  it('is found in package.json, cdk and shell commands left out', () => {
    const names = Object.keys(nodeScripts(scripts));
    // The ones the issue named, and a tool: a change to the selection that drops them fails here.
    expect(names).toEqual(
      expect.arrayContaining([
        'bench',
        'measure:processor',
        'docs:generate',
        'docs:flows',
        'start',
        'integ',
        'status',
      ]),
    );
    expect(names).not.toContain('synth');
    expect(Object.keys(report.problems)).toEqual(names);
  });

  it('answers --help with its usage and exit 0, without a stack trace', () => {
    const failing = Object.fromEntries(Object.entries(report.problems).filter(([, p]) => p.length > 0));
    expect(failing).toEqual({});
  });

  it('writes no tracked file while answering', () => {
    expect(report.changed).toEqual([]);
  });
});

describe('the check, on scripts that get it wrong', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'help-test-fixture-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write('docs/out.md', 'generated\n');
  // Ignores its arguments and does its work: rewrites a tracked document with the same content.
  write(
    'ignores.mjs',
    "import { writeFileSync } from 'node:fs';\nwriteFileSync('docs/out.md', 'generated\\n');\nconsole.log('wrote docs/out.md');\n",
  );
  // A strict parser without a help option: every flag ends in an uncaught error.
  write('crashes.mjs', "throw new Error('Unknown option ' + process.argv[2]);\n");
  write(
    'answers.mjs',
    ['const [flag] = process.argv.slice(2);', "if (flag === '--help') console.log('Usage: answers');"].join(
      '\n',
    ),
  );
  execFileSync('git', ['init', '--quiet'], { cwd: root });
  execFileSync('git', ['add', '.'], { cwd: root });

  it('names each wrong answer and the file written, and passes the script that answers', async () => {
    const { problems, changed } = await checkScripts(
      {
        ignores: 'node ignores.mjs',
        crashes: 'node crashes.mjs',
        answers: 'node answers.mjs',
        synth: 'cdk synth',
        deploy: 'node node_modules/aws-cdk/bin/cdk.mjs',
        chained: 'node answers.mjs && node ignores.mjs',
        lint: 'biome check .',
      },
      root,
    );
    expect(Object.keys(problems)).toEqual(['ignores', 'crashes', 'answers']);
    expect(problems.ignores).toEqual(['--help: no "Usage: " line on stdout: wrote docs/out.md']);
    expect(problems.crashes).toEqual([
      expect.stringMatching(/^--help: exit 1, expected exit 0; stderr: .*Unknown option --help/s),
      '--help: no "Usage: " line on stdout: ',
      '--help: a stack trace on stderr',
    ]);
    expect(problems.answers).toEqual([]);
    // Rewritten with the same content, so git status alone would not tell: the modification time does.
    expect(changed).toEqual(['docs/out.md']);
  });
});
