import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { BOOTSTRAP_QUALIFIER } from '../../lib/pipeline/stage-steps.ts';
import { type ResolvedTemplate, resolveTemplate } from './cfn-resolve.ts';

/**
 * The CDK bootstrap stack of an account, as `cdk bootstrap --trust <tooling> --cloudformation-execution-policies
 * AdministratorAccess` (README "Deploy") creates it: read from the bootstrap template the installed CDK CLI ships,
 * never hand-written, so the deploy-time flows are evaluated against the roles the CLI really creates.
 */
export const BOOTSTRAP_TEMPLATE_FILE = join(
  PROJECT_ROOT,
  'node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml',
);

/** The execution policy README "Deploy" passes to `cdk bootstrap`. */
export const EXECUTION_POLICY = 'arn:aws:iam::aws:policy/AdministratorAccess';

let template: unknown;

/** The template of the installed CDK CLI, parsed once. */
export function bootstrapTemplate(): Record<string, unknown> {
  template ??= parse(readFileSync(BOOTSTRAP_TEMPLATE_FILE, 'utf8'));
  return template as Record<string, unknown>;
}

export interface BootstrapOptions {
  readonly account: string;
  readonly region: string;
  /** `--trust`: accounts that may publish assets and deploy here. */
  readonly trustedAccounts: readonly string[];
  /** `--trust-for-lookup`. @default none */
  readonly trustedAccountsForLookup?: readonly string[];
}

/** The bootstrap stack of one environment, with every intrinsic resolved. */
export function bootstrapStack(options: BootstrapOptions): ResolvedTemplate {
  return resolveTemplate(bootstrapTemplate(), {
    account: options.account,
    region: options.region,
    stackName: 'CDKToolkit',
    parameters: {
      Qualifier: BOOTSTRAP_QUALIFIER,
      TrustedAccounts: options.trustedAccounts.join(','),
      TrustedAccountsForLookup: (options.trustedAccountsForLookup ?? []).join(','),
      CloudFormationExecutionPolicies: options.trustedAccounts.length > 0 ? EXECUTION_POLICY : '',
    },
  });
}

/** Logical IDs of the bootstrap roles in the template, by the role a flow refers to. */
export const BOOTSTRAP_ROLES = {
  deploy: 'DeploymentActionRole',
  'file-publishing': 'FilePublishingRole',
  'image-publishing': 'ImagePublishingRole',
  lookup: 'LookupRole',
  'cfn-exec': 'CloudFormationExecutionRole',
} as const;
export type BootstrapRole = keyof typeof BOOTSTRAP_ROLES;
