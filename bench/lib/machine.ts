import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** Where a figure came from: a timing means nothing without the machine and the runtime that produced it. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly totalMemoryMiB: number;
  readonly os: string;
  readonly arch: string;
  readonly nodeVersion: string;
  readonly gitCommit: string;
  readonly date: string;
  /** 1-, 5- and 15-minute load averages when the run started: on a shared machine, what the spread means. */
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    nodeVersion: process.version,
    gitCommit: currentCommit(),
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function currentCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'lib', 'bin', 'local'], {
      encoding: 'utf8',
    }).trim();
    // A dirty tree means the figures describe uncommitted code; say so rather than pin them to a commit.
    return dirty === '' ? sha : `${sha}+uncommitted`;
  } catch {
    return 'unknown';
  }
}
