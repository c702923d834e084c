import { fileURLToPath } from 'node:url';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  type NodejsFunctionProps,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * Everything that decides the processor's deployed bytes lives here, free of side effects, so that the local
 * environment can build (or take from a synthesized assembly) exactly the bundle Lambda runs.
 */

/** Repository root: esbuild's working directory, so source-map paths do not depend on where synth runs. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The lockfile that pins every bundled dependency. */
export const DEPS_LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
/** Absolute path of the handler module bundled into the function. */
export const PROCESSOR_ENTRY = fileURLToPath(
  new URL('../../services/processor/src/handler.ts', import.meta.url),
);
/** Exported handler name inside the entry module. */
export const PROCESSOR_HANDLER = 'handler';
/** Lambda runtime of the processor; the bundle targets the same Node.js major. */
export const PROCESSOR_RUNTIME = Runtime.NODEJS_24_X;
/** Graviton: cheaper per GB-second than x86 for this I/O-bound work. */
export const PROCESSOR_ARCHITECTURE = Architecture.ARM_64;
/** esbuild target matching PROCESSOR_RUNTIME. */
export const PROCESSOR_ESBUILD_TARGET = 'node24';

/**
 * ESM output needs a real `require` for the CommonJS corners of bundled dependencies (node built-ins required
 * dynamically inside the AWS SDK); without it esbuild's shim throws "Dynamic require of ... is not supported".
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/**
 * The SDK's credential chain is swapped for an environment-only provider: on Lambda the chain resolves the
 * environment credentials first anyway, and the rest of it never runs there but costs ~95 KB at every cold start.
 * Relative to PROJECT_ROOT, esbuild's working directory.
 */
export const CREDENTIAL_PROVIDER_ALIAS = {
  '@aws-sdk/credential-provider-node': './services/processor/src/lambda-credentials.ts',
} as const;

/**
 * NodejsFunction bundling options of the processor. Local esbuild only (no Docker anywhere): the CDK finds the
 * esbuild pinned in package.json on PATH/in node_modules. The AWS SDK v3 is bundled rather than taken from the
 * runtime so the code runs against the SDK version we tested, and tree-shaking keeps it small.
 */
export function processorBundling(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: PROCESSOR_ESBUILD_TARGET,
    minify: true,
    sourceMap: true,
    sourceMapMode: SourceMapMode.DEFAULT,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    bundleAwsSDK: true,
    esbuildArgs: Object.fromEntries(
      Object.entries(CREDENTIAL_PROVIDER_ALIAS).map(([pkg, target]) => [`--alias:${pkg}`, target]),
    ),
    forceDockerBundling: false,
  };
}

/** Everything of the function's NodejsFunction props that decides its code: entry, runtime, paths, bundling. */
export function processorCodeProps(): Pick<
  NodejsFunctionProps,
  'entry' | 'handler' | 'runtime' | 'architecture' | 'projectRoot' | 'depsLockFilePath' | 'bundling'
> {
  return {
    entry: PROCESSOR_ENTRY,
    handler: PROCESSOR_HANDLER,
    runtime: PROCESSOR_RUNTIME,
    architecture: PROCESSOR_ARCHITECTURE,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: DEPS_LOCK_FILE,
    bundling: processorBundling(),
  };
}

/**
 * Environment Lambda needs in addition to `processorEnvironment(...)`: Node resolves stack traces through the
 * bundle's source map, so errors in the JSON logs point at TypeScript lines instead of minified columns.
 */
export const LAMBDA_RUNTIME_ENVIRONMENT: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps',
};
