/**
 * The typed per-stage configuration. Every construct takes its settings from here (as properties); nothing under
 * lib/ reads process.env or CDK context: bin/ resolves accounts, regions and e-mails and calls `loadAppConfig`.
 */

/** Stage names are lowercase, used in construct IDs (PascalCased) and tags. */
export type StageName = string;

export interface ProcessorFunctionConfig {
  /** Lambda memory in MiB (128..10240). Tune with AWS Lambda Power Tuning, see docs/performance.md. */
  readonly memoryMiB: number;
  /** Lambda timeout in seconds (1..900). */
  readonly timeoutSeconds: number;
  /** Reserved concurrency: caps the function so a flood cannot starve the account or hammer DynamoDB. */
  readonly reservedConcurrency: number;
  /** Event source mapping `maxConcurrency` (2..1000); must not exceed `reservedConcurrency`. */
  readonly maxEventSourceConcurrency: number;
  /** Records handled at once inside one batch (PROCESSING_CONCURRENCY). */
  readonly recordConcurrency: number;
  /** Log level of the function (Powertools). */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export interface IngestQueueConfig {
  /** SQS -> Lambda batch size (1..10000; above 10 needs a batching window). */
  readonly batchSize: number;
  /** Maximum batching window in seconds (0..300). */
  readonly maxBatchingWindowSeconds: number;
  /**
   * Visibility timeout of the ingest queue in seconds. Must be at least 6x the function timeout plus the batching
   * window (the AWS recommendation for SQS event sources), and at most 43200 (the SQS limit).
   */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue (1..1000). */
  readonly maxReceiveCount: number;
}

export interface ObjectPolicyConfig {
  /** MIME types accepted, detected from the object's bytes (ALLOWED_CONTENT_TYPES). Not empty. */
  readonly allowedContentTypes: readonly string[];
  /** Objects larger than this are REJECTED (MAX_OBJECT_BYTES). */
  readonly maxObjectBytes: number;
  /** Only keys under this prefix raise notifications. @default every key */
  readonly keyPrefix?: string;
  /** Only keys ending with this suffix raise notifications. @default every key */
  readonly keySuffix?: string;
}

export interface CapacityConfig {
  readonly min: number;
  readonly max: number;
  /** Target utilisation in percent (20..90). */
  readonly targetUtilizationPercent: number;
}

export type TableBillingConfig =
  | { readonly mode: 'on-demand' }
  | { readonly mode: 'provisioned'; readonly read: CapacityConfig; readonly write: CapacityConfig };

export interface DataProtectionConfig {
  /** Retain the bucket, table and keys when the stack is deleted (prod), or destroy them (sandbox stages). */
  readonly retainData: boolean;
  /** DynamoDB deletion protection. */
  readonly deletionProtection: boolean;
  /** Days after which noncurrent object versions expire. */
  readonly noncurrentVersionExpirationDays: number;
  /** Days after which incomplete multipart uploads are aborted. */
  readonly abortIncompleteMultipartUploadDays: number;
  /** Server access log retention in days. */
  readonly accessLogRetentionDays: number;
}

export interface BackupConfig {
  /** An AWS Backup plan for the table and bucket. PITR is always on, in every stage. */
  readonly awsBackup: boolean;
  /** Days AWS Backup keeps a recovery point. */
  readonly backupRetentionDays: number;
  /** A region to copy backups to (disaster recovery). @default no copy */
  readonly copyToRegion?: string;
}

export interface AlarmConfig {
  /** Address subscribed to the stage's alarm topic. @default no subscription (topic only) */
  readonly email?: string;
  /** Function errors per 5 minutes that raise the alarm. */
  readonly functionErrors: number;
  /** Function throttles per 5 minutes that raise the alarm. */
  readonly functionThrottles: number;
  /** p99 duration as a percentage of the timeout that raises the alarm (1..100). */
  readonly durationP99PercentOfTimeout: number;
  /** Age in seconds of the oldest ingest message that raises the alarm. */
  readonly oldestMessageAgeSeconds: number;
  /** Dead-lettered messages visible that raise the alarm (1 = any). */
  readonly deadLetterMessages: number;
}

export interface BudgetConfig {
  /** Monthly cost budget in USD for resources tagged with this stage. */
  readonly monthlyUsd: number;
  /** Where budget notifications go. @default the alarm e-mail */
  readonly email?: string;
}

export interface NetworkConfig {
  /** Run the function in private isolated subnets with VPC endpoints (no NAT). */
  readonly vpc: boolean;
  /** Availability zones for the VPC when enabled. */
  readonly maxAzs: number;
}

export interface DeploymentConfig {
  /** Shift traffic to a new function version with CodeDeploy, rolled back automatically on alarm. */
  readonly canary: boolean;
  /** Minutes of the canary's first step (10% of traffic). */
  readonly canaryMinutes: number;
  /**
   * Bake time: minutes the pipeline watches the stage's health alarm after the stage succeeds; an alarm during it
   * rolls the stage back. 0 checks the alarm once. The stage before production takes the pipeline setting
   * `prodBakeMinutes` (0..1440).
   */
  readonly bakeMinutes: number;
  /** Roll the stage back to its last successful execution when it fails (CodePipeline stage rollback). */
  readonly rollbackOnFailure: boolean;
}

/** One stateful resource a commit may replace or remove: a reviewed, temporary exception to the change review. */
export interface StatefulChangeAllowance {
  /** Logical ID of the resource in the stage's processor stack, exactly as in the synthesized template. */
  readonly logicalId: string;
  /** Why the data may go, and how it is carried over (the migration plan); read in code review. */
  readonly reason: string;
}

export interface ChangeReviewConfig {
  /**
   * Review the stage's change set before its approval (tools/review-change-set.ts, docs/change-review.md): render
   * what will change and fail when a stateful resource would be replaced or removed. Required in production.
   */
  readonly enabled: boolean;
  /**
   * Stateful resources the change set may replace or remove. Empty except in the commit of an intended migration;
   * the review reports an entry that matches no replacement or removal as stale, so remove it in the next commit.
   */
  readonly allowStatefulChanges: readonly StatefulChangeAllowance[];
}

export interface StageConfig {
  readonly stageName: StageName;
  readonly account: string;
  readonly region: string;
  /** Production stages are protected: retained data, deletion protection, manual approval before deploy. */
  readonly isProduction: boolean;
  readonly processor: ProcessorFunctionConfig;
  readonly ingestQueue: IngestQueueConfig;
  readonly objects: ObjectPolicyConfig;
  readonly table: TableBillingConfig;
  readonly dataProtection: DataProtectionConfig;
  readonly backup: BackupConfig;
  /** CloudWatch Logs retention of the function's log group, in days (a value CloudWatch accepts). */
  readonly logRetentionDays: number;
  readonly alarms: AlarmConfig;
  readonly budget: BudgetConfig;
  readonly network: NetworkConfig;
  readonly deployment: DeploymentConfig;
  readonly changeReview: ChangeReviewConfig;
  /**
   * Account allowed to assume the stage's integration-test role: the tooling account for pipeline stages, the
   * sandbox account itself for a directly deployed stage.
   */
  readonly integTestTrustedAccount: string;
}

export interface PipelineConfig {
  /** Tooling account that hosts the pipeline. */
  readonly account: string;
  readonly region: string;
  /** GitHub repository as `owner/name`. */
  readonly repository: string;
  readonly branch: string;
  /** ARN of the CodeConnections (CodeStar Connections) GitHub connection, created once by hand. */
  readonly connectionArn: string;
  /** Where pipeline failures and pending approvals are announced. @default topic only */
  readonly notificationEmail?: string;
  /**
   * Bake time of the stage before production (its `deployment.bakeMinutes`): minutes its health alarm is watched
   * after it passes, before production can be entered (0 = one check).
   */
  readonly prodBakeMinutes: number;
  /**
   * Gate stage entry and bake time on CloudWatch alarms (CodePipeline stage conditions). Turn off only if a real
   * account refuses the conditions (docs/promotion.md); rollback on failure stays. @default true
   */
  readonly alarmGates: boolean;
}

export interface AppConfig {
  /** Project name: prefix of tags and of the pipeline's name. */
  readonly project: string;
  readonly pipeline: PipelineConfig;
  /** In promotion order: dev -> staging -> prod. */
  readonly stages: readonly StageConfig[];
}
