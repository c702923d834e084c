import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { checkTemplateSecurity, type SecurityViolation } from './template-policy.ts';

/** The checker itself: it must flag each deliberately bad construct and accept the correct way of doing it. */

function templateOf(build: (stack: Stack) => void): Record<string, unknown> {
  const stack = new Stack(new App(), 'Probe', { env: { account: '222222222222', region: 'eu-west-1' } });
  build(stack);
  return Template.fromStack(stack).toJSON();
}

const rulesByResource = (violations: readonly SecurityViolation[]) =>
  violations.map((v) => `${v.type} ${v.rule}`).sort();

describe('checkTemplateSecurity flags bad constructs', () => {
  const bad = checkTemplateSecurity(
    templateOf((stack) => {
      const role = new iam.Role(stack, 'WideRole', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:*'], resources: ['arn:aws:s3:::some-bucket/*'] }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['*'], resources: ['arn:aws:sqs:eu-west-1:222222222222:q'] }),
      );
      role.addToPolicy(new iam.PolicyStatement({ notActions: ['iam:*'], resources: ['*'] }));
      Validations.of(role).acknowledge({
        id: 'CloudFormation-Validate::W2512',
        reason: 'NotAction in an Allow is the deliberate defect this negative test must catch.',
      });
      new iam.Policy(stack, 'LogsEverywhere', {
        roles: [role],
        statements: [
          new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: ['*'] }),
          new iam.PolicyStatement({
            actions: ['logs:CreateLogStream'],
            resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`],
          }),
        ],
      });
      new iam.Role(stack, 'BasicExecutionRole', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'),
          iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonS3FullAccess'),
        ],
      });
      new s3.CfnBucket(stack, 'PlainBucket');
      const openBucket = new s3.Bucket(stack, 'PublicPolicyBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
      });
      openBucket.addToResourcePolicy(
        new iam.PolicyStatement({
          actions: ['s3:*'],
          principals: [new iam.AccountRootPrincipal()],
          resources: [openBucket.arnForObjects('*')],
        }),
      );
      new sqs.Queue(stack, 'PlainQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
      new sns.Topic(stack, 'PlainTopic');
      new dynamodb.CfnTable(stack, 'PlainTable', {
        keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
        attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
        billingMode: 'PAY_PER_REQUEST',
      });
    }),
  );

  it('reports every broken rule, naming the resource', () => {
    expect(rulesByResource(bad.violations)).toEqual(
      [
        'AWS::IAM::Policy allow-not-action', // the Role's default policy (NotAction)
        'AWS::IAM::Policy wildcard-action', // s3:*
        'AWS::IAM::Policy wildcard-action', // *
        'AWS::IAM::Policy logs-on-star', // logs:PutLogEvents on *
        'AWS::IAM::Policy logs-on-star', // logs:CreateLogStream on log-group:*
        'AWS::IAM::Role logs-on-star', // AWSLambdaBasicExecutionRole
        'AWS::IAM::Role broad-managed-policy', // AmazonS3FullAccess
        'AWS::S3::Bucket unencrypted',
        'AWS::S3::Bucket no-tls-only-policy', // PlainBucket
        'AWS::S3::Bucket no-tls-only-policy', // PublicPolicyBucket: a policy, but no TLS deny
        'AWS::S3::BucketPolicy wildcard-action', // s3:* allowed in a resource policy
        'AWS::SQS::Queue unencrypted',
        'AWS::SQS::Queue no-tls-only-policy',
        'AWS::SNS::Topic unencrypted',
        'AWS::SNS::Topic no-tls-only-policy',
        'AWS::DynamoDB::Table unencrypted',
      ].sort(),
    );
    expect(
      bad.violations.find((v) => v.rule === 'logs-on-star' && v.type === 'AWS::IAM::Role')?.detail,
    ).toMatch(/AWSLambdaBasicExecutionRole/);
  });
});

describe('checkTemplateSecurity accepts the correct constructs', () => {
  const good = checkTemplateSecurity(
    templateOf((stack) => {
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const bucket = new s3.Bucket(stack, 'Bucket', {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: key,
        enforceSSL: true,
      });
      const queue = new sqs.Queue(stack, 'Queue', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        enforceSSL: true,
      });
      new sqs.Queue(stack, 'ManagedSseQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      new sns.Topic(stack, 'Topic', { masterKey: key, enforceSSL: true });
      const table = new dynamodb.Table(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
      });
      const logGroup = new logs.LogGroup(stack, 'Logs');
      const role = new iam.Role(stack, 'Role', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      new iam.Policy(stack, 'Narrow', {
        roles: [role],
        statements: [
          new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }),
          new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage'], resources: [queue.queueArn] }),
          new iam.PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [table.tableArn] }),
          new iam.PolicyStatement({
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [logGroup.logGroupArn],
          }),
          new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] }),
        ],
      });
      new lambda.CfnPermission(stack, 'Invoke', {
        action: 'lambda:InvokeFunction',
        functionName: 'f',
        principal: 's3.amazonaws.com',
      });
    }),
  );

  it('finds nothing, and did look at every kind of resource', () => {
    expect(good.violations).toEqual([]);
    expect(good.coverage).toMatchObject({ buckets: 1, queues: 2, topics: 1, tables: 1 });
    expect(good.coverage.policyDocuments).toBeGreaterThanOrEqual(5);
  });
});
