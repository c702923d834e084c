import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_REGION,
  FAKE_ACCOUNTS,
  loadAppConfig,
  STAGE_NAMES,
  stageByName,
  validatePipeline,
  validateStage,
} from '../../lib/config/app-config.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';

const REASON = 'KeySchema moves to pk/sk; the backfill tool refills the new table from the bucket';
const allowing = (
  s: StageConfig,
  allowStatefulChanges: StageConfig['changeReview']['allowStatefulChanges'],
) => ({
  ...s,
  changeReview: { enabled: true, allowStatefulChanges },
});

/** Loads the configuration with one stage changed; returns the ConfigError's problems (fails if none is thrown). */
function problemsWith(stageName: string, change: (s: StageConfig) => StageConfig): readonly string[] {
  try {
    loadAppConfig({}, (s) => (s.stageName === stageName ? change(s) : s));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`loadAppConfig accepted the change to stage ${stageName}`);
}

describe('loadAppConfig defaults', () => {
  const config = loadAppConfig();

  it('has dev, staging and prod in promotion order, on clearly fake accounts, with no input at all', () => {
    expect(config.stages.map((s) => s.stageName)).toEqual(['dev', 'staging', 'prod']);
    expect(config.stages.map((s) => s.account)).toEqual([
      FAKE_ACCOUNTS.dev,
      FAKE_ACCOUNTS.staging,
      FAKE_ACCOUNTS.prod,
    ]);
    expect(new Set(config.stages.map((s) => s.region))).toEqual(new Set([DEFAULT_REGION]));
    expect(config.pipeline.account).toBe(FAKE_ACCOUNTS.tooling);
    expect(config.project).toBe('s3-object-processor');
  });

  it('passes its own validation for every stage and the pipeline', () => {
    for (const stage of config.stages) expect(validateStage(stage)).toEqual([]);
    expect(validatePipeline(config.pipeline)).toEqual([]);
  });

  it('protects production: retained data, deletion protection, AWS Backup, canary deployments', () => {
    const prod = stageByName(config, 'prod');
    expect(prod.isProduction).toBe(true);
    expect(prod.dataProtection).toMatchObject({ retainData: true, deletionProtection: true });
    expect(prod.backup.awsBackup).toBe(true);
    expect(prod.deployment.canary).toBe(true);
  });

  it('cost-optimises non-production: destroyable, on-demand, less memory and shorter retention than prod', () => {
    const prod = stageByName(config, 'prod');
    for (const name of ['dev', 'staging']) {
      const stage = stageByName(config, name);
      expect(stage.isProduction).toBe(false);
      expect(stage.dataProtection.retainData).toBe(false);
      expect(stage.table.mode).toBe('on-demand');
      expect(stage.processor.memoryMiB).toBeLessThanOrEqual(prod.processor.memoryMiB);
      expect(stage.logRetentionDays).toBeLessThan(prod.logRetentionDays);
      expect(stage.dataProtection.noncurrentVersionExpirationDays).toBeLessThan(
        prod.dataProtection.noncurrentVersionExpirationDays,
      );
      expect(stage.budget.monthlyUsd).toBeLessThan(prod.budget.monthlyUsd);
    }
    expect(stageByName(config, 'dev').processor.memoryMiB).toBeLessThan(prod.processor.memoryMiB);
  });

  it('reviews the change set before the prod approval, not in dev or staging, and allows no stateful change', () => {
    expect(config.stages.map((s) => [s.stageName, s.changeReview.enabled])).toEqual([
      ['dev', false],
      ['staging', false],
      ['prod', true],
    ]);
    for (const stage of config.stages) expect(stage.changeReview.allowStatefulChanges).toEqual([]);
  });

  it('accepts a well-formed allowance on a stage whose review is on', () => {
    const allowed = loadAppConfig({}, (s) =>
      s.stageName === 'prod'
        ? allowing(s, [{ logicalId: 'ProcessorObjectsTableD8F1E774', reason: REASON }])
        : s,
    );
    expect(stageByName(allowed, 'prod').changeReview.allowStatefulChanges).toHaveLength(1);
  });

  it('trusts the tooling account for integration tests by default', () => {
    for (const stage of config.stages) expect(stage.integTestTrustedAccount).toBe(config.pipeline.account);
  });
});

describe('loadAppConfig overrides (what bin/ passes from cdk.json context or the environment)', () => {
  it('applies account, region, alarm e-mail and trusted account per stage, and the pipeline region to stages', () => {
    const config = loadAppConfig({
      project: 'acme-objects',
      pipeline: { account: '999999999999', region: 'eu-central-1' },
      stages: {
        prod: {
          account: '123456789012',
          region: 'us-east-1',
          alarmEmail: 'oncall@example.com',
          integTestTrustedAccount: '210987654321',
        },
      },
    });
    const prod = stageByName(config, 'prod');
    expect(prod).toMatchObject({ account: '123456789012', region: 'us-east-1' });
    expect(prod.alarms.email).toBe('oncall@example.com');
    expect(prod.integTestTrustedAccount).toBe('210987654321');
    const dev = stageByName(config, 'dev');
    expect(dev.region).toBe('eu-central-1');
    expect(dev.integTestTrustedAccount).toBe('999999999999');
    expect(dev.alarms.email).toBeUndefined();
    expect(config.project).toBe('acme-objects');
  });

  it('ignores undefined pipeline overrides instead of erasing defaults', () => {
    const config = loadAppConfig({ pipeline: { account: undefined, branch: undefined } });
    expect(config.pipeline.account).toBe(FAKE_ACCOUNTS.tooling);
    expect(config.pipeline.branch).toBe('main');
  });
});

describe('invalid configuration fails with the stage and the field named', () => {
  const cases: Array<{
    what: string;
    stage: string;
    change: (s: StageConfig) => StageConfig;
    expected: RegExp;
  }> = [
    {
      what: 'a malformed account id',
      stage: 'staging',
      change: (s) => ({ ...s, account: '12345' }),
      expected: /^stage "staging": account is "12345"; must be a 12-digit AWS account id$/,
    },
    {
      what: 'an account id with letters',
      stage: 'dev',
      change: (s) => ({ ...s, account: '12345678901a' }),
      expected: /^stage "dev": account .*12-digit/,
    },
    {
      what: 'an unknown region',
      stage: 'prod',
      change: (s) => ({ ...s, region: 'eu-middle-9' }),
      expected: /^stage "prod": region is "eu-middle-9"; not a known AWS region$/,
    },
    {
      what: 'a malformed trusted account',
      stage: 'dev',
      change: (s) => ({ ...s, integTestTrustedAccount: 'tooling' }),
      expected: /^stage "dev": integTestTrustedAccount is "tooling"/,
    },
    {
      what: 'a timeout above the visibility budget',
      stage: 'dev',
      change: (s) => ({ ...s, processor: { ...s.processor, timeoutSeconds: 31 } }),
      expected:
        /^stage "dev": processor\.timeoutSeconds \(31s\) is above the queue's visibility budget: .*187s$/,
    },
    {
      what: 'a visibility timeout above the SQS maximum',
      stage: 'dev',
      change: (s) => ({ ...s, ingestQueue: { ...s.ingestQueue, visibilityTimeoutSeconds: 43201 } }),
      expected: /^stage "dev": ingestQueue\.visibilityTimeoutSeconds is 43201; SQS allows at most 43200$/,
    },
    {
      what: 'memory below Lambda’s range',
      stage: 'staging',
      change: (s) => ({ ...s, processor: { ...s.processor, memoryMiB: 64 } }),
      expected: /^stage "staging": processor\.memoryMiB is 64; must be an integer in 128\.\.10240$/,
    },
    {
      what: 'memory above Lambda’s range',
      stage: 'prod',
      change: (s) => ({ ...s, processor: { ...s.processor, memoryMiB: 10241 } }),
      expected: /^stage "prod": processor\.memoryMiB is 10241; must be an integer in 128\.\.10240$/,
    },
    {
      what: 'an empty content-type list',
      stage: 'dev',
      change: (s) => ({ ...s, objects: { ...s.objects, allowedContentTypes: [] } }),
      expected: /^stage "dev": objects\.allowedContentTypes is empty; list at least one MIME type$/,
    },
    {
      what: 'a content type that is not a MIME type',
      stage: 'dev',
      change: (s) => ({ ...s, objects: { ...s.objects, allowedContentTypes: ['PNG'] } }),
      expected: /^stage "dev": objects\.allowedContentTypes has "PNG"/,
    },
    {
      what: 'a non-positive maximum object size',
      stage: 'dev',
      change: (s) => ({ ...s, objects: { ...s.objects, maxObjectBytes: 0 } }),
      expected: /^stage "dev": objects\.maxObjectBytes is 0; must be a positive integer$/,
    },
    {
      what: 'event-source concurrency above the reserved concurrency',
      stage: 'dev',
      change: (s) => ({ ...s, processor: { ...s.processor, maxEventSourceConcurrency: 6 } }),
      expected:
        /^stage "dev": processor\.maxEventSourceConcurrency \(6\) exceeds processor\.reservedConcurrency \(5\)/,
    },
    {
      what: 'a log retention CloudWatch does not accept',
      stage: 'staging',
      change: (s) => ({ ...s, logRetentionDays: 10 }),
      expected: /^stage "staging": logRetentionDays is 10; CloudWatch accepts 1, 3, 5/,
    },
    {
      what: 'a production stage that would destroy its data',
      stage: 'prod',
      change: (s) => ({ ...s, dataProtection: { ...s.dataProtection, retainData: false } }),
      expected: /^stage "prod": dataProtection\.retainData must be true in a production stage$/,
    },
    {
      what: 'a production stage without deletion protection',
      stage: 'prod',
      change: (s) => ({ ...s, dataProtection: { ...s.dataProtection, deletionProtection: false } }),
      expected: /^stage "prod": dataProtection\.deletionProtection must be true in a production stage$/,
    },
    {
      what: 'a batch above 10 without a batching window',
      stage: 'dev',
      change: (s) => ({
        ...s,
        ingestQueue: { ...s.ingestQueue, batchSize: 20, maxBatchingWindowSeconds: 0 },
      }),
      expected:
        /^stage "dev": ingestQueue\.maxBatchingWindowSeconds must be at least 1 when ingestQueue\.batchSize is above 10$/,
    },
    {
      what: 'provisioned capacity with max below min',
      stage: 'dev',
      change: (s) => ({
        ...s,
        table: {
          mode: 'provisioned',
          read: { min: 5, max: 2, targetUtilizationPercent: 70 },
          write: { min: 1, max: 10, targetUtilizationPercent: 70 },
        },
      }),
      expected: /^stage "dev": table\.read\.max \(2\) is below table\.read\.min \(5\)$/,
    },
    {
      what: 'a malformed alarm e-mail',
      stage: 'prod',
      change: (s) => ({ ...s, alarms: { ...s.alarms, email: 'oncall' } }),
      expected: /^stage "prod": alarms\.email is "oncall"; not an e-mail address$/,
    },
    {
      what: 'a duration alarm above 100% of the timeout',
      stage: 'dev',
      change: (s) => ({ ...s, alarms: { ...s.alarms, durationP99PercentOfTimeout: 120 } }),
      expected: /^stage "dev": alarms\.durationP99PercentOfTimeout is 120/,
    },
    {
      what: 'a backup copy into the stage’s own region',
      stage: 'prod',
      change: (s) => ({ ...s, backup: { ...s.backup, copyToRegion: s.region } }),
      expected: /^stage "prod": backup\.copyToRegion must differ from the stage region$/,
    },
    {
      what: 'a backup copy into an unknown region',
      stage: 'prod',
      change: (s) => ({ ...s, backup: { ...s.backup, copyToRegion: 'mars-north-1' } }),
      expected: /^stage "prod": backup\.copyToRegion is "mars-north-1"; not a known AWS region$/,
    },
    {
      what: 'a backup copy without the backup plan that makes the copies',
      stage: 'dev',
      change: (s) => ({ ...s, backup: { ...s.backup, awsBackup: false, copyToRegion: 'eu-central-1' } }),
      expected:
        /^stage "dev": backup\.copyToRegion copies AWS Backup recovery points; set backup\.awsBackup too$/,
    },
    {
      what: 'a non-positive budget',
      stage: 'dev',
      change: (s) => ({ ...s, budget: { ...s.budget, monthlyUsd: 0 } }),
      expected: /^stage "dev": budget\.monthlyUsd is 0; must be positive$/,
    },
    {
      what: 'a canary step longer than an hour',
      stage: 'prod',
      change: (s) => ({ ...s, deployment: { ...s.deployment, canaryMinutes: 61 } }),
      expected: /^stage "prod": deployment\.canaryMinutes is 61/,
    },
    {
      what: 'a production stage without the change-set review',
      stage: 'prod',
      change: (s) => ({ ...s, changeReview: { ...s.changeReview, enabled: false } }),
      expected: /^stage "prod": changeReview\.enabled must be true in a production stage$/,
    },
    {
      what: 'a stateful-change allowance on a stage whose review is off (nothing would check it)',
      stage: 'dev',
      change: (s) => ({
        ...s,
        changeReview: { enabled: false, allowStatefulChanges: [{ logicalId: 'Table1', reason: REASON }] },
      }),
      expected:
        /^stage "dev": changeReview\.allowStatefulChanges lists resources but changeReview\.enabled is false/,
    },
    {
      what: 'an allowance naming a path instead of a logical ID',
      stage: 'prod',
      change: (s) => allowing(s, [{ logicalId: 'Processor/ObjectsTable', reason: REASON }]),
      expected:
        /^stage "prod": changeReview\.allowStatefulChanges\[0\]\.logicalId is "Processor\/ObjectsTable"; must be a CloudFormation logical ID/,
    },
    {
      what: 'the same resource allowed twice',
      stage: 'prod',
      change: (s) =>
        allowing(s, [
          { logicalId: 'Table1', reason: REASON },
          { logicalId: 'Table1', reason: REASON },
        ]),
      expected: /^stage "prod": changeReview\.allowStatefulChanges\[1\]\.logicalId "Table1" is listed twice$/,
    },
    {
      what: 'an allowance without a reason a reviewer can judge',
      stage: 'prod',
      change: (s) => allowing(s, [{ logicalId: 'Table1', reason: 'migration' }]),
      expected: /^stage "prod": changeReview\.allowStatefulChanges\[0\]\.reason is "migration"; say why/,
    },
  ];

  it.each(cases)('$what', ({ stage, change, expected }) => {
    const problems = problemsWith(stage, change);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('reports every problem of every stage at once, in the error message too', () => {
    let caught: unknown;
    try {
      loadAppConfig({}, (s) =>
        s.stageName === 'prod' ? s : { ...s, account: 'nope', processor: { ...s.processor, memoryMiB: 1 } },
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const { problems, message } = caught as ConfigError;
    expect(problems).toEqual([
      'stage "dev": account is "nope"; must be a 12-digit AWS account id',
      'stage "dev": processor.memoryMiB is 1; must be an integer in 128..10240',
      'stage "staging": account is "nope"; must be a 12-digit AWS account id',
      'stage "staging": processor.memoryMiB is 1; must be an integer in 128..10240',
    ]);
    for (const problem of problems) expect(message).toContain(problem);
  });

  it('rejects overrides from bin/ the same way (malformed account from context, unknown region)', () => {
    expect(() => loadAppConfig({ stages: { dev: { account: '1234' } } })).toThrow(
      /stage "dev": account is "1234"/,
    );
    expect(() => loadAppConfig({ pipeline: { region: 'nowhere-1' } })).toThrow(
      /pipeline: region is "nowhere-1"; not a known AWS region/,
    );
    expect(() => loadAppConfig({ stages: { prod: { alarmEmail: 'x@' } } })).toThrow(
      /stage "prod": alarms\.email is "x@"/,
    );
  });

  it('validates the pipeline fields by name', () => {
    const problems = validatePipeline({
      ...loadAppConfig().pipeline,
      repository: 'no-slash',
      branch: ' ',
      connectionArn: 'arn:aws:iam::111111111111:role/x',
      prodBakeMinutes: -1,
    });
    expect(problems.map((p) => p.split(' ')[1])).toEqual([
      'repository',
      'branch',
      'connectionArn',
      'prodBakeMinutes',
    ]);
  });
});

describe('stageByName', () => {
  const config = loadAppConfig();

  it('finds each configured stage', () => {
    for (const name of STAGE_NAMES) expect(stageByName(config, name).stageName).toBe(name);
  });

  it('names the known stages when asked for an unknown one', () => {
    expect(() => stageByName(config, 'qa')).toThrow(/unknown stage "qa"; known stages: dev, staging, prod/);
  });
});
