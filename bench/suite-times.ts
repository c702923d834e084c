import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ms, type SectionReport } from './lib/report.ts';
import { summarise, type TimingSummary } from './lib/stats.ts';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

/**
 * Environment of a child command: node_modules/.bin first on PATH, as `npm run` sets it, so `cdk` and the app it
 * spawns run the pinned CLI under the pinned Node 24 whatever Node started the bench.
 */
function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}` };
}

interface CommandRun {
  readonly wallMs: number;
  readonly exitCode: number | null;
  /** The last few KB of stdout and stderr, for error messages. */
  readonly outputTail: string;
}

/** Runs a command to completion and returns its wall time and exit code. */
function runCommand(command: string, args: readonly string[]): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (exitCode) =>
      resolve({ wallMs: performance.now() - started, exitCode, outputTail: output }),
    );
  });
}

/** Like runCommand, but a non-zero exit is an error: a failed synth has no meaningful duration. */
export async function timeCommand(command: string, args: readonly string[]): Promise<number> {
  const run = await runCommand(command, args);
  if (run.exitCode !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${run.exitCode}:\n${run.outputTail}`);
  return run.wallMs;
}

/**
 * `cdk synth` of an app into a throwaway directory. Notices are off because fetching them needs the network, which
 * would add a timeout to every run here and is not part of synthesizing.
 */
function synthOnce(app?: string): Promise<number> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  const args = ['synth', '--quiet', '--no-notices', '--output', out, ...(app ? ['--app', app] : [])];
  return timeCommand(path.join(BIN, 'cdk'), args).finally(() =>
    rmSync(out, { recursive: true, force: true }),
  );
}

export interface SynthTimes {
  /** `npx cdk synth` of the whole app (bin/app.ts: pipeline, three stages, cdk-nag). */
  readonly app: TimingSummary;
  /** The same CLI synthesizing a one-resource app: the fixed cost every synth pays. */
  readonly minimalApp: TimingSummary;
}

/** Alternates app and reference synths so background load on a shared machine hits both alike. */
export async function measureSynth(runs: number): Promise<SynthTimes> {
  const app: number[] = [];
  const minimal: number[] = [];
  const minimalApp = `node ${path.join('bench', 'reference', 'minimal-app.ts')}`;
  for (let i = 0; i < runs; i++) {
    app.push(await synthOnce());
    minimal.push(await synthOnce(minimalApp));
  }
  return { app: summarise(app), minimalApp: summarise(minimal) };
}

export interface TestSuiteTime {
  readonly wallMs: number;
  /** npm test's exit code: a red suite is reported with its time, not hidden. */
  readonly exitCode: number | null;
  readonly files: number;
  readonly tests: number;
  /** The slowest test files by their own duration: where the suite's time goes. */
  readonly slowestFiles: readonly { readonly file: string; readonly ms: number }[];
}

interface VitestJsonReport {
  readonly numTotalTests: number;
  readonly testResults: readonly {
    readonly name: string;
    readonly startTime: number;
    readonly endTime: number;
  }[];
}

/**
 * `npm test` exactly as a developer runs it, plus vitest's JSON reporter (next to the default one) for the per-file
 * breakdown. One run: it takes long enough that its own noise is small next to its size.
 */
export async function measureTestSuite(): Promise<TestSuiteTime> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  const reportFile = path.join(dir, 'vitest.json');
  try {
    const { wallMs, exitCode, outputTail } = await runCommand('npm', [
      'test',
      '--',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
    ]);
    if (!existsSync(reportFile))
      throw new Error(`npm test exited ${exitCode} without a report:\n${outputTail}`);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestJsonReport;
    const slowestFiles = report.testResults
      .map((r) => ({ file: path.relative(ROOT, r.name), ms: r.endTime - r.startTime }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5);
    return { wallMs, exitCode, files: report.testResults.length, tests: report.numTotalTests, slowestFiles };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Synth of the whole app next to the minimal app, and `npm test` wall time, as child processes. */
export async function suiteSection(options: { readonly synthRuns: number; readonly includeTests: boolean }) {
  const synth = await measureSynth(options.synthRuns);
  const tests = options.includeTests ? await measureTestSuite() : undefined;
  const rows = [
    [
      'npx cdk synth: whole app (bin/app.ts)',
      ms(synth.app.medianMs),
      `${ms(synth.app.minMs)}..${ms(synth.app.maxMs)}`,
      String(synth.app.runs),
    ],
    [
      'npx cdk synth: one-resource app (reference)',
      ms(synth.minimalApp.medianMs),
      `${ms(synth.minimalApp.minMs)}..${ms(synth.minimalApp.maxMs)}`,
      String(synth.minimalApp.runs),
    ],
    ...(tests
      ? [
          [
            `npm test (${tests.files} files, ${tests.tests} tests${tests.exitCode === 0 ? '' : `, FAILED with exit ${tests.exitCode}`})`,
            ms(tests.wallMs),
            '-',
            '1',
          ],
        ]
      : []),
  ];
  return {
    key: 'suiteTimes',
    title: `Synth and test suite wall time (${os.availableParallelism()} cores, child processes)`,
    header: ['command', 'wall (median)', 'range', 'runs'],
    rows,
    targets: [],
    notes: [
      `Synth above the one-resource app: ${ms(synth.app.medianMs - synth.minimalApp.medianMs)} (our constructs, the pipeline, three stages, cdk-nag and bundling).`,
      ...(tests
        ? [
            `Slowest test files (own duration, files run in parallel): ${tests.slowestFiles.map((f) => `${f.file} ${ms(f.ms)}`).join(', ')}.`,
          ]
        : ['npm test was not timed in this run.']),
    ],
    results: { synth, tests },
  } satisfies SectionReport;
}
