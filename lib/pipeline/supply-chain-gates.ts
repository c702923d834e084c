import type { ShellStep } from 'aws-cdk-lib/pipelines';

/**
 * The supply-chain gates of the synth step (docs/supply-chain.md), run right after `npm ci` so that a release
 * stops before anything is built from a vulnerable, tampered or disallowed dependency:
 * - `npm run audit`: npm audit of the production dependencies (fails at high) and of everything (fails at
 *   critical), and `npm audit signatures` (registry signatures and provenance attestations). A registry that
 *   cannot be asked fails the build with one line saying so;
 * - `npm run secrets`: secretlint's recommended rules over the checkout;
 * - `npm run sbom`: the CycloneDX SBOMs of the function bundle, the CDK app and the asset publisher the Assets
 *   stage runs, into SBOM_DIRECTORY;
 * - `npm run licenses`: the license policy over those SBOMs.
 * Each command is the one a developer runs; the order is cheapest first.
 */

/** Directory the SBOMs are written to, published as the synth step's extra output artifact. */
export const SBOM_DIRECTORY = 'sbom';

export const SUPPLY_CHAIN_GATE_COMMANDS: readonly string[] = [
  'npm run audit',
  'npm run secrets',
  `npm run sbom -- --out ${SBOM_DIRECTORY}`,
  `npm run licenses -- --sbom ${SBOM_DIRECTORY}`,
];

/**
 * Publishes the SBOM directory as an output of the step. CDK Pipelines turns every output directory of a
 * CodeBuild step into a CodePipeline output artifact (a secondary artifact in the buildspec, exporting every file
 * under the directory), stored in the pipeline's artifact bucket with each execution: the record of what that
 * release shipped. So each file `npm run sbom` writes (tools/lib/sbom-files.ts) is in it without a list here.
 */
export function publishSboms<T extends ShellStep>(step: T): T {
  step.addOutputDirectory(SBOM_DIRECTORY);
  return step;
}
