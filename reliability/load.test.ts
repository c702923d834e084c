import { afterAll, beforeAll, expect, it } from 'vitest';
import { DYNAMODB_MAX_ATTEMPTS, S3_MAX_ATTEMPTS } from '../services/processor/src/clients.ts';
import { type SynthesizedProcessor, synthesizeProcessor } from './harness.ts';
import { runLoad, summarise } from './load.ts';

/** `npm test` runs 200 objects; `npm run test:reliability` sets RELIABILITY_LOAD_OBJECTS=2000. */
const OBJECTS = Number(process.env.RELIABILITY_LOAD_OBJECTS ?? 200);
const SEED = Number(process.env.RELIABILITY_SEED ?? 7);

let processor: SynthesizedProcessor;
beforeAll(async () => {
  processor = await synthesizeProcessor();
});
afterAll(async () => {
  await processor?.dispose();
});

it(`load: ${OBJECTS} objects uploaded concurrently with faults on, every one accounted for and current`, async () => {
  expect(Number.isInteger(OBJECTS) && OBJECTS > 0, 'RELIABILITY_LOAD_OBJECTS').toBe(true);
  const report = await runLoad({ processor, objects: OBJECTS, seed: SEED });
  // Figures are printed for docs/reliability.md, never asserted.
  console.log(`reliability load: ${summarise(report)}`);

  expect(report.lost).toEqual([]);
  expect(report.mismatched).toEqual([]);
  expect(report.unexpected).toEqual([]);
  // The invariant: items + dead-letters == uploads (keys dead-lettered and never itemised count once).
  const itemised = Object.values(report.items).reduce((a, b) => a + b, 0);
  expect(itemised + report.deadLetteredOnly.length).toBe(OBJECTS);
  // The faults really ran, and the SDK's retries stayed within their configured budgets.
  expect(Object.values(report.faultsInjected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect(report.maxAttemptsPerCall.dynamodb).toBeLessThanOrEqual(DYNAMODB_MAX_ATTEMPTS);
  expect(report.maxAttemptsPerCall.s3).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
}, 900_000);
