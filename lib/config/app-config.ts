import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { AppConfig, PipelineConfig, StageConfig } from './stage-config.ts';

/**
 * Clearly fake, documented defaults so that `cdk synth` works with no AWS credentials and no context at all.
 * Real values come from cdk.json context or environment variables, resolved in bin/ (see README "Configure").
 */
export const FAKE_ACCOUNTS = {
  tooling: '111111111111',
  dev: '222222222222',
  staging: '333333333333',
  prod: '444444444444',
} as const;
export const DEFAULT_REGION = 'eu-west-1';
export const FAKE_CONNECTION_ARN =
  'arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000';

export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type KnownStage = (typeof STAGE_NAMES)[number];

/** What bin/ may override from context or environment. Everything else is code, reviewed like code. */
export interface StageOverrides {
  readonly account?: string;
  readonly region?: string;
  readonly alarmEmail?: string;
  readonly integTestTrustedAccount?: string;
}

export interface AppConfigInput {
  readonly project?: string;
  readonly pipeline?: Partial<PipelineConfig>;
  readonly stages?: Partial<Record<KnownStage, StageOverrides>>;
}

const ALLOWED_CONTENT_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'application/json',
] as const;

/** The reviewed per-stage settings. Non-production stages are cost-optimised; production is protected. */
function baseStages(toolingAccount: string): Record<KnownStage, StageConfig> {
  const shared = {
    region: DEFAULT_REGION,
    integTestTrustedAccount: toolingAccount,
    objects: { allowedContentTypes: ALLOWED_CONTENT_TYPES, maxObjectBytes: 50 * 1024 * 1024 },
    network: { vpc: false, maxAzs: 2 },
  } as const;
  return {
    dev: {
      ...shared,
      stageName: 'dev',
      account: FAKE_ACCOUNTS.dev,
      isProduction: false,
      processor: {
        memoryMiB: 256,
        timeoutSeconds: 30,
        reservedConcurrency: 5,
        maxEventSourceConcurrency: 2,
        recordConcurrency: 10,
        logLevel: 'DEBUG',
      },
      ingestQueue: {
        batchSize: 10,
        maxBatchingWindowSeconds: 1,
        visibilityTimeoutSeconds: 181,
        maxReceiveCount: 3,
      },
      table: { mode: 'on-demand' },
      dataProtection: {
        retainData: false,
        deletionProtection: false,
        noncurrentVersionExpirationDays: 7,
        abortIncompleteMultipartUploadDays: 1,
        accessLogRetentionDays: 30,
      },
      backup: { awsBackup: false, backupRetentionDays: 7 },
      logRetentionDays: 7,
      alarms: {
        functionErrors: 5,
        functionThrottles: 10,
        durationP99PercentOfTimeout: 80,
        oldestMessageAgeSeconds: 900,
        deadLetterMessages: 1,
      },
      budget: { monthlyUsd: 20 },
      deployment: { canary: false, canaryMinutes: 5, bakeMinutes: 0, rollbackOnFailure: false },
      changeReview: { enabled: false, allowStatefulChanges: [] },
    },
    staging: {
      ...shared,
      stageName: 'staging',
      account: FAKE_ACCOUNTS.staging,
      isProduction: false,
      processor: {
        memoryMiB: 512,
        timeoutSeconds: 30,
        reservedConcurrency: 10,
        maxEventSourceConcurrency: 5,
        recordConcurrency: 10,
        logLevel: 'INFO',
      },
      ingestQueue: {
        batchSize: 10,
        maxBatchingWindowSeconds: 1,
        visibilityTimeoutSeconds: 181,
        maxReceiveCount: 5,
      },
      table: { mode: 'on-demand' },
      dataProtection: {
        retainData: false,
        deletionProtection: false,
        noncurrentVersionExpirationDays: 14,
        abortIncompleteMultipartUploadDays: 1,
        accessLogRetentionDays: 90,
      },
      backup: { awsBackup: false, backupRetentionDays: 7 },
      logRetentionDays: 30,
      alarms: {
        functionErrors: 1,
        functionThrottles: 5,
        durationP99PercentOfTimeout: 80,
        oldestMessageAgeSeconds: 600,
        deadLetterMessages: 1,
      },
      budget: { monthlyUsd: 50 },
      // Staging's bake time is the pipeline setting prodBakeMinutes (loadAppConfig).
      deployment: { canary: false, canaryMinutes: 5, bakeMinutes: 0, rollbackOnFailure: true },
      // Staging's data is disposable; turn this on to rehearse prod's review (and its allowances) one stage early.
      changeReview: { enabled: false, allowStatefulChanges: [] },
    },
    prod: {
      ...shared,
      stageName: 'prod',
      account: FAKE_ACCOUNTS.prod,
      isProduction: true,
      processor: {
        memoryMiB: 512,
        timeoutSeconds: 60,
        reservedConcurrency: 50,
        maxEventSourceConcurrency: 40,
        recordConcurrency: 10,
        logLevel: 'INFO',
      },
      ingestQueue: {
        batchSize: 10,
        maxBatchingWindowSeconds: 2,
        visibilityTimeoutSeconds: 362,
        maxReceiveCount: 5,
      },
      table: { mode: 'on-demand' },
      dataProtection: {
        retainData: true,
        deletionProtection: true,
        noncurrentVersionExpirationDays: 90,
        abortIncompleteMultipartUploadDays: 3,
        accessLogRetentionDays: 365,
      },
      backup: { awsBackup: true, backupRetentionDays: 35 },
      logRetentionDays: 90,
      alarms: {
        functionErrors: 1,
        functionThrottles: 1,
        durationP99PercentOfTimeout: 80,
        oldestMessageAgeSeconds: 300,
        deadLetterMessages: 1,
      },
      budget: { monthlyUsd: 200 },
      deployment: { canary: true, canaryMinutes: 5, bakeMinutes: 15, rollbackOnFailure: true },
      changeReview: { enabled: true, allowStatefulChanges: [] },
    },
  };
}

/** Raised when configuration is invalid; lists every problem, each naming the stage and the field. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const KNOWN_REGIONS: ReadonlySet<string> = new Set(RegionInfo.regions.map((r) => r.name));
const ACCOUNT_RE = /^\d{12}$/;
const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const MIME_RE = /^[a-z]+\/[a-z0-9][a-z0-9.+-]*$/;
/** CloudFormation logical IDs: alphanumeric, at most 255 characters. */
const LOGICAL_ID_RE = /^[A-Za-z0-9]{1,255}$/;
/** A reason a reviewer can judge is a sentence, not "ok" or "migration". */
const MIN_REASON_LENGTH = 20;
/** Values CloudWatch Logs accepts as retention. */
export const LOG_RETENTION_DAYS: ReadonlySet<number> = new Set([
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
]);

/** Checks one stage; returns problems as `stage "<name>": <field> <what is wrong>`. */
export function validateStage(s: StageConfig): string[] {
  const problems: string[] = [];
  const bad = (field: string, msg: string) => problems.push(`stage "${s.stageName}": ${field} ${msg}`);
  const range = (field: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max)
      bad(field, `is ${v}; must be an integer in ${min}..${max}`);
  };

  if (!/^[a-z][a-z0-9-]{1,20}$/.test(s.stageName))
    bad('stageName', `must be lowercase letters, digits and '-'`);
  if (!ACCOUNT_RE.test(s.account)) bad('account', `is "${s.account}"; must be a 12-digit AWS account id`);
  if (!KNOWN_REGIONS.has(s.region)) bad('region', `is "${s.region}"; not a known AWS region`);
  if (!ACCOUNT_RE.test(s.integTestTrustedAccount)) {
    bad('integTestTrustedAccount', `is "${s.integTestTrustedAccount}"; must be a 12-digit AWS account id`);
  }

  const p = s.processor;
  range('processor.memoryMiB', p.memoryMiB, 128, 10240);
  range('processor.timeoutSeconds', p.timeoutSeconds, 1, 900);
  range('processor.reservedConcurrency', p.reservedConcurrency, 1, 10000);
  range('processor.maxEventSourceConcurrency', p.maxEventSourceConcurrency, 2, 1000);
  range('processor.recordConcurrency', p.recordConcurrency, 1, 1000);
  if (p.maxEventSourceConcurrency > p.reservedConcurrency) {
    bad(
      'processor.maxEventSourceConcurrency',
      `(${p.maxEventSourceConcurrency}) exceeds processor.reservedConcurrency (${p.reservedConcurrency}); the event source would be throttled`,
    );
  }

  const q = s.ingestQueue;
  range('ingestQueue.batchSize', q.batchSize, 1, 10000);
  range('ingestQueue.maxBatchingWindowSeconds', q.maxBatchingWindowSeconds, 0, 300);
  range('ingestQueue.maxReceiveCount', q.maxReceiveCount, 1, 1000);
  if (q.batchSize > 10 && q.maxBatchingWindowSeconds < 1) {
    bad('ingestQueue.maxBatchingWindowSeconds', 'must be at least 1 when ingestQueue.batchSize is above 10');
  }
  const visibilityBudget = 6 * p.timeoutSeconds + q.maxBatchingWindowSeconds;
  if (q.visibilityTimeoutSeconds > 43200) {
    bad('ingestQueue.visibilityTimeoutSeconds', `is ${q.visibilityTimeoutSeconds}; SQS allows at most 43200`);
  } else if (q.visibilityTimeoutSeconds < visibilityBudget) {
    bad(
      'processor.timeoutSeconds',
      `(${p.timeoutSeconds}s) is above the queue's visibility budget: ingestQueue.visibilityTimeoutSeconds (${q.visibilityTimeoutSeconds}s) must be at least 6 x timeout + batching window = ${visibilityBudget}s`,
    );
  }

  const o = s.objects;
  if (o.allowedContentTypes.length === 0)
    bad('objects.allowedContentTypes', 'is empty; list at least one MIME type');
  for (const t of o.allowedContentTypes) {
    if (!MIME_RE.test(t))
      bad('objects.allowedContentTypes', `has "${t}"; not a lowercase MIME type like image/png`);
  }
  if (!Number.isSafeInteger(o.maxObjectBytes) || o.maxObjectBytes < 1) {
    bad('objects.maxObjectBytes', `is ${o.maxObjectBytes}; must be a positive integer`);
  }

  if (s.table.mode === 'provisioned') {
    for (const [name, c] of [
      ['read', s.table.read],
      ['write', s.table.write],
    ] as const) {
      range(`table.${name}.min`, c.min, 1, 40000);
      range(`table.${name}.max`, c.max, 1, 40000);
      range(`table.${name}.targetUtilizationPercent`, c.targetUtilizationPercent, 20, 90);
      if (c.max < c.min) bad(`table.${name}.max`, `(${c.max}) is below table.${name}.min (${c.min})`);
    }
  }

  const d = s.dataProtection;
  range('dataProtection.noncurrentVersionExpirationDays', d.noncurrentVersionExpirationDays, 1, 3650);
  range('dataProtection.abortIncompleteMultipartUploadDays', d.abortIncompleteMultipartUploadDays, 1, 365);
  range('dataProtection.accessLogRetentionDays', d.accessLogRetentionDays, 1, 3650);
  if (s.isProduction && !d.retainData) bad('dataProtection.retainData', 'must be true in a production stage');
  if (s.isProduction && !d.deletionProtection) {
    bad('dataProtection.deletionProtection', 'must be true in a production stage');
  }

  range('backup.backupRetentionDays', s.backup.backupRetentionDays, 1, 36500);
  if (s.backup.copyToRegion !== undefined && !KNOWN_REGIONS.has(s.backup.copyToRegion)) {
    bad('backup.copyToRegion', `is "${s.backup.copyToRegion}"; not a known AWS region`);
  }
  if (s.backup.copyToRegion === s.region) bad('backup.copyToRegion', 'must differ from the stage region');
  if (s.backup.copyToRegion !== undefined && !s.backup.awsBackup) {
    bad('backup.copyToRegion', 'copies AWS Backup recovery points; set backup.awsBackup too');
  }

  if (!LOG_RETENTION_DAYS.has(s.logRetentionDays)) {
    bad(
      'logRetentionDays',
      `is ${s.logRetentionDays}; CloudWatch accepts ${[...LOG_RETENTION_DAYS].join(', ')}`,
    );
  }

  const a = s.alarms;
  if (a.email !== undefined && !EMAIL_RE.test(a.email))
    bad('alarms.email', `is "${a.email}"; not an e-mail address`);
  range('alarms.functionErrors', a.functionErrors, 1, 1_000_000);
  range('alarms.functionThrottles', a.functionThrottles, 1, 1_000_000);
  range('alarms.durationP99PercentOfTimeout', a.durationP99PercentOfTimeout, 1, 100);
  range('alarms.oldestMessageAgeSeconds', a.oldestMessageAgeSeconds, 60, 1_209_600);
  range('alarms.deadLetterMessages', a.deadLetterMessages, 1, 1_000_000);

  if (!(s.budget.monthlyUsd > 0)) bad('budget.monthlyUsd', `is ${s.budget.monthlyUsd}; must be positive`);
  if (s.budget.email !== undefined && !EMAIL_RE.test(s.budget.email)) {
    bad('budget.email', `is "${s.budget.email}"; not an e-mail address`);
  }
  range('network.maxAzs', s.network.maxAzs, 1, 6);
  range('deployment.canaryMinutes', s.deployment.canaryMinutes, 1, 60);
  range('deployment.bakeMinutes', s.deployment.bakeMinutes, 0, 1440);
  if (s.isProduction && !s.deployment.rollbackOnFailure) {
    bad('deployment.rollbackOnFailure', 'must be true in a production stage');
  }

  const review = s.changeReview;
  if (s.isProduction && !review.enabled) bad('changeReview.enabled', 'must be true in a production stage');
  if (!review.enabled && review.allowStatefulChanges.length > 0) {
    bad(
      'changeReview.allowStatefulChanges',
      'lists resources but changeReview.enabled is false: nothing would check them; enable the review or remove them',
    );
  }
  const seen = new Set<string>();
  for (const [i, allowance] of review.allowStatefulChanges.entries()) {
    const field = `changeReview.allowStatefulChanges[${i}]`;
    if (!LOGICAL_ID_RE.test(allowance.logicalId)) {
      bad(
        `${field}.logicalId`,
        `is "${allowance.logicalId}"; must be a CloudFormation logical ID (letters and digits)`,
      );
    } else if (seen.has(allowance.logicalId)) {
      bad(`${field}.logicalId`, `"${allowance.logicalId}" is listed twice`);
    }
    seen.add(allowance.logicalId);
    if (allowance.reason.trim().length < MIN_REASON_LENGTH) {
      bad(
        `${field}.reason`,
        `is "${allowance.reason}"; say why the data may go and how it is carried over (at least ${MIN_REASON_LENGTH} characters)`,
      );
    }
  }
  return problems;
}

export function validatePipeline(p: PipelineConfig): string[] {
  const problems: string[] = [];
  const bad = (field: string, msg: string) => problems.push(`pipeline: ${field} ${msg}`);
  if (!ACCOUNT_RE.test(p.account)) bad('account', `is "${p.account}"; must be a 12-digit AWS account id`);
  if (!KNOWN_REGIONS.has(p.region)) bad('region', `is "${p.region}"; not a known AWS region`);
  if (!/^[\w.-]+\/[\w.-]+$/.test(p.repository))
    bad('repository', `is "${p.repository}"; must be "owner/name"`);
  if (p.branch.trim() === '') bad('branch', 'is empty');
  if (
    !/^arn:aws[\w-]*:(codeconnections|codestar-connections):[\w-]+:\d{12}:connection\/[\w-]+$/.test(
      p.connectionArn,
    )
  ) {
    bad('connectionArn', `is "${p.connectionArn}"; must be a CodeConnections connection ARN`);
  }
  if (p.notificationEmail !== undefined && !EMAIL_RE.test(p.notificationEmail)) {
    bad('notificationEmail', `is "${p.notificationEmail}"; not an e-mail address`);
  }
  if (!Number.isInteger(p.prodBakeMinutes) || p.prodBakeMinutes < 0 || p.prodBakeMinutes > 1440) {
    bad('prodBakeMinutes', `is ${p.prodBakeMinutes}; must be an integer in 0..1440`);
  }
  return problems;
}

/**
 * Builds and validates the whole configuration. Throws a `ConfigError` naming every bad field and its stage, so
 * a mistake fails `cdk synth` (and `npm test`) before anything reaches AWS.
 */
export function loadAppConfig(
  input: AppConfigInput = {},
  customise?: (s: StageConfig) => StageConfig,
): AppConfig {
  const pipeline: PipelineConfig = {
    account: FAKE_ACCOUNTS.tooling,
    region: DEFAULT_REGION,
    repository: 'example-org/s3-object-processor',
    branch: 'main',
    connectionArn: FAKE_CONNECTION_ARN,
    prodBakeMinutes: 0,
    alarmGates: true,
    ...stripUndefined(input.pipeline ?? {}),
  };
  const base = baseStages(pipeline.account);
  const stages = STAGE_NAMES.map((name, i) => {
    const o = input.stages?.[name] ?? {};
    const b = base[name];
    // The stage promoted into production bakes for the pipeline's prodBakeMinutes before production is entered.
    const feedsProduction = base[STAGE_NAMES[i + 1] as KnownStage]?.isProduction === true;
    const merged: StageConfig = {
      ...b,
      ...(feedsProduction ? { deployment: { ...b.deployment, bakeMinutes: pipeline.prodBakeMinutes } } : {}),
      account: o.account ?? b.account,
      region: o.region ?? pipeline.region,
      integTestTrustedAccount: o.integTestTrustedAccount ?? b.integTestTrustedAccount,
      alarms: o.alarmEmail === undefined ? b.alarms : { ...b.alarms, email: o.alarmEmail },
    };
    return customise ? customise(merged) : merged;
  });
  const problems = [...validatePipeline(pipeline), ...stages.flatMap(validateStage)];
  if (problems.length > 0) throw new ConfigError(problems);
  return { project: input.project ?? 's3-object-processor', pipeline, stages };
}

/** Finds a stage by name, with an error that lists the stages there are. */
export function stageByName(config: AppConfig, name: string): StageConfig {
  const stage = config.stages.find((s) => s.stageName === name);
  if (!stage) {
    throw new ConfigError([
      `unknown stage "${name}"; known stages: ${config.stages.map((s) => s.stageName).join(', ')}`,
    ]);
  }
  return stage;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
