/**
 * The reviewed license policy: which licenses may enter the function bundle, and which the CDK app may load at
 * synth and the pipeline's asset publisher may contain. `npm run licenses` checks the SBOMs against it and fails
 * naming the package and its license. Changing this file is a decision for review: say in the commit which
 * package needs the change and who looked at the license. (docs/supply-chain.md: "A disallowed license".)
 *
 * The two lists differ because the code they cover is used differently:
 * - the function bundle is copied, minified, into every adopter's AWS accounts and runs their production
 *   workload; adopters' legal policies commonly forbid copyleft there, so only permissive licenses that ask for
 *   no more than keeping a notice are allowed;
 * - the CDK app runs at synth, in the pipeline and on developer machines, and only its output (CloudFormation
 *   templates) is deployed; nothing of it is redistributed, so file-level copyleft and the newer permissive
 *   licenses some build libraries use are acceptable there too;
 * - the asset publisher (pipeline-tools/publish-assets.mjs) is build tooling of the same kind, so it is judged
 *   by the CDK app's list: the synth bundles it into the cloud assembly, the pipeline's Assets stage runs it in
 *   the tooling account's CodeBuild to upload the assets, and it is never deployed into a stage nor handed to
 *   anyone. That it holds each stage account's file-publishing role is a matter for the vulnerability and
 *   provenance gates (it is made of production dependencies, which `npm audit --omit=dev` vets), not for licenses.
 * The GPL family (GPL, LGPL, AGPL) is in neither list: its obligations follow the code into what links it.
 */

/** Allowed SPDX license identifiers, each with the reason it is acceptable. */
export type LicenseAllowlist = Readonly<Record<string, string>>;

/** One package version allowed despite its declared license, with the review that allowed it. */
export interface LicenseException {
  /** `name@version`: pinned, so that an upgrade is reviewed again. */
  readonly package: string;
  /** The license as the SBOM states it (an expression, an id, or a name). */
  readonly license: string;
  readonly reason: string;
}

export interface LicensePolicy {
  /** What the policy covers, as messages name it ("function bundle"). */
  readonly scope: string;
  readonly allowed: LicenseAllowlist;
  readonly exceptions: readonly LicenseException[];
}

/** What may ship inside the Lambda function's bundle. */
export const FUNCTION_LICENSES: LicenseAllowlist = {
  'Apache-2.0':
    'Permissive with an explicit patent grant; asks that notices are kept. The AWS SDK, Smithy and most AWS libraries use it.',
  MIT: 'Permissive; asks only that the copyright notice is kept with copies.',
  'MIT-0': 'MIT without even the notice condition (Powertools for AWS Lambda uses it).',
  ISC: 'Permissive; equivalent to MIT (the default license of npm init).',
  'BSD-2-Clause': 'Permissive; asks only that the copyright notice is kept.',
  'BSD-3-Clause': 'Permissive; BSD-2-Clause plus a ban on using the authors\u2019 names for endorsement.',
  '0BSD': 'Public-domain equivalent: no conditions at all.',
};

/** What the CDK app may load at synth: everything the function may contain, and more. */
export const APP_LICENSES: LicenseAllowlist = {
  ...FUNCTION_LICENSES,
  'BlueOak-1.0.0':
    'Permissive (notice and patent terms like Apache-2.0, in plain words); minimatch, glob and other isaacs packages inside aws-cdk-lib use it.',
  'MPL-2.0':
    'File-level copyleft: obligations apply only to distributing modified MPL files, and synth-time code is neither modified nor distributed.',
  'CC0-1.0': 'Public-domain dedication; used by data-only packages (e.g. SPDX and MIME lists).',
  Unlicense: 'Public-domain dedication.',
};

export const FUNCTION_POLICY: LicensePolicy = {
  scope: 'function bundle',
  allowed: FUNCTION_LICENSES,
  exceptions: [],
};

export const APP_POLICY: LicensePolicy = {
  scope: 'CDK app',
  allowed: APP_LICENSES,
  exceptions: [],
};

/** What the asset publisher's bundle may contain: the CDK app's list (see above for why). */
export const PUBLISHER_POLICY: LicensePolicy = {
  scope: 'asset publisher',
  allowed: APP_LICENSES,
  exceptions: [],
};
