/**
 * Software bills of materials (CycloneDX JSON) of what this project ships and what builds it:
 * - function.cdx.json: the third-party packages inside the Lambda function's code asset, read from the asset a
 *   synthesized stage deploys (its source map names every file esbuild put into the bundle);
 * - app.cdx.json: the packages whose code the CDK app loads while it synthesizes (the app of cdk.json, run as the CLI
 *   runs it);
 * - publisher.cdx.json: the third-party packages inside the asset publisher the pipeline's Assets stage runs
 *   (pipeline-tools/publish-assets.mjs, bundled by the synth), read from esbuild's metafile of the same build.
 * The license gate (`npm run licenses`) and the pipeline's build artifact read these files.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Enums } from '@cyclonedx/cyclonedx-library';
import { ConfigError } from '../lib/config/app-config.ts';
import { loadProjectConfig, PROJECT_ROOT } from '../lib/config/resolve.ts';
import type { AppConfig } from '../lib/config/stage-config.ts';
import { ASSET_PUBLISHER, bundleAssetPublisher, PUBLISHER_TARGET } from '../lib/pipeline/asset-publishing.ts';
import { type SynthesizedProcessorStage, synthesizeProcessorStage } from '../lib/stages/function-asset.ts';
import { recordAppModules } from './lib/app-packages.ts';
import { type Io, parseCommandArgs, runTool, ToolError } from './lib/cli.ts';
import { type InstalledPackage, packagesOwning, readLockfile } from './lib/npm-packages.ts';
import { buildSbom, fileHashes, SPEC_VERSION, serializeSbom, validateSbom } from './lib/sbom-builder.ts';
import { DEFAULT_SBOM_DIR, SBOM_FILES } from './lib/sbom-files.ts';

export const SBOM_HELP = `Usage: npm run sbom -- [options]

Writes three CycloneDX ${SPEC_VERSION} JSON documents, validated against the CycloneDX schema:
  function.cdx.json   the third-party packages inside the Lambda function's code asset, as a synthesized stage
                      deploys it (from the bundle's source map), with the bundle's SHA-256 and SHA-512
  app.cdx.json        the packages whose code the CDK app loads while it synthesizes (the app of cdk.json, run
                      once the way \`cdk synth\` runs it)
  publisher.cdx.json  the third-party packages inside the asset publisher the pipeline's Assets stage runs
                      (${ASSET_PUBLISHER} of the cloud assembly, bundled as the synth does;
                      from esbuild's metafile), with the bundle's SHA-256 and SHA-512
Each component has name, version, license (from its package.json), purl and the tarball hash of
package-lock.json. \`npm run licenses\` checks them against the license policy.

Options:
  --out <dir>      where to write them (default: sbom/, ignored by git)
  --stage <name>   stage whose function asset is described (default: the production stage; every stage deploys
                   the same bundle, test/app-stack/processor-bundling.test.ts checks that)
  --json           print a JSON summary instead of text
  -h, --help       this text`;

/** Temporary cloud assemblies and publisher bundles of `npm run sbom`, in the project root (ignored by git). */
export const SYNTH_DIR_PREFIX = '.sbom-synth-';

/** One written document. */
export interface SbomSummary {
  readonly file: string;
  readonly components: number;
  readonly subject: string;
}

/**
 * The files a bundle contains, as absolute paths: its source map's `sources`, resolved from the map's directory
 * (and `sourceRoot`). Every file esbuild emitted code from is listed there; a file that is not on this machine
 * means the asset was bundled elsewhere and cannot be attributed here.
 */
export function bundleSources(assetDir: string, bundleFile = 'index.mjs'): string[] {
  const mapFile = path.join(assetDir, `${bundleFile}.map`);
  if (!existsSync(mapFile)) {
    throw new ToolError(
      `${mapFile} does not exist: the SBOM reads the bundle's contents from its source map (sourceMap in lib/app-stack/processor-bundling.ts)`,
    );
  }
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources?: unknown; sourceRoot?: unknown };
  if (!Array.isArray(map.sources)) throw new ToolError(`${mapFile} has no "sources" list`);
  const base = path.resolve(assetDir, typeof map.sourceRoot === 'string' ? map.sourceRoot : '');
  return map.sources.map((source) => {
    const file = path.resolve(base, String(source));
    if (!existsSync(file)) {
      throw new ToolError(`${mapFile} names ${source}, which is not on this machine (${file})`);
    }
    return file;
  });
}

function projectPackageJson(): { version: string; dependencies: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    version?: string;
    dependencies?: Record<string, string>;
  };
  return { version: pkg.version ?? '0.0.0', dependencies: Object.keys(pkg.dependencies ?? {}) };
}

function installedVersion(name: string): string {
  const file = path.join(PROJECT_ROOT, 'node_modules', name, 'package.json');
  return existsSync(file) ? String(JSON.parse(readFileSync(file, 'utf8')).version) : 'not installed';
}

/** The packages in the function's bundle, and the BOM that describes the asset. */
export function functionSbom(synth: SynthesizedProcessorStage): {
  json: string;
  packages: InstalledPackage[];
} {
  const { packages } = packagesOwning(bundleSources(synth.assetDir));
  const fn = synth.resources[synth.functionLogicalId]?.Properties ?? {};
  const project = projectPackageJson();
  const bom = buildSbom({
    subject: {
      type: Enums.ComponentType.Application,
      group: synth.project,
      name: 'processor-function',
      version: project.version,
      description: `Code asset of the processor Lambda function as stage ${synth.stage.stageName} deploys it (CDK asset ${synth.assetHash}): index.mjs, bundled by esbuild, and its source map`,
      files: [path.join(synth.assetDir, 'index.mjs'), path.join(synth.assetDir, 'index.mjs.map')],
      properties: {
        stage: synth.stage.stageName,
        'cdk-asset-hash': synth.assetHash,
        'lambda-handler': String(fn.Handler),
        'lambda-runtime': String(fn.Runtime),
        'lambda-architectures': ((fn.Architectures as string[] | undefined) ?? ['x86_64']).join(','),
        bundler: `esbuild@${installedVersion('esbuild')}`,
      },
      directDependencies: project.dependencies,
    },
    packages,
  });
  return { json: serializeSbom(bom), packages };
}

/**
 * The files esbuild put code from into `outfile`, as absolute paths: the inputs of that output in its metafile
 * with at least one byte in it (an input it read and tree-shook away entirely is not in the bundle). Input paths
 * are relative to esbuild's working directory, the project root (bundleAssetPublisher runs it there).
 */
export function metafileSources(
  metafile: string,
  outfile: string,
  workingDir: string = PROJECT_ROOT,
): string[] {
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as {
    outputs?: Record<string, { inputs?: Record<string, { bytesInOutput?: number }> }>;
  };
  const output = Object.entries(meta.outputs ?? {}).find(
    ([file]) => path.resolve(workingDir, file) === path.resolve(outfile),
  )?.[1];
  if (!output?.inputs) throw new ToolError(`${metafile} has no output ${outfile} with inputs`);
  return Object.entries(output.inputs)
    .filter(([, input]) => (input.bytesInOutput ?? 0) > 0)
    .map(([input]) => {
      const file = path.resolve(workingDir, input);
      if (!existsSync(file)) {
        throw new ToolError(`${metafile} names ${input}, which is not on this machine (${file})`);
      }
      return file;
    });
}

/**
 * The packages in the asset publisher's bundle, and the BOM that describes it. The bundle is built into
 * `scratchDir` by the function the synth calls, with esbuild's metafile beside it (which does not change the
 * bundle's bytes), so the hash is that of the publish-assets.mjs a `cdk synth` of this commit writes.
 */
export function publisherSbom(
  scratchDir: string,
  project: string,
): {
  json: string;
  packages: InstalledPackage[];
  sha256: string;
} {
  const metafile = path.join(scratchDir, 'publish-assets.meta.json');
  const outfile = bundleAssetPublisher(scratchDir, { metafile });
  const { packages } = packagesOwning(metafileSources(metafile, outfile));
  const pkg = projectPackageJson();
  const bom = buildSbom({
    subject: {
      type: Enums.ComponentType.Application,
      group: project,
      name: 'asset-publisher',
      version: pkg.version,
      description: `The asset publisher of the pipeline's Assets stage (${ASSET_PUBLISHER} in the cloud assembly, run with each stage account's file-publishing role): services/asset-publisher bundled by esbuild as \`cdk synth\` bundles it`,
      files: [outfile],
      properties: {
        'cloud-assembly-path': ASSET_PUBLISHER,
        'bundle-target': PUBLISHER_TARGET,
        bundler: `esbuild@${installedVersion('esbuild')}`,
      },
      directDependencies: pkg.dependencies,
    },
    packages,
  });
  return { json: serializeSbom(bom), packages, sha256: fileHashes(outfile)['SHA-256'] };
}

/** The packages whose code the CDK app loaded, and their BOM. */
export async function appSbom(
  env?: NodeJS.ProcessEnv,
): Promise<{ json: string; packages: InstalledPackage[] }> {
  const loaded = await recordAppModules({ env });
  const { packages } = packagesOwning(loaded.files, { lockfile: readLockfile() });
  const project = projectPackageJson();
  const bom = buildSbom({
    subject: {
      type: Enums.ComponentType.Application,
      group: projectConfig(env ?? process.env).project,
      name: 'cdk-app',
      version: project.version,
      description: `The CDK app (cdk.json: \`${loaded.command}\`) as it runs at synth: every package it loaded code from`,
      files: [],
      properties: { 'cdk-app-command': loaded.command },
      directDependencies: project.dependencies,
    },
    packages,
  });
  return { json: serializeSbom(bom), packages };
}

function projectConfig(env: NodeJS.ProcessEnv): AppConfig {
  try {
    return loadProjectConfig({ env, sandboxAccount: 'optional' }).config;
  } catch (error) {
    if (error instanceof ConfigError) throw new ToolError(error.message);
    throw error;
  }
}

async function writeValidated(file: string, json: string): Promise<void> {
  const errors = await validateSbom(json);
  if (errors) {
    throw new ToolError(
      `${path.basename(file)} does not validate against CycloneDX ${SPEC_VERSION}: ${JSON.stringify(errors).slice(0, 500)}`,
    );
  }
  writeFileSync(file, json);
}

export interface SbomDeps {
  readonly env?: NodeJS.ProcessEnv;
}

export async function sbom(argv: readonly string[], io: Io, deps: SbomDeps = {}): Promise<number> {
  const args = parseCommandArgs(argv, {
    out: { type: 'string' },
    stage: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (args.help) {
    io.out(SBOM_HELP);
    return 0;
  }
  const env = deps.env ?? process.env;
  const outDir = path.resolve(args.out ?? DEFAULT_SBOM_DIR);
  const config = projectConfig(env);
  const stageName = args.stage ?? config.stages.find((s) => s.isProduction)?.stageName;
  if (!stageName || !config.stages.some((s) => s.stageName === stageName)) {
    throw new ToolError(
      `--stage is "${args.stage}"; configured stages: ${config.stages.map((s) => s.stageName).join(', ')}`,
      2,
    );
  }
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (error) {
    throw new ToolError(
      `--out ${args.out}: cannot create ${outDir} (${(error as NodeJS.ErrnoException).code})`,
      2,
    );
  }

  // The app runs in a child process; the stage synth below runs meanwhile in this one.
  io.progress(`recording the packages the CDK app loads (${SBOM_FILES.app})...`);
  const app = appSbom(env);
  app.catch(() => undefined); // awaited below; keeps an early failure from being reported as unhandled
  io.progress(`synthesizing stage ${stageName} to read its function asset (${SBOM_FILES.function})...`);
  // Beside cdk.out, at its depth: the source map names files relative to the assembly, so only there is the
  // asset (and its hash, the S3 key) the same bytes as the one `cdk synth` in the pipeline produces.
  const scratch = await mkdtemp(path.join(PROJECT_ROOT, SYNTH_DIR_PREFIX));
  let fn: { json: string; packages: InstalledPackage[] };
  let synthesized: SynthesizedProcessorStage;
  try {
    synthesized = synthesizeProcessorStage({ stageName, outdir: scratch, env });
    fn = functionSbom(synthesized);
    await writeValidated(path.join(outDir, SBOM_FILES.function), fn.json);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  io.progress(`bundling the asset publisher to read what esbuild put into it (${SBOM_FILES.publisher})...`);
  // A scratch directory like the stage's: where the bundle is built does not change its bytes (only esbuild's
  // working directory does, and bundleAssetPublisher fixes that), so its hash is the synth's.
  const publisherScratch = await mkdtemp(path.join(PROJECT_ROOT, SYNTH_DIR_PREFIX));
  let publisher: ReturnType<typeof publisherSbom>;
  try {
    publisher = publisherSbom(publisherScratch, config.project);
    await writeValidated(path.join(outDir, SBOM_FILES.publisher), publisher.json);
  } finally {
    await rm(publisherScratch, { recursive: true, force: true });
  }
  const appResult = await app;
  await writeValidated(path.join(outDir, SBOM_FILES.app), appResult.json);

  const count = (packages: InstalledPackage[]) => new Set(packages.map((p) => `${p.name}@${p.version}`)).size;
  const summaries: Record<keyof typeof SBOM_FILES, SbomSummary> = {
    function: {
      file: path.join(outDir, SBOM_FILES.function),
      components: count(fn.packages),
      subject: `processor function of stage ${stageName}, CDK asset ${synthesized.assetHash}`,
    },
    app: {
      file: path.join(outDir, SBOM_FILES.app),
      components: count(appResult.packages),
      subject: 'CDK app at synth',
    },
    publisher: {
      file: path.join(outDir, SBOM_FILES.publisher),
      components: count(publisher.packages),
      subject: `asset publisher ${ASSET_PUBLISHER}, SHA-256 ${publisher.sha256.slice(0, 12)}`,
    },
  };
  if (args.json) {
    io.out(JSON.stringify(summaries, null, 2));
  } else {
    for (const s of Object.values(summaries)) {
      io.out(`${path.relative(process.cwd(), s.file)}: ${s.components} components (${s.subject})`);
    }
  }
  return 0;
}

if (import.meta.main) await runTool(sbom);
