import { type IPolicyValidationPlugin, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Names of the cdk-nag rule packs every synth runs (as reported in `policy-validation-report.json`). */
export const NAG_PACK_NAMES = ['AwsSolutions', 'Serverless', 'NIST.800.53.R5'] as const;

/** The cdk-nag rule packs of this project, unregistered (tests run them directly with `validateScope`). */
export function nagPacks(scope?: IConstruct): IPolicyValidationPlugin[] {
  return [new AwsSolutionsChecks(scope), new ServerlessChecks(scope), new NIST80053R5Checks(scope)];
}

/**
 * Registers the cdk-nag packs on an App (or Stage): cdk-nag 3 is a CDK policy-validation plugin, so findings fail
 * `cdk synth` and land in the cloud assembly's `policy-validation-report.json`. It walks the construct tree from the
 * app root, so stacks nested inside Stages are checked too (proven in test/app-stack/nag.test.ts).
 */
export function addNagPacks(scope: IConstruct): void {
  Validations.of(scope).addPlugins(...nagPacks(scope));
}
