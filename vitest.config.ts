import { defineConfig } from 'vitest/config';
// On any Node but the one package.json's engines names, stop here with one line (vitest would crash later).
import './bin/require-node.mjs';

const excluded = ['**/node_modules/**', '**/cdk.out/**'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    // Two workers on two cores (vitest's default is one fewer than the cores): much of the suite waits on child
    // processes, emulators and polls, so a second worker halves the wall time (measured: 221 s -> 118-128 s).
    maxWorkers: 2,
    hookTimeout: 120_000,
    // `npm test` runs every project: nothing here needs an AWS account.
    projects: [
      {
        extends: true,
        // integ/*.test.ts are the end-to-end suites (the next project); every other *.test.ts is a unit test.
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...excluded, 'integ/*.test.ts', 'test/app-stack/**'],
        },
      },
      {
        // One test file per construct, all reading the same synthesized stages (test/app-stack/synthesized-stages.ts):
        // without isolation a worker evaluates that module, and so synthesizes, once for all the files it runs
        // (at most once per worker). Not fileParallelism: false, which would serialise
        // every project, and a per-project maxWorkers vitest refuses next to the others' default.
        extends: true,
        test: { name: 'app-stack', include: ['test/app-stack/**/*.test.ts'], isolate: false },
      },
      {
        // The integration suite: against a local environment it starts itself (npm test), or against the
        // target `npm run integ` exports (a running local environment, or a deployed stage).
        extends: true,
        test: {
          name: 'integ',
          include: ['integ/*.test.ts'],
          globalSetup: ['integ/lib/global-setup.ts'],
        },
      },
    ],
  },
});
