import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { crossAccountRoleName } from '../config/names.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { crossAccountRole } from './cross-account-role.ts';
import type { Processor } from './processor.ts';

export interface IntegTestRoleProps {
  /** The stage's configuration; `integTestTrustedAccount` is the only account that may assume the role. */
  readonly config: StageConfig;
  /** The processor whose bucket and table the tests exercise. */
  readonly processor: Processor;
}

/** Key prefix the post-deploy integration tests write under; nothing else in the bucket is theirs. */
export const INTEG_TEST_PREFIX = 'integ-tests/';

/**
 * Where a stage's integration tests write: `integ-tests/` under the stage's notification key prefix, so that
 * their objects raise notifications like any upload. (A key suffix filter is met by the tests' key names.)
 */
export function integTestKeyPrefix(stageKeyPrefix: string | undefined): string {
  return `${stageKeyPrefix ?? ''}${INTEG_TEST_PREFIX}`;
}

/** Name of a stage's integration-test role, derived from its stack name (unique per project, stage and account). */
export function integTestRoleName(stackName: string): string {
  return crossAccountRoleName(stackName, INTEG_TEST_PURPOSE);
}

const INTEG_TEST_PURPOSE = 'integ-test';

/**
 * The role post-deploy integration tests assume: put and delete objects under `integ-tests/`, read records from
 * the table and delete the records of `integ-tests/` keys, and use the two keys only as far as those calls need.
 * Nothing else.
 */
export class IntegTestRole extends Construct {
  readonly role: iam.Role;
  /**
   * The role's ARN as a literal another account's template can hold: the pipeline's CodeBuild role may assume
   * exactly this role (see crossAccountRole for why its name is fixed).
   */
  readonly crossAccountRoleArn: string;

  constructor(scope: Construct, id: string, props: IntegTestRoleProps) {
    super(scope, id);
    const { config, processor } = props;
    const testKeys = `${integTestKeyPrefix(config.objects.keyPrefix)}*`;
    const region = Stack.of(this).region;
    const via = (service: string) => ({
      StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` },
    });
    const { role, arn } = crossAccountRole(this, {
      purpose: INTEG_TEST_PURPOSE,
      trustedAccount: config.integTestTrustedAccount,
      description: `Post-deploy integration tests of the S3 object processor (${config.stageName})`,
    });
    this.role = role;
    this.crossAccountRoleArn = arn;
    const policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `Post-deploy integration tests (${config.stageName}): integ-tests/ objects, read records`,
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          sid: 'WriteTestObjects',
          actions: ['s3:PutObject', 's3:DeleteObject'],
          resources: [processor.bucket.arnForObjects(testKeys)],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptTestObjects',
          actions: ['kms:GenerateDataKey'],
          resources: [processor.objectsKey.keyArn],
          conditions: via('s3'),
        }),
        new iam.PolicyStatement({
          sid: 'ReadRecords',
          actions: ['dynamodb:GetItem', 'dynamodb:Query'],
          resources: [processor.table.tableArn],
        }),
        new iam.PolicyStatement({
          // Tests remove the records of their own objects once those are marked DELETED, so runs leave nothing
          // behind; LeadingKeys keeps every other record out of reach.
          sid: 'RemoveTestRecords',
          actions: ['dynamodb:DeleteItem'],
          resources: [processor.table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [testKeys] } },
        }),
        new iam.PolicyStatement({
          sid: 'DecryptRecords',
          actions: ['kms:Decrypt'],
          resources: [processor.tableKey.keyArn],
          conditions: via('dynamodb'),
        }),
      ],
    });
    const bucketLogicalId = Stack.of(this).getLogicalId(processor.bucket.node.defaultChild as CfnBucket);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${testKeys}]`,
      reason:
        'Tests create and delete uniquely named objects under their own prefix only; the rest of the bucket stays out of reach.',
    });
  }
}
