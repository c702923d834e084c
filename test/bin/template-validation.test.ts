import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cdkJsonContext } from '../../lib/config/resolve.ts';

/**
 * aws-cdk-lib validates every synthesized template against the CloudFormation resource schemas. cdk.json makes
 * its findings errors (`@aws-cdk/core:validateAgainstDefaultRules`) and warnings too
 * (`@aws-cdk/core:strictCfnValidateErrors`: a value outside a schema's enum, such as a log retention CloudWatch
 * does not offer, is only a warning otherwise). That the app itself synthesizes cleanly under these flags is
 * proven by the CDK CLI synths of test/pipeline/rehearsal.test.ts and test/config/entry-points.test.ts (in-process
 * synths turn the validation off: lib/config/names.ts, SCHEMA_VALIDATION_CONTEXT).
 */

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Synthesizes one stack with the given context; returns what synthesis threw, if anything. */
function synthError(context: Record<string, unknown>, build: (stack: Stack) => void): string | undefined {
  const outdir = mkdtempSync(join(tmpdir(), 'template-validation-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context });
  build(new Stack(app, 'Probe', { env: { account: '222222222222', region: 'eu-west-1' } }));
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

const validationFlags = () =>
  Object.fromEntries(Object.entries(cdkJsonContext()).filter(([key]) => key.startsWith('@aws-cdk/core:')));

/** Two values outside the schemas: above a maximum (an error by default), outside an enum (a warning by default). */
const outOfSchema = (stack: Stack) => {
  new sqs.CfnQueue(stack, 'Queue', { messageRetentionPeriod: 60 * 24 * 3600 });
  new logs.CfnLogGroup(stack, 'Logs', { retentionInDays: 8 });
};

describe('CloudFormation schema validation (cdk.json)', () => {
  it('is switched on as errors, warnings included', () => {
    expect(validationFlags()).toMatchObject({
      '@aws-cdk/core:validateAgainstDefaultRules': true,
      '@aws-cdk/core:strictCfnValidateErrors': true,
    });
  });

  it('fails synth on a property value outside the resource schema', () => {
    const error = synthError(validationFlags(), outOfSchema);
    expect(error).toMatch(/MessageRetentionPeriod.*greater than the maximum/);
    expect(error).toMatch(/RetentionInDays: 8 is not one of/);
  });

  it('would only warn without cdk.json’s flags (so the flags are what makes synth fail)', () => {
    const warnings = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(synthError({}, outOfSchema)).toBeUndefined();
      expect(warnings.mock.calls.flat().join('\n')).toMatch(/reported as warnings/);
    } finally {
      warnings.mockRestore();
    }
  });
});
