import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, Stage } from 'aws-cdk-lib';
import type { CodePipeline } from 'aws-cdk-lib/pipelines';
import { ESM_REQUIRE_BANNER } from '../app-stack/processor-bundling.ts';
import { pipelineAssetBuildSpecFiles } from '../cdk-internals.ts';
import { PROJECT_ROOT } from '../config/resolve.ts';

/** Where, inside the cloud assembly, the synth puts the tools the pipeline's later actions run. */
export const PIPELINE_TOOLS_DIR = 'pipeline-tools';
/** The bundled asset publisher, relative to the cloud assembly root (the Assets action's working directory). */
export const ASSET_PUBLISHER = `${PIPELINE_TOOLS_DIR}/publish-assets.mjs`;
/** The Node.js major of the build image that runs it (`runtime-versions` of every project). */
export const PUBLISHER_TARGET = 'node22';
const PUBLISHER_ENTRY = fileURLToPath(new URL('../../services/asset-publisher/src/cli.ts', import.meta.url));

/** The command CDK Pipelines puts in every asset action; ours keeps its arguments and replaces the program. */
const CDK_ASSETS_COMMAND = /^cdk-assets (--path "[^"]+" --verbose publish "[^"]+")$/;
const CDK_ASSETS_INSTALL = /^npm install -g cdk-assets@/;

/**
 * Makes the Assets stage publish with services/asset-publisher (cdk-assets' command line over the
 * @aws-cdk/cdk-assets-lib that package-lock.json pins) instead of `npm install -g cdk-assets@...`, whose newest
 * release cannot read the manifests this aws-cdk-lib writes (see services/asset-publisher/src/publish-assets.ts).
 * Call after `buildPipeline()`: it bundles the publisher into the cloud assembly and rewrites the asset actions'
 * buildspecs, which CDK Pipelines writes into the assembly too. Fails synth if CDK's commands change shape.
 */
export function publishAssetsWithPinnedLibrary(pipeline: CodePipeline): void {
  const assemblyDir = Stage.of(pipeline)?.outdir;
  if (assemblyDir === undefined)
    throw new Error('publishAssetsWithPinnedLibrary: the pipeline is not in an App');
  for (const file of pipelineAssetBuildSpecFiles(pipeline)) {
    rewriteAssetBuildSpec(path.join(assemblyDir, file));
  }
  // Tests that skip bundling (`aws:cdk:bundling-stacks`) skip this bundle too.
  if (Stack.of(pipeline).bundlingRequired) bundleAssetPublisher(assemblyDir);
}

export interface BundleAssetPublisherOptions {
  /**
   * Where esbuild also writes its metafile (JSON: every input file and the bytes each put into the bundle), for
   * `npm run sbom`. It does not change the bundle's bytes (test/tools/sbom.test.ts compares them).
   */
  readonly metafile?: string;
}

/**
 * esbuild, the same binary NodejsFunction runs (as a process, like CDK does: the app does not load the bundler
 * as a library): one self-contained ES module, so the Assets action installs nothing at publish time. It runs in
 * the project root, whatever the caller's directory: esbuild names each input in a comment relative to its
 * working directory, so only then are the bytes the same wherever the bundle is built (the synth, the SBOM).
 */
export function bundleAssetPublisher(assemblyDir: string, options: BundleAssetPublisherOptions = {}): string {
  const outfile = path.join(assemblyDir, ASSET_PUBLISHER);
  mkdirSync(path.dirname(outfile), { recursive: true });
  execFileSync(
    path.join(PROJECT_ROOT, 'node_modules', '.bin', 'esbuild'),
    [
      PUBLISHER_ENTRY,
      `--outfile=${outfile}`,
      ...(options.metafile === undefined ? [] : [`--metafile=${options.metafile}`]),
      '--bundle',
      '--platform=node',
      '--format=esm',
      `--target=${PUBLISHER_TARGET}`,
      // The SDK and cdk-assets-lib have CommonJS corners that require() node built-ins at run time.
      `--banner:js=${ESM_REQUIRE_BANNER}`,
      '--legal-comments=eof',
      '--log-level=warning',
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return outfile;
}

interface BuildSpecFile {
  phases?: { install?: { commands?: string[] }; build?: { commands?: string[] } };
}

function rewriteAssetBuildSpec(file: string): void {
  const spec = JSON.parse(readFileSync(file, 'utf8')) as BuildSpecFile;
  const install = spec.phases?.install?.commands ?? [];
  const build = spec.phases?.build?.commands ?? [];
  const unexpected = build.filter((c) => !CDK_ASSETS_COMMAND.test(c));
  if (build.length === 0 || unexpected.length > 0 || !install.some((c) => CDK_ASSETS_INSTALL.test(c))) {
    throw new Error(
      `${file}: CDK Pipelines no longer writes asset actions as "npm install -g cdk-assets@..." + "cdk-assets --path ... publish ..." (unexpected: ${JSON.stringify(unexpected.length > 0 ? unexpected : install)}); update lib/pipeline/asset-publishing.ts for this aws-cdk-lib`,
    );
  }
  const phases = spec.phases as NonNullable<BuildSpecFile['phases']>;
  phases.install = {
    ...phases.install,
    commands: [
      ...install.filter((c) => !CDK_ASSETS_INSTALL.test(c)),
      // Nothing to install: the publisher came with the assembly. Fail early, and clearly, if it did not.
      `test -f ${ASSET_PUBLISHER} || { echo "${ASSET_PUBLISHER} is missing from the cloud assembly: was it synthesized by this repository's cdk synth?"; exit 1; }`,
    ],
  };
  phases.build = {
    ...phases.build,
    commands: build.map((c) => c.replace(CDK_ASSETS_COMMAND, `node ${ASSET_PUBLISHER} $1`)),
  };
  // Same formatting CDK Pipelines uses for the file, so a diff of the assembly stays readable.
  writeFileSync(file, JSON.stringify(spec, null, 2), { encoding: 'utf-8' });
}
