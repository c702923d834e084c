import { Aspects, type IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct, IConstruct } from 'constructs';

/** Sid of the key-policy statement that confines kms:CreateGrant to grants AWS services make for AWS resources. */
export const GRANTS_ONLY_FOR_AWS_RESOURCES = 'GrantsOnlyForAwsResources';

/**
 * CT.KMS.PR.3. Grants are how AWS services hold on to a key (DynamoDB for a table, AWS Backup for a vault): the
 * service calls CreateGrant on the caller's behalf and KMS sets kms:GrantIsForAWSResource to true. Nothing in this
 * project ever needs a person or a role to create a grant directly, and a direct grant is a way around the key
 * policy that no policy review sees (it lives outside every policy document). So every key denies CreateGrant to
 * every principal unless the grant is for an AWS resource; an absent key counts as false (BoolIfExists), and AWS
 * service principals acting as themselves are left alone. test/security/flows.ts proves with the policy engine
 * that the services' grants still work and that a direct CreateGrant, even by an administrator, is denied.
 */
export function grantsOnlyForAwsResources(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: GRANTS_ONLY_FOR_AWS_RESOURCES,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: {
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false' },
      Bool: { 'aws:PrincipalIsAWSService': 'false' },
    },
  });
}

const restricted = new WeakSet<kms.Key>();

/** Adds the statement to every key under the scope, including keys CDK creates (e.g. the pipeline artifact key). */
class GrantsOnlyForAwsResources implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof kms.Key) || restricted.has(node)) return;
    restricted.add(node);
    node.addToResourcePolicy(grantsOnlyForAwsResources());
  }
}

/** Every key of `scope`'s stacks: a key added later cannot be forgotten. */
export function restrictKeyGrants(scope: Construct): void {
  Aspects.of(scope).add(new GrantsOnlyForAwsResources());
}
