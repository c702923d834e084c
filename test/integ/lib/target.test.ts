import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type IntegTarget,
  IntegTargetError,
  localTarget,
  resolveStageTarget,
  targetFromEnv,
  targetToEnv,
} from '../../../integ/lib/target.ts';
import { planInteg } from '../../../integ/run.ts';
import { OUTPUT_KEYS } from '../../../lib/config/names.ts';
import type { ReadyInfo } from '../../../local/environment.ts';

const cloudFormation = mockClient(CloudFormationClient);
const sts = mockClient(STSClient);
const clients = {
  cloudFormation: (region: string) => new CloudFormationClient({ region }),
  sts: (region: string) => new STSClient({ region }),
};
afterEach(() => {
  cloudFormation.reset();
  sts.reset();
});

const ROLE = 'arn:aws:iam::222222222222:role/dev-IntegTestRole';
const credentials = {
  Credentials: {
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    SessionToken: 'token',
    Expiration: new Date(Date.now() + 3_600_000),
  },
};
const ready: ReadyInfo = {
  ready: true,
  s3Endpoint: 'http://127.0.0.1:4568',
  dynamodbEndpoint: 'http://127.0.0.1:4567',
  apiEndpoint: 'http://127.0.0.1:4569',
  bucket: 'b-local',
  table: 't-local',
  ingestQueueUrl: 'http://127.0.0.1:4569/000000000000/q',
  deadLetterQueueUrl: 'http://127.0.0.1:4569/000000000000/dlq',
  functionName: 'f',
  region: 'eu-west-1',
  stage: 'dev',
  maxObjectBytes: 1234,
  keyPrefix: '',
  keySuffix: '',
};

describe('target hand-over between the runner and the test process', () => {
  it('round-trips a stage target and a local target through the environment', () => {
    const stage: IntegTarget = {
      kind: 'stage',
      description: 'stage dev',
      stage: 'dev',
      bucket: 'bucket',
      table: 'table',
      region: 'eu-west-1',
      roleArn: ROLE,
      maxObjectBytes: 52428800,
      keyPrefix: 'uploads/',
      keySuffix: '.png',
      pollTimeoutMs: 180_000,
    };
    expect(targetFromEnv(targetToEnv(stage))).toEqual(stage);
    expect(targetFromEnv(targetToEnv(localTarget(ready)))).toEqual(localTarget(ready));
  });

  it('means "start a local environment" when no target was exported, and names a missing variable', () => {
    expect(targetFromEnv({})).toBeUndefined();
    const env = targetToEnv(localTarget(ready));
    delete env.INTEG_S3_ENDPOINT;
    expect(() => targetFromEnv(env)).toThrow('INTEG_S3_ENDPOINT is not set');
  });
});

describe('resolveStageTarget', () => {
  it('uses the variables the pipeline sets and proves the role can be assumed, without reading CloudFormation', async () => {
    sts.on(AssumeRoleCommand).resolves(credentials);
    const env = {
      INTEG_BUCKET_NAME: 'b',
      INTEG_TABLE_NAME: 't',
      INTEG_ROLE_ARN: ROLE,
      INTEG_REGION: 'eu-central-1',
    };

    const target = await resolveStageTarget('staging', env, clients);

    expect(target).toMatchObject({
      kind: 'stage',
      stage: 'staging',
      bucket: 'b',
      table: 't',
      region: 'eu-central-1',
    });
    expect(target.maxObjectBytes).toBe(50 * 1024 * 1024);
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({ RoleArn: ROLE });
  });

  it("reads bucket, table and role from the stage stack's outputs otherwise", async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 's3-object-processor-dev-processor' }).resolves({
      Stacks: [
        {
          StackName: 's3-object-processor-dev-processor',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: OUTPUT_KEYS.bucketName, OutputValue: 'dev-bucket' },
            { OutputKey: OUTPUT_KEYS.tableName, OutputValue: 'dev-table' },
            { OutputKey: OUTPUT_KEYS.integTestRoleArn, OutputValue: ROLE },
          ],
        },
      ],
    });
    sts.on(AssumeRoleCommand).resolves(credentials);

    const target = await resolveStageTarget('dev', {}, clients);

    expect(target).toMatchObject({
      bucket: 'dev-bucket',
      table: 'dev-table',
      roleArn: ROLE,
      region: 'eu-west-1',
    });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('says so when there are no credentials', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );

    await expect(resolveStageTarget('dev', {}, clients)).rejects.toThrow(
      /^no AWS credentials for reading the outputs of stack s3-object-processor-dev-processor in eu-west-1: set AWS_PROFILE/,
    );
  });

  it('says so when the stack does not exist for these credentials', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id x does not exist'), { name: 'ValidationError' }));

    await expect(resolveStageTarget('dev', {}, clients)).rejects.toThrow(
      /stack s3-object-processor-dev-processor does not exist in eu-west-1 for these credentials/,
    );
  });

  it('says so when the role refuses the caller', async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    const env = { INTEG_BUCKET_NAME: 'b', INTEG_TABLE_NAME: 't', INTEG_ROLE_ARN: ROLE };

    await expect(resolveStageTarget('dev', env, clients)).rejects.toThrow(
      `these credentials may not assume ${ROLE}; it trusts only the stage's integTestTrustedAccount`,
    );
  });

  it('lists the known stages for an unknown one', async () => {
    await expect(resolveStageTarget('qa', {}, clients)).rejects.toThrow(
      /unknown stage "qa"; known stages: dev/,
    );
  });
});

describe('planInteg', () => {
  const deps = (running: ReadyInfo | undefined, alive: boolean) => ({
    readReadyFiles: async () => (running ? [running] : []),
    isAlive: async () => alive,
    stageClients: clients,
  });

  it('attaches to a running local environment', async () => {
    const plan = await planInteg(['--target', 'local'], {}, deps(ready, true));
    expect(plan).toMatchObject({
      args: ['run', '--project', 'integ'],
      env: { INTEG_TARGET: 'local', INTEG_S3_ENDPOINT: ready.s3Endpoint, INTEG_BUCKET_NAME: ready.bucket },
    });
  });

  it('attaches to the newest environment still running: a second one stopping leaves the first attachable', async () => {
    const newer = { ...ready, s3Endpoint: 'http://127.0.0.1:5001', bucket: 'newer' };
    const older = { ...ready, s3Endpoint: 'http://127.0.0.1:5002', bucket: 'older' };
    const alive = new Set([newer.s3Endpoint, older.s3Endpoint]);
    const plan = () =>
      planInteg(
        ['--target', 'local'],
        {},
        {
          readReadyFiles: async () => [newer, older],
          isAlive: async (info: ReadyInfo) => alive.has(info.s3Endpoint),
          stageClients: clients,
        },
      );
    expect(await plan()).toMatchObject({
      env: { INTEG_BUCKET_NAME: 'newer' },
      announcement: expect.stringContaining('(attached; 1 older one(s) also published)'),
    });
    alive.delete(newer.s3Endpoint);
    expect(await plan()).toMatchObject({ env: { INTEG_BUCKET_NAME: 'older' } });
  });

  it('leaves the suite to start its own local environment when the published one is gone', async () => {
    const plan = await planInteg(['--target', 'local', '--smoke'], {}, deps(ready, false));
    expect(plan).toMatchObject({
      env: {},
      args: ['run', '--project', 'integ', '--testNamePattern', '\\[smoke\\]'],
    });
  });

  it('exports the resolved stage for --stage', async () => {
    sts.on(AssumeRoleCommand).resolves(credentials);
    const env = { INTEG_BUCKET_NAME: 'b', INTEG_TABLE_NAME: 't', INTEG_ROLE_ARN: ROLE };
    const plan = await planInteg(['--stage', 'prod', '--smoke'], env, deps(undefined, false));
    expect(plan).toMatchObject({ env: { INTEG_TARGET: 'stage', INTEG_STAGE: 'prod', INTEG_ROLE_ARN: ROLE } });
  });

  it.each([
    [[], 'say what to test: --target local or --stage <name>'],
    [['--target', 'local', '--stage', 'dev'], 'give either --target local or --stage <name>, not both'],
    [['--target', 'aws'], '--target is "aws"'],
    [['--stag', 'dev'], "Unknown option '--stag'"],
  ])('rejects %j', async (argv, message) => {
    const attempt = planInteg(argv, {}, deps(undefined, false));
    await expect(attempt).rejects.toThrow(IntegTargetError);
    await expect(planInteg(argv, {}, deps(undefined, false))).rejects.toThrow(message);
  });
});
