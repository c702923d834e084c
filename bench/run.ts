/**
 * `npm run bench`: cold start, batch latency, AWS requests per object, synth and test-suite time, local
 * throughput, each next to its reference in the same run. Prints tables and writes bench/results.json (only when
 * every section ran, so the committed file always describes one complete run on one machine).
 *
 *   npm run bench                                   # everything (a few minutes on 2 cores)
 *   npm run bench -- --only cold-start,requests     # some sections; prints, does not write results.json
 *   npm run bench -- --skip-tests                   # everything but the `npm test` timing; does not write
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { synthesizeDeployedFunction } from '../devkit/deployed-function.ts';
import { loadProjectConfig } from '../lib/config/resolve.ts';
import { batchSection } from './batch-latency.ts';
import { coldStartSection, deployedBundlePath } from './cold-start.ts';
import { costModelSection } from './cost-model.ts';
import { startAwsFixture } from './lib/aws-fixture.ts';
import { machineInfo } from './lib/machine.ts';
import type { SectionReport } from './lib/report.ts';
import { renderTable } from './lib/table.ts';
import { throughputSection } from './local-throughput.ts';
import { requestsSection } from './requests-per-object.ts';
import { suiteSection } from './suite-times.ts';

const SECTIONS = ['cold-start', 'batch', 'requests', 'suite', 'throughput'] as const;
type Section = (typeof SECTIONS)[number];

/** The stage whose deployed function is measured: production's memory and concurrency settings. */
const STAGE = 'prod';
/** Added latency per AWS request for the batch figures: a same-region S3 GET or DynamoDB write is of this order. */
const LATENCY_MS = 10;
const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    'skip-tests': { type: 'boolean', default: false },
    'cold-start-runs': { type: 'string', default: '15' },
    'batch-runs': { type: 'string', default: '15' },
    'synth-runs': { type: 'string', default: '3' },
  },
});
const selected: readonly Section[] = values.only
  ? values.only.split(',').map((name) => {
      if (!(SECTIONS as readonly string[]).includes(name)) {
        throw new Error(`--only: unknown section "${name}"; sections: ${SECTIONS.join(', ')}`);
      }
      return name as Section;
    })
  : SECTIONS;
const positive = (name: string, raw: string | undefined) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} is "${raw}"; must be a positive integer`);
  return n;
};
const coldStartRuns = positive('cold-start-runs', values['cold-start-runs']);
const batchRuns = positive('batch-runs', values['batch-runs']);
const synthRuns = positive('synth-runs', values['synth-runs']);
const complete = selected.length === SECTIONS.length && !values['skip-tests'];

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
const machine = machineInfo();
const workDir = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
const reports: SectionReport[] = [];
try {
  progress(`synthesizing the ${STAGE} stage to take its function's code asset`);
  const deployed = synthesizeDeployedFunction({ stageName: STAGE, outdir: path.join(workDir, 'cdk.out') });
  const bundleUrl = pathToFileURL(deployedBundlePath(deployed)).href;

  if (selected.includes('cold-start')) {
    progress(`cold start (${coldStartRuns} fresh processes per subject)`);
    reports.push(
      await coldStartSection({ deployed, workDir: path.join(workDir, 'bundles'), runs: coldStartRuns }),
    );
  }
  if (selected.includes('batch') || selected.includes('requests')) {
    const fixture = await startAwsFixture(STAGE);
    try {
      if (selected.includes('batch')) {
        progress(`batch latency (${LATENCY_MS} ms added per request)`);
        const batch = await batchSection({
          fixture,
          bundleUrl,
          stageConcurrency: deployed.stage.processor.recordConcurrency,
          latencyMs: LATENCY_MS,
          runs: batchRuns,
          workDir: path.join(workDir, 'batch'),
        });
        reports.push(batch);
        const { config } = loadProjectConfig({ sandboxAccount: 'optional' });
        const memory = Object.fromEntries(config.stages.map((s) => [s.stageName, s.processor.memoryMiB]));
        reports.push(costModelSection(batch.batch10, memory));
      }
      if (selected.includes('requests')) {
        progress('requests per object');
        reports.push(await requestsSection(fixture, bundleUrl));
      }
    } finally {
      await fixture.close();
    }
  }
  if (selected.includes('suite')) {
    progress(`synth (${synthRuns} runs each) and ${values['skip-tests'] ? 'not ' : ''}npm test`);
    reports.push(await suiteSection({ synthRuns, includeTests: !values['skip-tests'] }));
  }
  if (selected.includes('throughput')) {
    progress('local environment throughput');
    reports.push(await throughputSection());
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

const out: string[] = [
  `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryMiB} MiB, ${machine.os} ${machine.arch}; Node ${machine.nodeVersion}; ${machine.date}; commit ${machine.gitCommit}; load average at start ${machine.loadAverage.join(', ')}`,
];
for (const report of reports) {
  out.push('', `## ${report.title}`, '', renderTable(report.header, report.rows));
  if (report.targets.length > 0) {
    out.push('', ...report.targets.map((t) => `- ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.measured}`));
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `  ${n}`));
}
process.stdout.write(`${out.join('\n')}\n`);

if (complete) {
  const results = {
    command: 'npm run bench',
    machine,
    loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    stage: STAGE,
    sections: Object.fromEntries(
      reports.map((r) => [r.key, { title: r.title, targets: r.targets, notes: r.notes, results: r.results }]),
    ),
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
} else {
  progress('partial run: bench/results.json left as it was');
}
