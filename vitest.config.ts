import { defineConfig } from 'vitest/config';

const excluded = ['**/node_modules/**', '**/cdk.out/**'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // `npm test` runs every project: nothing here needs an AWS account.
    projects: [
      {
        extends: true,
        // integ/*.test.ts are the end-to-end suites (the next project); every other *.test.ts is a unit test.
        test: { name: 'unit', include: ['**/*.test.ts'], exclude: [...excluded, 'integ/*.test.ts'] },
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
