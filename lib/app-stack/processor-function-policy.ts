import { Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config.ts';

/** What the function works on: each statement of its policy names one of these. */
export interface ProcessorFunctionPolicyProps {
  /** The stage's configuration (`objects.keyPrefix`, `network.vpc`, `stageName`). */
  readonly config: StageConfig;
  /** The role the policy is attached to. */
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly bucket: s3.Bucket;
  readonly objectsKey: kms.IKey;
  readonly ingestQueue: sqs.IQueue;
  readonly queueKey: kms.IKey;
  readonly table: dynamodb.ITable;
  readonly tableKey: kms.IKey;
}

/**
 * Every permission of the processor function, written out as one managed policy (`FunctionPolicy` in `scope`):
 * each statement names its action and its resource, with KMS use tied to the one service it serves.
 */
export function addProcessorFunctionPolicy(
  scope: Construct,
  props: ProcessorFunctionPolicyProps,
): iam.ManagedPolicy {
  const { config } = props;
  const region = Stack.of(scope).region;
  const via = (service: string) => ({
    StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` },
  });
  // Only keys that raise notifications are ever read.
  const readablePrefix = config.objects.keyPrefix ?? '';
  const statements = [
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [props.logGroup.logGroupArn],
    }),
    new iam.PolicyStatement({
      sid: 'ReadObjects',
      // Ranged GETs of the exact version an event announced (GetObject with VersionId needs GetObjectVersion).
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [props.bucket.arnForObjects(`${readablePrefix}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'TellMissingObjectsApart',
      // Without ListBucket S3 answers 403 instead of 404 for a deleted key or version, and the processor could
      // not tell "object gone" (record it) from "access denied" (retry, then dead-letter).
      actions: ['s3:ListBucket'],
      resources: [props.bucket.bucketArn],
    }),
    new iam.PolicyStatement({
      sid: 'DecryptObjects',
      actions: ['kms:Decrypt'],
      resources: [props.objectsKey.keyArn],
      conditions: via('s3'),
    }),
    new iam.PolicyStatement({
      sid: 'ConsumeIngestQueue',
      actions: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      ],
      resources: [props.ingestQueue.queueArn],
    }),
    new iam.PolicyStatement({
      sid: 'DecryptIngestMessages',
      actions: ['kms:Decrypt'],
      resources: [props.queueKey.keyArn],
      conditions: via('sqs'),
    }),
    new iam.PolicyStatement({
      sid: 'WriteObjectRecords',
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resources: [props.table.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'UseTableKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      resources: [props.tableKey.keyArn],
      conditions: via('dynamodb'),
    }),
    new iam.PolicyStatement({
      sid: 'PublishTraces',
      actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
      resources: ['*'],
    }),
  ];
  if (config.network.vpc) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ManageVpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
  }
  const policy = new iam.ManagedPolicy(scope, 'FunctionPolicy', {
    description: `S3 object processor (${config.stageName}): every permission of the function`,
    statements,
    roles: [props.role],
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray PutTraceSegments/PutTelemetryRecords (and, in VPC mode, the EC2 network-interface actions Lambda needs) support no resource-level permissions; every other statement names its resource.',
  });
  const bucketLogicalId = Stack.of(scope).getLogicalId(props.bucket.node.defaultChild as s3.CfnBucket);
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${readablePrefix}*]`,
    reason:
      'GetObject/GetObjectVersion on the keys that raise notifications: any of them may be uploaded and must be read; no write, delete or ACL action is granted.',
  });
  return policy;
}
