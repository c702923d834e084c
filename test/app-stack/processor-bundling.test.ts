import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { describe, expect, it } from 'vitest';
import {
  ESM_REQUIRE_BANNER,
  PROCESSOR_ENTRY,
  PROJECT_ROOT,
  processorBundling,
  processorCodeProps,
} from '../../lib/app-stack/processor-bundling.ts';
import { resourceOf, stageOf, synthStages } from './stage-synth.ts';

/** The one test file that runs esbuild: two stages, so the test can compare what they deploy. */
const { app, stages } = synthStages({ bundle: true, stages: ['dev', 'prod'] });

/** Staged asset directory of a stage's function, found through its S3 key (`<hash>.zip`). */
function assetDir(stageName: string): string {
  const { template } = stageOf(stages, stageName);
  const { resource } = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction');
  const key = (resource.Properties.Code as { S3Key: string }).S3Key;
  return path.join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`);
}

describe('processor bundle', () => {
  const dir = assetDir('prod');
  const bundle = readFileSync(path.join(dir, 'index.mjs'), 'utf8');

  it('is one minified ES module that brings its own require for CommonJS corners', () => {
    expect(bundle.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(bundle.split('\n').length).toBeLessThan(200);
    expect(bundle).toMatch(/export\s*\{[^}]*\bas handler\b/);
  });

  it('bundles the AWS SDK instead of relying on the runtime copy', () => {
    // Only the SDK's optional CRT signer stays a (try/catch) require; every client is inside the bundle.
    const externals = [...bundle.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(externals)).toEqual(new Set(['@aws-sdk/signature-v4-crt']));
    // Operation names survive minification: the clients the handler uses are in the bundle.
    for (const operation of ['"PutItem"', '"UpdateItem"', '"GetObject"', 'DynamoDB_20120810']) {
      expect(bundle).toContain(operation);
    }
  });

  it('takes credentials from the environment only: the rest of the SDK chain cannot run on Lambda', () => {
    // The byte budget itself is guarded in test/budgets; this pins what the alias buys.
    const { sources } = JSON.parse(readFileSync(path.join(dir, 'index.mjs.map'), 'utf8')) as {
      sources: string[];
    };
    expect(sources.some((s) => s.endsWith('services/processor/src/lambda-credentials.ts'))).toBe(true);
    expect(sources.some((s) => s.includes('/credential-provider-env/'))).toBe(true);
    const chain = sources.filter((s) =>
      /\/(credential-provider-(node|ini|sso|process|web-identity|http|login)|token-providers)\//.test(s),
    );
    expect(chain).toEqual([]);
  });

  it('ships a source map that points at the TypeScript sources, without their content', () => {
    const map = JSON.parse(readFileSync(path.join(dir, 'index.mjs.map'), 'utf8')) as {
      sources: string[];
      sourcesContent?: unknown;
    };
    expect(map.sources.some((s) => s.endsWith('services/processor/src/handler.ts'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
    expect(bundle).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
  });

  it('is the same bytes in every stage: promotion deploys what was tested', () => {
    expect(assetDir('dev')).toBe(dir);
  });
});

describe('bundling options (shared with the local environment and the benchmark)', () => {
  it('build locally with esbuild, never Docker, for Node 24 ESM, from the repository root', () => {
    expect(processorBundling()).toMatchObject({
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      target: 'node24',
      minify: true,
      sourceMap: true,
      bundleAwsSDK: true,
    });
    const props = processorCodeProps();
    expect(props.entry).toBe(PROCESSOR_ENTRY);
    expect(PROCESSOR_ENTRY).toBe(path.join(PROJECT_ROOT, 'services/processor/src/handler.ts'));
    expect(props.depsLockFilePath).toBe(path.join(PROJECT_ROOT, 'package-lock.json'));
    expect(props.runtime?.name).toBe('nodejs24.x');
    expect(props.architecture?.name).toBe('arm64');
  });
});
