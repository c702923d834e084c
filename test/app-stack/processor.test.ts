import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ACCESS_LOG_PREFIX } from '../../lib/app-stack/processor.ts';
import { LAMBDA_RUNTIME_ENVIRONMENT } from '../../lib/app-stack/processor-bundling.ts';
import { processorEnvironment } from '../../lib/config/processor-environment.ts';
import { resourceOf, stageOf } from './stage-synth.ts';
import {
  ACCOUNT_ID,
  arnOf,
  BUCKET,
  DEAD_LETTER_QUEUE,
  FUNCTION_LOG_GROUP,
  INGEST_QUEUE,
  LOG_BUCKET,
  STAGES,
  STATEFUL_LOGICAL_IDS,
  stages,
  TABLE,
} from './synthesized-stages.ts';

/** The Processor construct (lib/app-stack/processor.ts): its data path, in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);
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
});

describe('what differs between stages', () => {
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
