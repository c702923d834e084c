import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { crossAccountRoleName } from '../config/names.ts';

export interface CrossAccountRoleProps {
  /** What the role is for: the suffix of its name (`<stack name>-<purpose>`). */
  readonly purpose: string;
  /** The one account that may assume it (the tooling account, or a sandbox's own). */
  readonly trustedAccount: string;
  readonly description: string;
}

/**
 * A role of a stage's stack that another account (the pipeline's) names by ARN, created as `Role` in `scope`.
 * Its name is fixed at synth time, derived from the stack name, rather than generated: a generated name is only
 * known after the deploy, too late for a template in another account. Renaming replaces a role that holds no data.
 */
export function crossAccountRole(
  scope: Construct,
  props: CrossAccountRoleProps,
): { readonly role: iam.Role; readonly arn: string } {
  const stack = Stack.of(scope);
  const roleName = crossAccountRoleName(stack.stackName, props.purpose);
  const role = new iam.Role(scope, 'Role', {
    roleName,
    assumedBy: new iam.AccountPrincipal(props.trustedAccount),
    description: props.description,
  });
  return { role, arn: `arn:${Aws.PARTITION}:iam::${stack.account}:role/${roleName}` };
}
