import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import {
  bucketNotificationsHandler,
  bucketNotificationsHandlerPolicy,
  type CdkProviderId,
  cdkProvider,
} from '../cdk-internals.ts';

/**
 * CDK's own deploy-time Lambdas (custom-resource providers, the bucket-notifications handler) attach
 * AWSLambdaBasicExecutionRole, i.e. logs on `*`, and log to a group without retention. These functions give each
 * one a log group of ours (retention, our key) and a role that may write only there. The log groups are created
 * in `scope` (the Processor) under the IDs they have always had.
 */

/** Confines the stack-wide provider `providerId` (call after the feature that creates it). */
export function confineCdkProvider(
  scope: Construct,
  providerId: CdkProviderId,
  logGroupId: string,
  logsKey: kms.IKey,
): void {
  const { provider, role, handler } = cdkProvider(Stack.of(scope), providerId);
  const logGroup = new logs.LogGroup(scope, logGroupId, {
    retention: logs.RetentionDays.ONE_WEEK,
    encryptionKey: logsKey,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  handler.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName });
  role.addPropertyDeletionOverride('ManagedPolicyArns');
  provider.addToRolePolicy({
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: logGroup.logGroupArn,
  });
}

export interface NotificationsHandlerConfinementProps {
  /** The bucket whose notification configuration the handler writes. */
  readonly bucket: s3.Bucket;
  /** The managed policy of the handler's role (attached when the role is created); receives the statements. */
  readonly policy: iam.ManagedPolicy;
  readonly logsKey: kms.IKey;
}

/**
 * The bucket-notifications handler may only write this bucket's notification configuration and its own log
 * group (call after the bucket's first `addEventNotification`).
 */
export function confineNotificationsHandler(
  scope: Construct,
  props: NotificationsHandlerConfinementProps,
): void {
  const handler = bucketNotificationsHandler(Stack.of(scope));
  const handlerLogs = new logs.LogGroup(scope, 'NotificationsHandlerLogGroup', {
    retention: logs.RetentionDays.ONE_WEEK,
    encryptionKey: props.logsKey,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  handler.addPropertyOverride('LoggingConfig', { LogGroup: handlerLogs.logGroupName });
  // CDK also builds a policy for the handler; attached to our immutable role view it is never synthesized.
  Validations.of(bucketNotificationsHandlerPolicy(props.bucket)).acknowledge({
    id: 'NIST.800.53.R5-IAMNoInlinePolicy',
    reason:
      'Not in the template: CDK creates this policy for the notifications handler, but it attaches to no role (the role is our immutable view), so it is never synthesized.',
  });
  props.policy.addStatements(
    new iam.PolicyStatement({
      actions: ['s3:PutBucketNotification', 's3:GetBucketNotification'],
      resources: [props.bucket.bucketArn],
    }),
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [handlerLogs.logGroupArn],
    }),
  );
}
