import type { Clock, Io } from '../../tools/lib/cli.ts';

/** Captures a tool's output lines. */
export function captureIo(): Io & {
  readonly lines: string[];
  readonly progressLines: string[];
  text(): string;
} {
  const lines: string[] = [];
  const progressLines: string[] = [];
  return {
    lines,
    progressLines,
    out: (line) => lines.push(line),
    progress: (line) => progressLines.push(line),
    text: () => [...lines, ...progressLines].join('\n'),
  };
}

/** A clock whose time moves only when the code under test sleeps: waits cost nothing and are countable. */
export function fakeClock(
  start = Date.UTC(2025, 0, 1),
): Clock & { readonly sleeps: number[]; time(): number } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    time: () => now,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** An empty environment: the stage is resolved from cdk.json alone. */
export const NO_REGION_ENV: NodeJS.ProcessEnv = {};
