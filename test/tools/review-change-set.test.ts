import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeSetNotFoundException,
  CloudFormationClient,
  type CloudFormationClientConfig,
  DescribeChangeSetCommand,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { abandoningHungRequests } from '../../services/processor/src/clients.ts';
import { ToolError } from '../../tools/lib/cli.ts';
import { stageContext, TOOL_HTTP_TIMEOUTS } from '../../tools/lib/targets.ts';
import { EXIT_BLOCKED, reviewChangeSetCli } from '../../tools/review-change-set.ts';
import {
  alarmOnlyChangeSet,
  DEAD_LETTER_QUEUE,
  noChangesChangeSet,
  paginatedChangeSet,
  pendingChangeSet,
  STACK_NAME,
  TABLE,
  tableKeySchemaChangeSet,
} from './change-set-fixtures.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const ROLE = 'arn:aws:iam::444444444444:role/cdk-hnb659fds-lookup-role-444444444444-eu-west-1';
const ASSUMED = { AccessKeyId: 'ASIAREVIEW', SecretAccessKey: 'secret', SessionToken: 'token' };
const REASON = 'KeySchema moves to pk; tools/backfill.ts refills the new table from the bucket';

const stsMock = mockClient(STSClient);
const cfnMock = mockClient(CloudFormationClient);
const s3Mock = mockClient(S3Client);
const dirs: string[] = [];
const outDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'change-review-'));
  dirs.push(dir);
  return dir;
};

/** Runs the CLI with mocked AWS; records the configuration each client was built with. */
function harness(options: { allow?: readonly string[]; env?: NodeJS.ProcessEnv } = {}) {
  const io = captureIo();
  const clock = fakeClock();
  const configs: { cloudFormation: CloudFormationClientConfig[]; s3: S3ClientConfig[] } = {
    cloudFormation: [],
    s3: [],
  };
  const allowances = (options.allow ?? []).map((logicalId) => ({ logicalId, reason: REASON }));
  const run = (argv: readonly string[]) =>
    reviewChangeSetCli(argv, io, {
      clock,
      env: options.env ?? NO_REGION_ENV,
      sts: (c) => new STSClient(c),
      cloudFormation: (c) => {
        configs.cloudFormation.push(c);
        return new CloudFormationClient(c);
      },
      s3: (c) => {
        configs.s3.push(c);
        return new S3Client(c);
      },
      // The real resolver (cdk.json, environment); only the allowances differ from the checked-in config.
      resolveStage: (args) => {
        const context = stageContext(args);
        if (allowances.length === 0) return context;
        return {
          ...context,
          stage: { ...context.stage, changeReview: { enabled: true, allowStatefulChanges: allowances } },
        };
      },
    });
  return { io, clock, configs, run };
}

function respondWith(...pages: ReturnType<typeof alarmOnlyChangeSet>[]) {
  const [first, ...rest] = pages;
  cfnMock.on(DescribeChangeSetCommand, { NextToken: undefined }).resolves(first ?? {});
  for (const [i, page] of rest.entries()) {
    const token = pages[i]?.NextToken;
    cfnMock.on(DescribeChangeSetCommand, { NextToken: token }).resolves(page);
  }
}

beforeEach(() => {
  stsMock
    .on(AssumeRoleCommand)
    .resolves({ Credentials: { ...ASSUMED, Expiration: new Date('2025-06-01T10:00:00Z') } });
  s3Mock.on(PutObjectCommand).resolves({ ETag: '"etag"' });
});

afterEach(() => {
  stsMock.reset();
  cfnMock.reset();
  s3Mock.reset();
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('review-change-set, end to end', () => {
  it('reads every page as the read-only role, writes the three files, uploads with SSE-KMS and prints the URL', async () => {
    respondWith(...paginatedChangeSet());
    const { io, configs, run } = harness({ env: { AWS_REGION: 'eu-central-1' } });
    const out = outDir();
    const code = await run([
      '--stage',
      'prod',
      '--role-arn',
      ROLE,
      '--out',
      out,
      '--upload',
      's3://pipeline-artifacts-111111111111/change-reviews/prod/exec-42/',
      '--kms-key-id',
      'alias/pipeline',
    ]);

    // The guard stops this change set (a queue replaced, a bucket removed, a database may be replaced).
    expect(code).toBe(EXIT_BLOCKED);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: 'pipeline-change-set-review',
    });
    expect(configs.cloudFormation[0]).toMatchObject({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIAREVIEW', secretAccessKey: 'secret', sessionToken: 'token' },
    });
    const describes = cfnMock.commandCalls(DescribeChangeSetCommand).map((c) => c.args[0].input);
    expect(describes).toEqual([
      { StackName: STACK_NAME, ChangeSetName: 'PipelineChange', IncludePropertyValues: true },
      {
        StackName: STACK_NAME,
        ChangeSetName: 'PipelineChange',
        IncludePropertyValues: true,
        NextToken: 'eyJwYWdlIjoyfQ==',
      },
    ]);

    const summary = readFileSync(join(out, 'summary.txt'), 'utf8');
    expect(summary).toMatch(
      /^prod: 1 added, 4 modified, 1 replaced, 2 may be replaced, 1 removed; .*BLOCKED: /,
    );
    expect(summary.trimEnd().split('\n')).toHaveLength(1);
    expect(readFileSync(join(out, 'change-set.md'), 'utf8')).toContain('## Key-policy changes');
    const record = JSON.parse(readFileSync(join(out, 'change-set.json'), 'utf8')) as { Changes: unknown[] }[];
    expect(record.map((p) => p.Changes.length)).toEqual([4, 5]);

    // The upload uses the build's own credentials, in the build's region, encrypted with the given key.
    // The pipeline's region and the default endpoint, with the tools' per-attempt timeouts.
    expect(configs.s3[0]).toEqual({
      region: 'eu-central-1',
      requestHandler: abandoningHungRequests(TOOL_HTTP_TIMEOUTS),
    });
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Bucket, p.Key, p.ServerSideEncryption, p.SSEKMSKeyId])).toEqual([
      [
        'pipeline-artifacts-111111111111',
        'change-reviews/prod/exec-42/change-set.md',
        'aws:kms',
        'alias/pipeline',
      ],
      [
        'pipeline-artifacts-111111111111',
        'change-reviews/prod/exec-42/change-set.json',
        'aws:kms',
        'alias/pipeline',
      ],
    ]);
    expect(puts[0]?.Body).toBe(readFileSync(join(out, 'change-set.md'), 'utf8'));
    // The pipeline links the approval to this file's URL.
    expect(readFileSync(join(out, 'review-url.txt'), 'utf8')).toBe(
      'https://s3.console.aws.amazon.com/s3/object/pipeline-artifacts-111111111111?region=eu-central-1&prefix=change-reviews%2Fprod%2Fexec-42%2Fchange-set.md\n',
    );

    expect(io.lines).toEqual([
      summary.trimEnd(),
      `wrote ${join(out, 'change-set.md')}`,
      `wrote ${join(out, 'change-set.json')}`,
      `wrote ${join(out, 'summary.txt')}`,
      `wrote ${join(out, 'review-url.txt')}`,
      'review URL: https://s3.console.aws.amazon.com/s3/object/pipeline-artifacts-111111111111?region=eu-central-1&prefix=change-reviews%2Fprod%2Fexec-42%2Fchange-set.md',
    ]);
    expect(io.progressLines.at(-1)).toMatch(
      /^error: stage prod: the change set would replace or remove ProcessorAccessLogsBucket5A05A37B \(removed\), ProcessorIngestQueue3759D326 \(replaced\), ReportsDatabase9A1B2C3D \(may be replaced\) without an allowance/,
    );
  });

  it('fails (exit 3) on a replaced table without an allowance, and passes (exit 0) with one, printing it', async () => {
    respondWith(tableKeySchemaChangeSet());
    const blocked = harness();
    expect(await blocked.run(['--stage', 'prod', '--out', outDir()])).toBe(EXIT_BLOCKED);
    expect(blocked.io.lines[0]).toContain(`BLOCKED: stateful ${TABLE} (replaced) not allowed`);

    const allowed = harness({ allow: [TABLE] });
    expect(await allowed.run(['--stage', 'prod', '--out', outDir()])).toBe(0);
    expect(allowed.io.lines[0]).toContain(`allowed by config: ${TABLE} (replaced)`);
    expect(allowed.io.progressLines).toContain(
      `allowance: ${TABLE} (AWS::DynamoDB::Table) may be replaced: "${REASON}"`,
    );
    expect(allowed.io.progressLines.join('\n')).not.toMatch(/warning|error/);
  });

  it('warns about an allowance that matches no replacement or removal (stale), without failing', async () => {
    respondWith(tableKeySchemaChangeSet());
    const { io, run } = harness({ allow: [TABLE, DEAD_LETTER_QUEUE] });
    expect(await run(['--stage', 'prod', '--out', outDir()])).toBe(0);
    expect(io.progressLines).toContain(
      `warning: stage prod allows replacing or removing ${DEAD_LETTER_QUEUE} ("${REASON}"), but it matches no change in this change set: remove it from changeReview.allowStatefulChanges in lib/config/app-config.ts`,
    );
    expect(io.lines[0]).toMatch(/; 1 stale allowance$/);
  });

  it('passes the empty change set (FAILED "didn\'t contain changes") and says so', async () => {
    respondWith(noChangesChangeSet());
    const { io, run } = harness();
    const out = outDir();
    expect(await run(['--stage', 'prod', '--out', out])).toBe(0);
    expect(io.lines[0]).toBe('prod: no changes (the change set is empty; nothing to deploy)');
    expect(readFileSync(join(out, 'change-set.md'), 'utf8')).toContain(
      '**Passed.** The change set is empty.',
    );
  });

  it('waits, on the injected clock, while CloudFormation is still creating the change set', async () => {
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolvesOnce(pendingChangeSet('CREATE_PENDING'))
      .resolvesOnce(pendingChangeSet('CREATE_IN_PROGRESS'))
      .resolves(alarmOnlyChangeSet());
    const { io, clock, run } = harness();
    expect(await run(['--stage', 'prod', '--json'])).toBe(0);
    expect(clock.sleeps).toEqual([5000, 5000]);
    expect(io.progressLines).toContain(
      `change set PipelineChange of stack ${STACK_NAME} is CREATE_PENDING; checking again in 5s`,
    );
    expect(JSON.parse(io.lines[0] ?? '')).toMatchObject({
      stage: 'prod',
      verdict: 'passed',
      noChanges: false,
      counts: { modified: 1, replaced: 0, removed: 0 },
      blocked: [],
      stale: [],
    });
  });

  it('gives up waiting after --wait-seconds, with one line (exit 1)', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves(pendingChangeSet('CREATE_IN_PROGRESS'));
    const { clock, run } = harness();
    const error = await run(['--stage', 'prod', '--wait-seconds', '12']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({
      exitCode: 1,
      message: `change set PipelineChange of stack ${STACK_NAME} is still CREATE_IN_PROGRESS after 12s; retry the step, or raise --wait-seconds`,
    });
    expect(clock.sleeps).toEqual([5000, 5000]);
  });

  it('names what to check when the change set does not exist, or failed for a real reason (exit 1)', async () => {
    cfnMock.on(DescribeChangeSetCommand).rejects(
      new ChangeSetNotFoundException({
        message: 'ChangeSet [PipelineChange] does not exist',
        $metadata: {},
      }),
    );
    const missing = await harness()
      .run(['--stage', 'prod'])
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({
      exitCode: 1,
      message: `change set PipelineChange of stack ${STACK_NAME} not found in eu-west-1: did the stage's Prepare action create it (--change-set-name), and is this the stage's stack and region (--stack-name, --region)?`,
    });

    cfnMock.reset();
    cfnMock.on(DescribeChangeSetCommand).resolves({
      ...noChangesChangeSet(),
      StatusReason:
        'Template format error: Unresolved resource dependencies [Missing] in the Resources block',
    });
    await expect(harness().run(['--stage', 'prod'])).rejects.toThrow(
      `change set PipelineChange of stack ${STACK_NAME} FAILED: Template format error: Unresolved resource dependencies`,
    );

    cfnMock.reset();
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolves({ ...alarmOnlyChangeSet(), ExecutionStatus: 'EXECUTE_COMPLETE' });
    await expect(harness().run(['--stage', 'prod'])).rejects.toThrow(
      /was already executed \(EXECUTE_COMPLETE\)/,
    );
  });

  it('takes the stack, change set and region from flags; --dry-run uploads nothing; no --out prints the page', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves(alarmOnlyChangeSet());
    const { io, run } = harness();
    const code = await run([
      '--stage',
      'staging',
      '--stack-name',
      'other-stack',
      '--change-set-name',
      'Review1',
      '--region',
      'us-east-2',
      '--endpoint',
      'cloudformation=http://127.0.0.1:4581',
      '--upload',
      's3://bucket-name/p',
      '--dry-run',
    ]);
    expect(code).toBe(0);
    expect(cfnMock.commandCalls(DescribeChangeSetCommand)[0]?.args[0].input).toMatchObject({
      StackName: 'other-stack',
      ChangeSetName: 'Review1',
    });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(io.lines[0]).toMatch(/^staging: 0 added, 1 modified/);
    expect(io.lines).toContain(
      'review URL: https://s3.console.aws.amazon.com/s3/object/bucket-name?region=us-east-2&prefix=p%2Fchange-set.md',
    );
    expect(io.text()).toContain('# Change set review: staging');
    // Staging does not review in the pipeline (changeReview.enabled is false): the page says so.
    expect(io.text()).toContain('changeReview.enabled is false for stage staging');
  });

  it('rejects bad usage with exit 2 before calling AWS, and prints help', async () => {
    const usage = async (argv: string[]) => {
      const error = await harness()
        .run(argv)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ToolError);
      return error as ToolError;
    };
    expect(await usage(['--stage', 'prod', '--kms-key-id', 'k'])).toMatchObject({
      exitCode: 2,
      message: '--kms-key-id encrypts the upload: give --upload s3://<bucket>/<prefix> too',
    });
    expect((await usage(['--stage', 'prod', '--upload', 'https://bucket/x'])).message).toBe(
      '--upload is "https://bucket/x"; expected s3://<bucket>/<prefix>',
    );
    expect((await usage(['--stage', 'prod', '--role-arn', 'lookup-role'])).exitCode).toBe(2);
    expect((await usage(['--stage', 'prod', '--wait-seconds', '-5'])).exitCode).toBe(2);
    expect((await usage(['--stage', 'qa'])).message).toMatch(/unknown stage "qa"/);
    expect((await usage(['--stage', 'prod', '--colour'])).exitCode).toBe(2);
    expect(cfnMock.commandCalls(DescribeChangeSetCommand)).toHaveLength(0);

    const { io, run } = harness();
    expect(await run(['--help'])).toBe(0);
    expect(io.lines[0]).toMatch(/^Usage: npm run review-change-set -- --stage <name>/);
    expect(io.lines[0]).toContain('3 blocked by the stateful-replacement guard');
  });
});
