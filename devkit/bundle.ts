import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import {
  PROCESSOR_ENTRY,
  PROCESSOR_ESBUILD_TARGET,
  PROJECT_ROOT,
  processorBundling,
} from '../lib/app-stack/processor-bundling.ts';

/**
 * The guard in `npm test` (test/budgets): the deployed bundle may not grow past this many bytes. The target
 * is 500 KB; the bundle was 445,044 bytes when this was set (555,814 before the SDK's credential chain was swapped
 * for an environment-only provider, see lib/app-stack/processor-bundling.ts). A ratchet at the measured size plus
 * ~2% headroom: growth fails the suite, shrinking does not. Lower it when the bundle shrinks; raising it is a
 * decision to make in review, with `npm run bench` figures.
 */
export const BUNDLE_BUDGET_BYTES = 455_000;

/** Entry of the cold-start reference: a module that only constructs an S3 and a DynamoDB client. */
export const REFERENCE_ENTRY = path.join(import.meta.dirname, 'reference', 'clients-only.ts');

/** A bundle on disk with what it weighs and what went into it. */
export interface BuiltBundle {
  /** Absolute path of the bundle module (`index.mjs` for ESM, as NodejsFunction names it). */
  readonly file: string;
  /** Bytes of the bundle module: what Node parses at cold start. */
  readonly bytes: number;
  /** Bytes of the source map next to it (0 when there is none); parsed at load under --enable-source-maps. */
  readonly sourceMapBytes: number;
  readonly metafile: Metafile;
}

/** The options NodejsFunction's local bundling passes to esbuild, as esbuild API options. */
const HANDLED_OPTIONS: ReadonlySet<string> = new Set([
  'format',
  'target',
  'minify',
  'sourceMap',
  'sourceMapMode',
  'sourcesContent',
  'mainFields',
  'banner',
  'footer',
  'bundleAwsSDK',
  'externalModules',
  'define',
  'loader',
  'keepNames',
  'logLevel',
  'inject',
  'metafile',
  'esbuildArgs',
  // Where esbuild runs (local vs Docker) does not change its output.
  'forceDockerBundling',
]);

/**
 * Translates NodejsFunction bundling options into esbuild build options the way aws-cdk-lib's
 * `Bundling.buildEsbuildArgs` does (`--bundle --platform=node ...`), so the bench can ask esbuild for a metafile
 * the CDK does not keep. An option the translation does not know fails loudly: silently ignoring it would
 * measure a bundle other than the deployed one. `bench` also compares the result with the synthesized asset.
 */
export function esbuildOptionsFromCdk(
  bundling: BundlingOptions,
  entry: string,
  outdir: string,
): BuildOptions & { outfile: string } {
  const unknown = Object.entries(bundling)
    .filter(([key, value]) => value !== undefined && !HANDLED_OPTIONS.has(key))
    .map(([key]) => key);
  if (unknown.length > 0) {
    throw new Error(
      `devkit/bundle.ts does not mirror the NodejsFunction bundling option(s) ${unknown.join(', ')}; ` +
        'teach esbuildOptionsFromCdk what the CDK passes to esbuild for them',
    );
  }
  const alias = aliasFromEsbuildArgs(bundling.esbuildArgs ?? {});
  const esm = bundling.format === 'esm';
  const sourceMapMode = bundling.sourceMapMode ?? (bundling.sourceMap ? 'default' : undefined);
  const sourcemap: BuildOptions['sourcemap'] =
    sourceMapMode === undefined ? false : sourceMapMode === 'default' ? true : sourceMapMode;
  // NodejsFunction leaves the SDK to the runtime unless told to bundle it; Node >= 18 runtimes ship SDK v3.
  const external = bundling.externalModules ?? (bundling.bundleAwsSDK ? [] : ['@aws-sdk/*']);
  return {
    entryPoints: [entry],
    // NodejsFunction runs esbuild in the project root; relative aliases resolve from there.
    absWorkingDir: PROJECT_ROOT,
    outfile: path.join(outdir, esm ? 'index.mjs' : 'index.js'),
    bundle: true,
    platform: 'node',
    target: bundling.target ?? PROCESSOR_ESBUILD_TARGET,
    ...(bundling.format ? { format: bundling.format } : {}),
    minify: bundling.minify ?? false,
    sourcemap,
    sourcesContent: bundling.sourcesContent ?? true,
    external,
    ...(bundling.loader ? { loader: bundling.loader as BuildOptions['loader'] } : {}),
    ...(bundling.define ? { define: bundling.define } : {}),
    ...(bundling.keepNames ? { keepNames: true } : {}),
    ...(bundling.banner ? { banner: { js: bundling.banner } } : {}),
    ...(bundling.footer ? { footer: { js: bundling.footer } } : {}),
    ...(bundling.mainFields ? { mainFields: bundling.mainFields } : {}),
    ...(bundling.inject ? { inject: bundling.inject } : {}),
    ...(Object.keys(alias).length > 0 ? { alias } : {}),
    logLevel: 'warning',
  };
}

/** `--alias:pkg=./path` CLI arguments as esbuild's `alias` option; any other raw argument fails loudly. */
function aliasFromEsbuildArgs(args: Record<string, string | boolean | string[]>): Record<string, string> {
  const alias: Record<string, string> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!key.startsWith('--alias:') || typeof value !== 'string') {
      throw new Error(
        `devkit/bundle.ts does not mirror the esbuild argument ${key}; teach esbuildOptionsFromCdk`,
      );
    }
    alias[key.slice('--alias:'.length)] = value;
  }
  return alias;
}

/** Bundles `entry` with exactly the processor's deployed bundling options, into `outdir`. */
export async function buildWithProcessorOptions(entry: string, outdir: string): Promise<BuiltBundle> {
  mkdirSync(outdir, { recursive: true });
  const options = esbuildOptionsFromCdk(processorBundling(), entry, outdir);
  const result = await build({ ...options, metafile: true });
  const mapFile = `${options.outfile}.map`;
  return {
    file: options.outfile,
    bytes: statSync(options.outfile).size,
    sourceMapBytes: options.sourcemap ? (statSync(mapFile, { throwIfNoEntry: false })?.size ?? 0) : 0,
    metafile: result.metafile,
  };
}

/** The processor bundle as NodejsFunction builds it. */
export function buildProcessorBundle(outdir: string): Promise<BuiltBundle> {
  return buildWithProcessorOptions(PROCESSOR_ENTRY, outdir);
}

/** The clients-only reference bundle, built with the processor's options so the two differ only in code. */
export function buildReferenceBundle(outdir: string): Promise<BuiltBundle> {
  return buildWithProcessorOptions(REFERENCE_ENTRY, outdir);
}

/** One input's contribution to a bundle's output bytes. */
export interface BundleInputCost {
  /** Package name for node_modules inputs (`@aws-sdk/client-s3`), else the source path. */
  readonly input: string;
  readonly bytes: number;
}

/**
 * Output bytes per package (or per own source file), largest first: what to cut when the bundle misses its
 * budget. Bytes are esbuild's `bytesInOutput`, i.e. after minification and tree-shaking.
 */
export function bytesByPackage(metafile: Metafile): BundleInputCost[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = packageOf(input);
      totals.set(key, (totals.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...totals.entries()]
    .map(([input, bytes]) => ({ input, bytes }))
    .filter((c) => c.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

function packageOf(input: string): string {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at < 0) return input;
  const parts = input.slice(at + marker.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? input);
}
