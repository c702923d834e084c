import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { alarmGateRoleName } from '../../lib/app-stack/alarm-gate-role.ts';
import { CANARY_PERCENTAGE } from '../../lib/app-stack/canary-deployment.ts';
import { INTEG_TEST_PREFIX, integTestRoleName } from '../../lib/app-stack/integ-test-role.ts';
import { ACCESS_LOG_PREFIX } from '../../lib/app-stack/processor.ts';
import { LAMBDA_RUNTIME_ENVIRONMENT } from '../../lib/app-stack/processor-bundling.ts';
import {
  BUDGET_ACTUAL_THRESHOLD_PERCENT,
  BUDGET_FORECAST_THRESHOLD_PERCENT,
} from '../../lib/app-stack/stage-budget.ts';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import { COST_TAG_KEYS, healthAlarmName, OUTPUT_KEYS } from '../../lib/config/names.ts';
import { processorEnvironment } from '../../lib/config/processor-environment.ts';
import {
  PROCESSOR_METRICS,
  PROCESSOR_METRICS_NAMESPACE,
  PROCESSOR_SERVICE_NAME,
} from '../../services/processor/src/metric-names.ts';
import { managedPolicyStatements, resourceOf, stageOf, synthStages } from './stage-synth.ts';

/** The three configured stages, synthesized once for the whole file. */
const { stages } = synthStages();
const STAGES = ['dev', 'staging', 'prod'] as const;

/** Logical IDs of the stateful resources. Changing one replaces the resource (and loses its data). */
const STATEFUL_LOGICAL_IDS = {
  ProcessorObjectsKey6523F857: 'AWS::KMS::Key',
  ProcessorQueueKeyFBEE3808: 'AWS::KMS::Key',
  ProcessorTableKey153CFAA0: 'AWS::KMS::Key',
  ProcessorLogsKeyD8E74634: 'AWS::KMS::Key',
  ProcessorObjectsBucketDD8AF4B1: 'AWS::S3::Bucket',
  ProcessorAccessLogsBucket5A05A37B: 'AWS::S3::Bucket',
  ProcessorIngestQueue3759D326: 'AWS::SQS::Queue',
  ProcessorDeadLetterQueue959FA4E1: 'AWS::SQS::Queue',
  ProcessorObjectsTableD8F1E774: 'AWS::DynamoDB::Table',
  ProcessorFunctionLogGroupC3BE1B2E: 'AWS::Logs::LogGroup',
} as const;
const BUCKET = 'ProcessorObjectsBucketDD8AF4B1';
const LOG_BUCKET = 'ProcessorAccessLogsBucket5A05A37B';
const INGEST_QUEUE = 'ProcessorIngestQueue3759D326';
const DEAD_LETTER_QUEUE = 'ProcessorDeadLetterQueue959FA4E1';
const TABLE = 'ProcessorObjectsTableD8F1E774';
const FUNCTION_LOG_GROUP = 'ProcessorFunctionLogGroupC3BE1B2E';
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
/** Service-principal conditions use the deploy-time account (`AWS::AccountId`), right in any account. */
const ACCOUNT_ID = { Ref: 'AWS::AccountId' };

/** A dashboard body with its tokens replaced by "TOKEN", parsed. */
function dashboardWidgets(body: unknown): Array<{ type: string; properties: Record<string, unknown> }> {
  const join = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]);
  return (JSON.parse(text) as { widgets: Array<{ type: string; properties: Record<string, unknown> }> })
    .widgets;
}

describe.each(STAGES)('stage %s', (name) => {
  const { template, config, annotations, stack } = stageOf(stages, name);
  const retained = config.dataProtection.retainData;

  describe('stateful resources', () => {
    it('keep their pinned logical IDs', () => {
      for (const [logicalId, type] of Object.entries(STATEFUL_LOGICAL_IDS)) {
        expect(template.toJSON().Resources[logicalId]?.Type, logicalId).toBe(type);
      }
    });

    it(`are ${retained ? 'retained' : 'destroyed'} with the stack, as configured`, () => {
      const policy = retained ? 'Retain' : 'Delete';
      for (const logicalId of Object.keys(STATEFUL_LOGICAL_IDS).filter((id) => id !== FUNCTION_LOG_GROUP)) {
        const resource = template.toJSON().Resources[logicalId];
        expect({
          id: logicalId,
          deletion: resource.DeletionPolicy,
          replace: resource.UpdateReplacePolicy,
        }).toEqual({
          id: logicalId,
          deletion: policy,
          replace: policy,
        });
      }
      // Emptying buckets on delete only where the data is not kept.
      template.resourceCountIs('Custom::S3AutoDeleteObjects', retained ? 0 : 2);
    });

    it('use customer-managed keys that rotate', () => {
      const keys = template.findResources('AWS::KMS::Key');
      expect(Object.keys(keys).length).toBeGreaterThanOrEqual(5);
      for (const [id, key] of Object.entries(keys)) {
        expect(key.Properties.EnableKeyRotation, id).toBe(true);
      }
    });
  });

  describe('objects bucket', () => {
    it('is encrypted with its own CMK and S3 Bucket Keys, versioned, private and bucket-owner only', () => {
      template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                BucketKeyEnabled: true,
                ServerSideEncryptionByDefault: {
                  SSEAlgorithm: 'aws:kms',
                  KMSMasterKeyID: arnOf('ProcessorObjectsKey6523F857'),
                },
              },
            ],
          },
          VersioningConfiguration: { Status: 'Enabled' },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        }),
      });
      expect(resourceOf(template, 'AWS::S3::Bucket', BUCKET).logicalId).toBe(BUCKET);
    });

    it('logs server access to the separate log bucket', () => {
      const { resource } = resourceOf(template, 'AWS::S3::Bucket', BUCKET);
      expect(resource.Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: LOG_BUCKET },
        LogFilePrefix: ACCESS_LOG_PREFIX,
      });
    });

    it('aborts incomplete uploads and expires noncurrent versions after the configured days', () => {
      const { resource } = resourceOf(template, 'AWS::S3::Bucket', BUCKET);
      expect(resource.Properties.LifecycleConfiguration).toEqual({
        Rules: [
          {
            Id: 'AbortIncompleteUploadsAndExpireOldVersions',
            Status: 'Enabled',
            AbortIncompleteMultipartUpload: {
              DaysAfterInitiation: config.dataProtection.abortIncompleteMultipartUploadDays,
            },
            NoncurrentVersionExpiration: {
              NoncurrentDays: config.dataProtection.noncurrentVersionExpirationDays,
            },
            ExpiredObjectDeleteMarker: true,
          },
        ],
      });
    });

    it('denies every request without TLS (and below TLS 1.2)', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: BUCKET },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
            }),
          ]),
        },
      });
    });

    it('notifies the ingest queue of created and removed objects, unfiltered by default', () => {
      const queueArn = arnOf(INGEST_QUEUE);
      template.hasResourceProperties('Custom::S3BucketNotifications', {
        BucketName: { Ref: BUCKET },
        NotificationConfiguration: {
          QueueConfigurations: [
            { Events: ['s3:ObjectCreated:*'], QueueArn: queueArn },
            { Events: ['s3:ObjectRemoved:*'], QueueArn: queueArn },
          ],
        },
      });
      // The notification is written after the queue policy that lets S3 publish exists.
      const notifications = template.findResources('Custom::S3BucketNotifications');
      const [notification] = Object.values(notifications);
      expect(notification?.DependsOn).toEqual(
        expect.arrayContaining([expect.stringMatching(/^ProcessorIngestQueuePolicy/)]),
      );
    });
  });

  describe('access log bucket', () => {
    it('is a separate private, TLS-only bucket with SSE-S3 (the only encryption log delivery supports)', () => {
      const { resource } = resourceOf(template, 'AWS::S3::Bucket', LOG_BUCKET);
      expect(resource.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: {
          Rules: [
            expect.objectContaining({ ExpirationInDays: config.dataProtection.accessLogRetentionDays }),
          ],
        },
      });
      expect(resource.Properties.LoggingConfiguration).toBeUndefined();
    });

    it('accepts log delivery only from the objects bucket of this account', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: LOG_BUCKET },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Sid: 'AllowServerAccessLogDelivery',
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
              Condition: {
                ArnLike: { 'aws:SourceArn': arnOf(BUCKET) },
                StringEquals: { 'aws:SourceAccount': ACCOUNT_ID },
              },
            }),
          ]),
        },
      });
    });
  });

  describe('queues', () => {
    it('ingest queue: queue CMK, configured visibility, DLQ after maxReceiveCount, 14 days', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        KmsMasterKeyId: arnOf('ProcessorQueueKeyFBEE3808'),
        VisibilityTimeout: config.ingestQueue.visibilityTimeoutSeconds,
        MessageRetentionPeriod: 14 * 24 * 3600,
        RedrivePolicy: {
          deadLetterTargetArn: arnOf(DEAD_LETTER_QUEUE),
          maxReceiveCount: config.ingestQueue.maxReceiveCount,
        },
      });
      // At least six function timeouts: a batch is never redelivered while it is still being processed.
      expect(config.ingestQueue.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
        6 * config.processor.timeoutSeconds,
      );
    });

    it('dead-letter queue: encrypted, kept 14 days', () => {
      const { resource } = resourceOf(template, 'AWS::SQS::Queue', DEAD_LETTER_QUEUE);
      expect(resource.Properties).toMatchObject({
        KmsMasterKeyId: arnOf('ProcessorQueueKeyFBEE3808'),
        MessageRetentionPeriod: 1209600,
      });
      expect(resource.Properties.RedrivePolicy).toBeUndefined();
    });

    it('lets only this bucket of this account send, and denies non-TLS access to both queues', () => {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: INGEST_QUEUE }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            {
              Sid: 'AllowObjectsBucketNotifications',
              Effect: 'Allow',
              Principal: { Service: 's3.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: arnOf(INGEST_QUEUE),
              Condition: {
                ArnLike: { 'aws:SourceArn': arnOf(BUCKET) },
                StringEquals: { 'aws:SourceAccount': ACCOUNT_ID },
              },
            },
          ]),
        },
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: DEAD_LETTER_QUEUE }],
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ],
        },
      });
    });

    it("lets S3 use the queue key only for this bucket's notifications", () => {
      const { resource } = resourceOf(template, 'AWS::KMS::Key', 'ProcessorQueueKey');
      const statements = (resource.Properties.KeyPolicy as { Statement: unknown[] }).Statement;
      expect(statements).toContainEqual({
        Sid: 'AllowObjectsBucketToEncryptNotifications',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: '*',
        Condition: {
          ArnLike: { 'aws:SourceArn': arnOf(BUCKET) },
          StringEquals: { 'aws:SourceAccount': ACCOUNT_ID },
        },
      });
    });
  });

  describe('function', () => {
    const { logicalId: functionId, resource: fn } = resourceOf(
      template,
      'AWS::Lambda::Function',
      'ProcessorFunction',
    );

    it('runs Node.js 24 on arm64 with the configured memory, timeout and reserved concurrency', () => {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: config.processor.memoryMiB,
        Timeout: config.processor.timeoutSeconds,
        ReservedConcurrentExecutions: config.processor.reservedConcurrency,
      });
    });

    it('traces with X-Ray and logs JSON to its own encrypted log group with the configured retention', () => {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig).toEqual({
        LogFormat: 'JSON',
        LogGroup: { Ref: FUNCTION_LOG_GROUP },
      });
      const { resource: logGroup } = resourceOf(template, 'AWS::Logs::LogGroup', FUNCTION_LOG_GROUP);
      expect(logGroup.Properties).toEqual({
        RetentionInDays: config.logRetentionDays,
        KmsKeyId: arnOf('ProcessorLogsKeyD8E74634'),
        Tags: expect.any(Array),
      });
    });

    it('gets exactly processorEnvironment(config, table) plus NODE_OPTIONS for source maps', () => {
      expect(fn.Properties.Environment).toEqual({
        Variables: {
          ...processorEnvironment(config, { Ref: TABLE } as unknown as string),
          ...LAMBDA_RUNTIME_ENVIRONMENT,
        },
      });
    });

    it('is fed by the ingest queue in configured batches, reporting partial failures, with capped concurrency', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: arnOf(INGEST_QUEUE),
        BatchSize: config.ingestQueue.batchSize,
        MaximumBatchingWindowInSeconds: config.ingestQueue.maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: config.processor.maxEventSourceConcurrency },
      });
    });

    it('has a role only Lambda assumes, with no AWS managed and no inline policy', () => {
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const { resource: role } = resourceOf(template, 'AWS::IAM::Role', roleId);
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      });
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
      // The one policy attached to it is ours.
      const attached = Object.entries(
        template.toJSON().Resources as Record<string, { Type: string; Properties?: { Roles?: unknown[] } }>,
      )
        .filter(([, r]) =>
          (r.Properties?.Roles ?? []).some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId })),
        )
        .map(([id, r]) => `${r.Type} ${id.replace(/[0-9A-F]{8}$/, '')}`);
      expect(attached).toEqual(['AWS::IAM::ManagedPolicy ProcessorFunctionPolicy']);
      // Lambda checks the role's permissions when it creates the function's event source mapping.
      expect(template.toJSON().Resources[functionId].DependsOn).toContainEqual(
        expect.stringMatching(/^ProcessorFunctionPolicy/),
      );
    });

    it('may do exactly what processing needs, each on its own resource', () => {
      const via = (service: string) => ({
        StringEquals: { 'kms:ViaService': `${service}.${config.region}.amazonaws.com` },
      });
      expect(managedPolicyStatements(template, 'ProcessorFunctionPolicy')).toEqual([
        {
          Sid: 'WriteOwnLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arnOf(FUNCTION_LOG_GROUP),
        },
        {
          Sid: 'ReadObjects',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          Resource: { 'Fn::Join': ['', [arnOf(BUCKET), '/*']] },
        },
        { Sid: 'TellMissingObjectsApart', Effect: 'Allow', Action: 's3:ListBucket', Resource: arnOf(BUCKET) },
        {
          Sid: 'DecryptObjects',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorObjectsKey6523F857'),
          Condition: via('s3'),
        },
        {
          Sid: 'ConsumeIngestQueue',
          Effect: 'Allow',
          Action: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
          ],
          Resource: arnOf(INGEST_QUEUE),
        },
        {
          Sid: 'DecryptIngestMessages',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorQueueKeyFBEE3808'),
          Condition: via('sqs'),
        },
        {
          Sid: 'WriteObjectRecords',
          Effect: 'Allow',
          Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
          Resource: arnOf(TABLE),
        },
        {
          Sid: 'UseTableKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          Resource: arnOf('ProcessorTableKey153CFAA0'),
          Condition: via('dynamodb'),
        },
        {
          Sid: 'PublishTraces',
          Effect: 'Allow',
          Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          Resource: '*',
        },
      ]);
    });
  });

  describe('table', () => {
    it('is keyed by objectKey, encrypted with its CMK, with point-in-time recovery', () => {
      const { resource } = resourceOf(template, 'AWS::DynamoDB::Table', TABLE);
      expect(resource.Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'objectKey', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'objectKey', AttributeType: 'S' }],
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: arnOf('ProcessorTableKey153CFAA0'),
        },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
      expect(resource.Properties.DeletionProtectionEnabled).toBe(config.dataProtection.deletionProtection);
      template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    });
  });

  describe('monitoring', () => {
    const topicId = resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId;
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const alarm = (prefix: string) =>
      resourceOf(template, 'AWS::CloudWatch::Alarm', prefix).resource.Properties;

    it('sends every alarm and its recovery to the encrypted, TLS-only alarm topic', () => {
      expect(Object.keys(alarms)).toHaveLength(7);
      for (const [id, a] of Object.entries(alarms)) {
        expect(a.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
        expect(a.Properties.OKActions, id).toEqual([{ Ref: topicId }]);
      }
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: arnOf(resourceOf(template, 'AWS::KMS::Key', 'MonitoringAlarmTopicKey').logicalId),
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      // No e-mail configured by default: topic only.
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('lets CloudWatch and Budgets of this account use the topic key', () => {
      const { resource } = resourceOf(template, 'AWS::KMS::Key', 'MonitoringAlarmTopicKey');
      expect((resource.Properties.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual({
        Sid: 'AllowNotifyingServices',
        Effect: 'Allow',
        Principal: { Service: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com'] },
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT_ID } },
      });
    });

    it('alarms on function errors and throttles at the configured counts', () => {
      expect(alarm('MonitoringFunctionErrorsAlarm')).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Period: 300,
        Threshold: config.alarms.functionErrors,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(alarm('MonitoringFunctionThrottlesAlarm')).toMatchObject({
        MetricName: 'Throttles',
        Threshold: config.alarms.functionThrottles,
      });
    });

    it('alarms when p99 duration reaches the configured share of the timeout', () => {
      expect(alarm('MonitoringFunctionDurationP99Alarm')).toMatchObject({
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: (config.processor.timeoutSeconds * 1000 * config.alarms.durationP99PercentOfTimeout) / 100,
      });
    });

    it('alarms on the age of the oldest ingest message and on any dead-lettered message', () => {
      expect(alarm('MonitoringIngestOldestMessageAlarm')).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [INGEST_QUEUE, 'QueueName'] } }],
        Threshold: config.alarms.oldestMessageAgeSeconds,
      });
      expect(alarm('MonitoringDeadLetterMessagesAlarm')).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [DEAD_LETTER_QUEUE, 'QueueName'] } }],
        Threshold: config.alarms.deadLetterMessages,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });

    it('alarms on DynamoDB throttled requests and system errors of the operations the function uses', () => {
      for (const [prefix, metricName] of [
        ['MonitoringTableThrottledRequestsAlarm', 'ThrottledRequests'],
        ['MonitoringTableSystemErrorsAlarm', 'SystemErrors'],
      ] as const) {
        const metrics = alarm(prefix).Metrics as Array<{
          MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] } };
        }>;
        const operations = metrics
          .filter((m) => m.MetricStat)
          .map((m) => {
            expect(m.MetricStat?.Metric.MetricName).toBe(metricName);
            return ((m.MetricStat?.Metric.Dimensions ?? []) as Array<{ Name: string; Value: unknown }>).find(
              (d) => d.Name === 'Operation',
            )?.Value;
          });
        expect(operations.sort()).toEqual(['PutItem', 'UpdateItem']);
      }
    });

    it("has a dashboard with the alarms, AWS metrics and the processor's own EMF metrics", () => {
      const { resource } = resourceOf(template, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard');
      expect(resource.Properties.DashboardName).toBeUndefined();
      const widgets = dashboardWidgets(resource.Properties.DashboardBody);
      const metrics = widgets.flatMap((w) => (w.properties.metrics as unknown[][] | undefined) ?? []);
      const emf = metrics.filter((m) => m[0] === PROCESSOR_METRICS_NAMESPACE);
      expect(new Set(emf.map((m) => m[1]))).toEqual(new Set(Object.values(PROCESSOR_METRICS)));
      for (const m of emf) expect(m.slice(2, 4)).toEqual(['service', PROCESSOR_SERVICE_NAME]);
      const awsMetrics = new Set(metrics.map((m) => `${m[0]}/${m[1]}`));
      for (const metric of [
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        'AWS/Lambda/Duration',
        'AWS/SQS/ApproximateAgeOfOldestMessage',
      ]) {
        expect(awsMetrics).toContain(metric);
      }
      const alarmWidget = widgets.find((w) => w.type === 'alarm');
      expect(alarmWidget?.properties.alarms).toHaveLength(Object.keys(alarms).length);
    });
  });

  describe('cost', () => {
    it('has a monthly budget over this stage’s cost-allocation tag, notifying on actual and forecast spend', () => {
      const topicId = resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId;
      const subscribers = [{ SubscriptionType: 'SNS', Address: { Ref: topicId } }];
      template.hasResourceProperties('AWS::Budgets::Budget', {
        Budget: {
          BudgetType: 'COST',
          TimeUnit: 'MONTHLY',
          BudgetLimit: { Amount: config.budget.monthlyUsd, Unit: 'USD' },
          CostFilters: { TagKeyValue: [`user:${COST_TAG_KEYS.stage}$${name}`] },
        },
        ResourceTags: [
          { Key: COST_TAG_KEYS.project, Value: 's3-object-processor' },
          { Key: COST_TAG_KEYS.stage, Value: name },
        ],
        NotificationsWithSubscribers: [
          {
            Notification: {
              NotificationType: 'ACTUAL',
              ComparisonOperator: 'GREATER_THAN',
              Threshold: BUDGET_ACTUAL_THRESHOLD_PERCENT,
              ThresholdType: 'PERCENTAGE',
            },
            Subscribers: subscribers,
          },
          {
            Notification: {
              NotificationType: 'FORECASTED',
              ComparisonOperator: 'GREATER_THAN',
              Threshold: BUDGET_FORECAST_THRESHOLD_PERCENT,
              ThresholdType: 'PERCENTAGE',
            },
            Subscribers: subscribers,
          },
        ],
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Sid: 'AllowBudgetNotifications',
              Principal: { Service: 'budgets.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT_ID } },
            }),
          ]),
        },
      });
    });

    it('tags every taggable resource with project and stage', () => {
      const resources = template.toJSON().Resources as Record<
        string,
        { Type: string; Properties?: { Tags?: unknown } }
      >;
      const tagged = Object.entries(resources).filter(([, r]) => r.Properties?.Tags !== undefined);
      // The resources that carry the cost: all must be tagged.
      for (const type of [
        'AWS::S3::Bucket',
        'AWS::SQS::Queue',
        'AWS::DynamoDB::Table',
        'AWS::Lambda::Function',
        'AWS::KMS::Key',
        'AWS::Logs::LogGroup',
        'AWS::SNS::Topic',
        'AWS::CloudWatch::Alarm',
      ]) {
        // CDK's own custom-resource provider (auto-delete, a CfnResource outside the Tags aspect) is not ours to tag.
        for (const [id, r] of Object.entries(resources).filter(
          ([id, r]) => r.Type === type && !id.startsWith('CustomS3AutoDeleteObjects'),
        )) {
          expect(r.Properties?.Tags, `${id} (${type})`).toBeDefined();
        }
      }
      for (const [id, r] of tagged) {
        const tags = r.Properties?.Tags;
        const pairs = Array.isArray(tags)
          ? Object.fromEntries((tags as Array<{ Key: string; Value: string }>).map((t) => [t.Key, t.Value]))
          : (tags as Record<string, string>);
        expect(pairs, id).toMatchObject({
          [COST_TAG_KEYS.project]: 's3-object-processor',
          [COST_TAG_KEYS.stage]: name,
        });
      }
    });
  });

  describe('integration-test role', () => {
    const { logicalId: roleId, resource: role } = resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole');

    it('is assumable only by the configured trusted account', () => {
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: {
              AWS: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, `:iam::${config.integTestTrustedAccount}:root`],
                ],
              },
            },
          },
        ],
      });
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    });

    it('may put and delete under integ-tests/, read records and delete only integ-tests/ records', () => {
      const via = (service: string) => ({
        StringEquals: { 'kms:ViaService': `${service}.${config.region}.amazonaws.com` },
      });
      const { resource: policy } = resourceOf(template, 'AWS::IAM::ManagedPolicy', 'IntegTestRolePolicy');
      expect(policy.Properties.Roles).toEqual([{ Ref: roleId }]);
      expect(managedPolicyStatements(template, 'IntegTestRolePolicy')).toEqual([
        {
          Sid: 'WriteTestObjects',
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:DeleteObject'],
          Resource: { 'Fn::Join': ['', [arnOf(BUCKET), `/${INTEG_TEST_PREFIX}*`]] },
        },
        {
          Sid: 'EncryptTestObjects',
          Effect: 'Allow',
          Action: 'kms:GenerateDataKey',
          Resource: arnOf('ProcessorObjectsKey6523F857'),
          Condition: via('s3'),
        },
        {
          Sid: 'ReadRecords',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:Query'],
          Resource: arnOf(TABLE),
        },
        {
          Sid: 'RemoveTestRecords',
          Effect: 'Allow',
          Action: 'dynamodb:DeleteItem',
          Resource: arnOf(TABLE),
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${INTEG_TEST_PREFIX}*`] } },
        },
        {
          Sid: 'DecryptRecords',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorTableKey153CFAA0'),
          Condition: via('dynamodb'),
        },
      ]);
    });
  });

  describe('outputs', () => {
    it('publish every name tests and operators need, under the contract keys', () => {
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const expected: Record<string, unknown> = {
        [OUTPUT_KEYS.bucketName]: { Ref: BUCKET },
        [OUTPUT_KEYS.tableName]: { Ref: TABLE },
        [OUTPUT_KEYS.ingestQueueUrl]: { Ref: INGEST_QUEUE },
        [OUTPUT_KEYS.deadLetterQueueUrl]: { Ref: DEAD_LETTER_QUEUE },
        [OUTPUT_KEYS.integTestRoleArn]: arnOf(roleIdOf()),
        [OUTPUT_KEYS.dashboardName]: {
          Ref: resourceOf(template, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').logicalId,
        },
        [OUTPUT_KEYS.functionName]: {
          Ref: resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId,
        },
        [OUTPUT_KEYS.alarmTopicArn]: {
          Ref: resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId,
        },
      };
      expect(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.Value]))).toEqual(expected);
      expect(Object.keys(stack.outputs).sort()).toEqual(Object.keys(OUTPUT_KEYS).sort());
    });

    function roleIdOf(): string {
      return resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole').logicalId;
    }
  });

  describe("CDK's deploy-time Lambdas", () => {
    const resources = template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }
    >;

    it('the bucket-notifications handler may only write this bucket’s notification configuration and its own logs', () => {
      const [handlerId, handler] =
        Object.entries(resources).find(([id]) => id.startsWith('BucketNotificationsHandler')) ?? [];
      expect(handlerId).toBeDefined();
      const logGroupId = resourceOf(
        template,
        'AWS::Logs::LogGroup',
        'ProcessorNotificationsHandlerLogGroup',
      ).logicalId;
      expect(handler?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
      const { resource: role } = resourceOf(template, 'AWS::IAM::Role', 'ProcessorNotificationsHandlerRole');
      const policyId = resourceOf(
        template,
        'AWS::IAM::ManagedPolicy',
        'ProcessorNotificationsHandlerPolicy',
      ).logicalId;
      expect(role.Properties.ManagedPolicyArns).toEqual([{ Ref: policyId }]);
      expect(role.Properties.Policies).toBeUndefined();
      expect(managedPolicyStatements(template, 'ProcessorNotificationsHandlerPolicy')).toEqual([
        {
          Effect: 'Allow',
          Action: ['s3:PutBucketNotification', 's3:GetBucketNotification'],
          Resource: arnOf(BUCKET),
        },
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arnOf(logGroupId),
        },
      ]);
    });

    it(`the auto-delete provider (${retained ? 'absent: data is retained' : 'empties the buckets on delete'}) carries no AWS managed policy`, () => {
      const roles = Object.entries(resources).filter(([id]) =>
        id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderRole'),
      );
      expect(roles).toHaveLength(retained ? 0 : 1);
      for (const [, role] of roles) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        const logGroupId = resourceOf(
          template,
          'AWS::Logs::LogGroup',
          'ProcessorAutoDeleteObjectsLogGroup',
        ).logicalId;
        expect(role.Properties.Policies).toEqual([
          {
            PolicyName: 'Inline',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                  Resource: arnOf(logGroupId),
                },
              ],
            },
          },
        ]);
        const [, handler] =
          Object.entries(resources).find(([id]) =>
            id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderHandler'),
          ) ?? [];
        expect(handler?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
      }
    });
  });

  describe('hygiene', () => {
    it('hard-codes no physical resource names', () => {
      // The exceptions: the pipeline, in another account, must name these before they exist.
      const crossAccountNames: Record<string, [string, string]> = {
        [resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole').logicalId]: [
          'RoleName',
          integTestRoleName(stack.stackName),
        ],
        [resourceOf(template, 'AWS::IAM::Role', 'AlarmGateRole').logicalId]: [
          'RoleName',
          alarmGateRoleName(stack.stackName),
        ],
        [resourceOf(template, 'AWS::CloudWatch::CompositeAlarm', 'MonitoringHealthAlarm').logicalId]: [
          'AlarmName',
          healthAlarmName(loadAppConfig().project, config.stageName),
        ],
      };
      const nameProperties = [
        'BucketName',
        'TableName',
        'QueueName',
        'FunctionName',
        'RoleName',
        'TopicName',
        'DashboardName',
        'AlarmName',
        'LogGroupName',
        'ManagedPolicyName',
        'BudgetName',
      ];
      const resources = template.toJSON().Resources as Record<
        string,
        { Type: string; Properties?: Record<string, unknown> }
      >;
      for (const [id, r] of Object.entries(resources)) {
        // Event source mappings, aliases, notifications and budgets reference other resources' names, they do not set one.
        if (
          [
            'AWS::Lambda::EventSourceMapping',
            'AWS::Lambda::Alias',
            'AWS::Lambda::Version',
            'Custom::S3BucketNotifications',
            'Custom::S3AutoDeleteObjects',
          ].includes(r.Type)
        )
          continue;
        for (const property of nameProperties) {
          const exception = crossAccountNames[id];
          if (exception?.[0] === property) {
            expect(r.Properties?.[property]).toBe(exception[1]);
            continue;
          }
          expect(r.Properties?.[property], `${id}.${property}`).toBeUndefined();
        }
      }
    });

    it('synthesizes without warnings from any construct', () => {
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
      expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    });
  });
});

describe('what differs between stages', () => {
  it('prod shifts traffic through a `live` alias with a CodeDeploy canary that rolls back on alarms', () => {
    const { template, config } = stageOf(stages, 'prod');
    const alias = resourceOf(template, 'AWS::Lambda::Alias', 'ProcessorLiveAlias');
    expect(alias.resource.Properties.Name).toBe('live');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { 'Fn::Join': ['', [Match.anyValue(), ':live']] },
    });
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', {
      ComputePlatform: 'Lambda',
      TrafficRoutingConfig: {
        Type: 'TimeBasedCanary',
        TimeBasedCanary: {
          CanaryInterval: config.deployment.canaryMinutes,
          CanaryPercentage: CANARY_PERCENTAGE,
        },
      },
    });
    const errors = resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionErrorsAlarm').logicalId;
    const throttles = resourceOf(
      template,
      'AWS::CloudWatch::Alarm',
      'MonitoringFunctionThrottlesAlarm',
    ).logicalId;
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      AlarmConfiguration: {
        Enabled: true,
        Alarms: [{ Name: { Ref: errors } }, { Name: { Ref: throttles } }],
      },
      AutoRollbackConfiguration: {
        Enabled: true,
        Events: Match.arrayWith(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']),
      },
      DeploymentStyle: { DeploymentOption: 'WITH_TRAFFIC_CONTROL', DeploymentType: 'BLUE_GREEN' },
    });
    const group = resourceOf(template, 'AWS::CodeDeploy::DeploymentGroup', 'CanaryDeploymentGroup').logicalId;
    expect(alias.resource.UpdatePolicy).toEqual({
      CodeDeployLambdaAliasUpdate: {
        ApplicationName: expect.anything(),
        DeploymentGroupName: { Ref: group },
      },
    });
  });

  it('the CodeDeploy role may only move this alias and read the two rollback alarms (no AWS managed policy)', () => {
    const { template } = stageOf(stages, 'prod');
    const { resource: role } = resourceOf(template, 'AWS::IAM::Role', 'CanaryDeploymentRole');
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const fnId = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId;
    const aliasId = resourceOf(template, 'AWS::Lambda::Alias', 'ProcessorLiveAlias').logicalId;
    expect(managedPolicyStatements(template, 'CanaryDeploymentPolicy')).toEqual([
      {
        Sid: 'ShiftAliasTraffic',
        Effect: 'Allow',
        Action: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
        Resource: [arnOf(fnId), { Ref: aliasId }],
      },
      {
        Sid: 'ReadRollbackAlarms',
        Effect: 'Allow',
        Action: 'cloudwatch:DescribeAlarms',
        Resource: [
          arnOf(resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionErrorsAlarm').logicalId),
          arnOf(resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionThrottlesAlarm').logicalId),
        ],
      },
    ]);
  });

  it.each(['dev', 'staging'])(
    '%s deploys all at once: no alias, no CodeDeploy, the event source targets the function',
    (name) => {
      const { template } = stageOf(stages, name);
      template.resourceCountIs('AWS::Lambda::Alias', 0);
      template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
      const fnId = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId;
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: fnId } });
    },
  );

  it('prod backs up table and bucket daily with AWS Backup into an encrypted vault, kept the configured days', () => {
    const { template, config } = stageOf(stages, 'prod');
    const vault = resourceOf(template, 'AWS::Backup::BackupVault', 'BackupVault');
    expect(vault.resource.Properties.EncryptionKeyArn).toEqual(
      arnOf(resourceOf(template, 'AWS::KMS::Key', 'BackupBackupKey').logicalId),
    );
    expect(vault.resource.DeletionPolicy).toBe('Retain');
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [
          Match.objectLike({
            RuleName: 'Daily',
            ScheduleExpression: 'cron(0 3 * * ? *)',
            Lifecycle: { DeleteAfterDays: config.backup.backupRetentionDays },
            TargetBackupVault: Match.anyValue(),
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: {
        Resources: [arnOf(TABLE), arnOf(BUCKET)],
      },
    });
    const plan = resourceOf(template, 'AWS::Backup::BackupPlan', 'BackupPlan').resource;
    const [rule] = (plan.Properties.BackupPlan as { BackupPlanRule: Array<{ CopyActions?: unknown[] }> })
      .BackupPlanRule;
    expect(rule?.CopyActions ?? []).toEqual([]);
  });

  it.each(['dev', 'staging'])('%s relies on point-in-time recovery only (no AWS Backup)', (name) => {
    const { template } = stageOf(stages, name);
    template.resourceCountIs('AWS::Backup::BackupPlan', 0);
    template.resourceCountIs('AWS::Backup::BackupVault', 0);
  });

  it('non-production stages cost less: less memory, shorter log retention, smaller budget', () => {
    const fn = (name: string) =>
      resourceOf(stageOf(stages, name).template, 'AWS::Lambda::Function', 'ProcessorFunction').resource
        .Properties;
    expect(fn('dev').MemorySize).toBeLessThan(fn('prod').MemorySize as number);
    const retention = (name: string) =>
      resourceOf(stageOf(stages, name).template, 'AWS::Logs::LogGroup', FUNCTION_LOG_GROUP).resource
        .Properties.RetentionInDays as number;
    expect(retention('dev')).toBeLessThan(retention('staging'));
    expect(retention('staging')).toBeLessThan(retention('prod'));
  });
});
