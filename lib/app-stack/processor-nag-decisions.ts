import { Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import type { StageConfig } from '../config/stage-config.ts';

/** The processor's constructs that carry a decided cdk-nag finding. */
export interface ProcessorNagScope {
  readonly function: lambda.IFunction;
  /** What the event source invokes (the `live` alias on canary stages). */
  readonly invokeTarget: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly bucket: s3.IBucket;
  readonly accessLogsBucket: s3.IBucket;
  readonly table: dynamodb.ITable;
}

/**
 * cdk-nag findings of the processor that are decisions, each with its reason, on the one construct it concerns.
 * (Findings that belong to one resource's own configuration are acknowledged where it is created.)
 */
export function acknowledgeProcessorDecisions(processor: ProcessorNagScope, config: StageConfig): void {
  const ack = (scope: IConstruct, id: string, reason: string) =>
    Validations.of(scope).acknowledge({ id, reason });
  const sqsDeadLetters =
    'Invoked synchronously by the SQS event source, never asynchronously: failed messages return to the ingest queue and its redrive policy moves them to the dead-letter queue after maxReceiveCount receives.';
  ack(processor.function, 'Serverless-LambdaDLQ', sqsDeadLetters);
  ack(processor.function, 'NIST.800.53.R5-LambdaDLQ', sqsDeadLetters);
  ack(
    processor.invokeTarget,
    'Serverless-LambdaEventSourceMappingDestination',
    'SQS event source mappings support no on-failure destination; failures reach the dead-letter queue through the ingest queue redrive policy.',
  );
  ack(
    processor.deadLetterQueue,
    'Serverless-SQSRedrivePolicy',
    'This is the dead-letter queue itself: its messages stay 14 days for inspection and are redriven to the ingest queue by the operator (tools/redrive).',
  );
  if (!config.network.vpc) {
    ack(
      processor.function,
      'NIST.800.53.R5-LambdaInsideVPC',
      'VPC mode is a per-stage decision (config network.vpc): the function only calls S3 and DynamoDB over TLS with IAM-signed requests and reaches no private network resource.',
    );
  }
  const replication =
    'Cross-region copies are a disaster-recovery decision per stage (config backup.copyToRegion via AWS Backup, docs/ DR runbook), not object replication of every upload.';
  ack(processor.bucket, 'NIST.800.53.R5-S3BucketReplicationEnabled', replication);
  ack(processor.accessLogsBucket, 'NIST.800.53.R5-S3BucketReplicationEnabled', replication);
  ack(
    processor.accessLogsBucket,
    'NIST.800.53.R5-S3DefaultEncryptionKMS',
    'S3 server access log delivery only supports SSE-S3 target buckets; the logs are encrypted at rest with S3-managed keys.',
  );
  if (!config.backup.awsBackup) {
    ack(
      processor.table,
      'NIST.800.53.R5-DynamoDBInBackupPlan',
      'Non-production stage: point-in-time recovery (35 days) is its backup; AWS Backup plans are enabled per stage in config (prod).',
    );
  }
}
