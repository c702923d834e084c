import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedBundlePath } from '../../bench/cold-start.ts';
import {
  BUNDLE_BUDGET_BYTES,
  type BuiltBundle,
  buildProcessorBundle,
  bytesByPackage,
  esbuildOptionsFromCdk,
} from '../../devkit/bundle.ts';
import { synthesizeDeployedFunction } from '../../devkit/deployed-function.ts';

/**
 * The deterministic half of the cold-start figures: the bytes Node parses at every cold start. Timings live in
 * `npm run bench`; this fails the suite when the deployed bundle grows past its budget, and says what grew.
 */

const workDir = mkdtempSync(path.join(os.tmpdir(), 'bundle-budget-'));
let deployedBytes: Buffer;
let rebuilt: BuiltBundle;

beforeAll(async () => {
  // One synth of one stage: every stage deploys the same asset (test/app-stack/processor-bundling.test.ts checks that).
  const deployed = synthesizeDeployedFunction({ stageName: 'prod', outdir: path.join(workDir, 'cdk.out') });
  deployedBytes = readFileSync(deployedBundlePath(deployed));
  rebuilt = await buildProcessorBundle(path.join(workDir, 'rebuilt'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('processor bundle budget', () => {
  it(`the deployed bundle is at most ${BUNDLE_BUDGET_BYTES} bytes`, () => {
    const largest = bytesByPackage(rebuilt.metafile)
      .slice(0, 10)
      .map((c) => `${c.input}: ${c.bytes} B`)
      .join(', ');
    expect(
      deployedBytes.length,
      `bundle is ${deployedBytes.length} bytes, budget ${BUNDLE_BUDGET_BYTES}; largest inputs: ${largest}`,
    ).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
  });

  it("the bench's rebuild is byte-identical to the synthesized asset, so its per-package costs are the deployed bundle's", () => {
    expect(readFileSync(rebuilt.file).equals(deployedBytes)).toBe(true);
  });
});

describe('esbuildOptionsFromCdk', () => {
  it('refuses a bundling option it does not mirror rather than measuring a different bundle', () => {
    expect(() => esbuildOptionsFromCdk({ nodeModules: ['zod'] }, 'entry.ts', workDir)).toThrow(/nodeModules/);
  });

  it('mirrors what NodejsFunction passes to esbuild for the options it knows', () => {
    const options = esbuildOptionsFromCdk(
      { format: OutputFormat.ESM, minify: true, sourceMap: true, sourcesContent: false, bundleAwsSDK: false },
      'entry.ts',
      workDir,
    );
    expect(options).toMatchObject({
      outfile: path.join(workDir, 'index.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      // NodejsFunction leaves the SDK to the runtime unless bundleAwsSDK is set.
      external: ['@aws-sdk/*'],
    });
  });
});
