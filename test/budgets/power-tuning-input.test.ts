import { pathToFileURL } from 'node:url';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsFixture, startAwsFixture } from '../../bench/lib/aws-fixture.ts';
import { type HostedHandler, hostHandler } from '../../bench/lib/handler-host.ts';
import {
  DEFAULT_POWER_VALUES,
  type PowerTuningInput,
  powerTuningInput,
  queueArnFromUrl,
} from '../../bench/power-tuning-input.ts';
import { PROCESSOR_ENTRY } from '../../lib/app-stack/processor-bundling.ts';
import { decodeS3Key } from '../../services/processor/src/s3-key.ts';

/**
 * The Power Tuning input is only useful if its payload makes the function do the work it does in production.
 * Run against s3rver (through the counting proxy) with every name given as a flag, so no AWS account is needed:
 * the payload it prints must be processed by the real handler with one GET and one write per object.
 */

const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:444444444444:function:s3-object-processor-prod-Function';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/444444444444/s3-object-processor-prod-ingest';

let fixture: AwsFixture;
let handler: HostedHandler;

async function run(extra: readonly string[]) {
  const out: string[] = [];
  const progress: string[] = [];
  const code = await powerTuningInput(
    [
      '--stage',
      'prod',
      '--region',
      'eu-west-1',
      '--bucket',
      fixture.bucket,
      '--queue-url',
      QUEUE_URL,
      '--function-arn',
      FUNCTION_ARN,
      '--endpoint',
      `s3=${fixture.s3Proxy.endpoint}`,
      ...extra,
    ],
    { out: (line) => out.push(line), progress: (line) => progress.push(line) },
  );
  return { code, out, progress };
}

beforeAll(async () => {
  fixture = await startAwsFixture('prod');
  handler = await hostHandler(pathToFileURL(PROCESSOR_ENTRY).href, 'handler', fixture.handlerEnvironment());
});

afterAll(async () => {
  await handler?.stop();
  await fixture?.close();
});

describe('power-tuning-input', () => {
  it('prints a state machine input whose payload the handler processes with one GET and one write per object', async () => {
    const { code, out } = await run(['--objects', '3']);
    expect(code).toBe(0);
    const input = JSON.parse(out.join('\n')) as PowerTuningInput;
    expect(input).toMatchObject({
      lambdaARN: FUNCTION_ARN,
      powerValues: [...DEFAULT_POWER_VALUES],
      num: 50,
      strategy: 'balanced',
      parallelInvocation: false,
    });
    const payload = input.payload as SQSEvent;
    expect(payload.Records).toHaveLength(3);
    expect(payload.Records[0]?.eventSourceARN).toBe(
      'arn:aws:sqs:eu-west-1:444444444444:s3-object-processor-prod-ingest',
    );

    // Every tuning invocation repeats the payload: the first writes the items, later ones lose as duplicates.
    for (const invocation of ['first', 'repeat']) {
      fixture.resetCounts();
      const { response } = await handler.invoke(payload);
      expect(response.batchItemFailures, invocation).toEqual([]);
      expect(fixture.counts(), invocation).toEqual({ GetObjectRange: 3, PutItem: 3 });
    }
    const key = JSON.parse(payload.Records[0]?.body ?? '{}').Records[0].s3.object.key as string;
    const item = await fixture.item(decodeS3Key(key));
    expect(item?.status).toBe('PROCESSED');
    expect(item?.contentType).toBe('image/png');
  });

  it('uploads nothing on a dry run', async () => {
    fixture.resetCounts();
    const { code, out, progress } = await run(['--dry-run']);
    expect(code).toBe(0);
    expect(out).toEqual([]);
    expect(progress.join('\n')).toMatch(/would upload 10 objects/);
    expect(fixture.counts()).toEqual({});
  });

  it.each([
    [['--num', '3'], /--num/],
    [['--strategy', 'fastest'], /--strategy/],
    [['--power-values', '64,512'], /--power-values/],
  ])('rejects %j as a usage error', async (flags, message) => {
    await expect(run(flags)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(message) });
  });

  it('derives the queue ARN from its URL', () => {
    expect(queueArnFromUrl(QUEUE_URL, 'eu-west-1')).toBe(
      'arn:aws:sqs:eu-west-1:444444444444:s3-object-processor-prod-ingest',
    );
  });
});
