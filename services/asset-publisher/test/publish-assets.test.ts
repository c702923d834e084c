import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/publish-assets.ts';

/**
 * The publisher's command line over manifests written by the aws-cdk-lib this repository pins. Publishing itself
 * (role assumption, upload) is rehearsed against loopback S3 and STS in test/pipeline/rehearsal.test.ts.
 */

let dir: string;
let manifest: string;
let assetId: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'publish-assets-'));
  const app = new App({ outdir: path.join(dir, 'cdk.out') });
  const stack = new Stack(app, 'Probe', { env: { account: '222222222222', region: 'eu-west-1' } });
  writeFileSync(path.join(dir, 'file.txt'), 'probe');
  const asset = new s3assets.Asset(stack, 'File', { path: path.join(dir, 'file.txt') });
  assetId = asset.assetHash;
  // A template needs one resource to be valid; the asset is what matters here.
  new CfnWaitConditionHandle(stack, 'Placeholder');
  app.synth();
  manifest = path.join(dir, 'cdk.out', 'Probe.assets.json');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => ({
    code,
    out,
    err,
  }));
}

describe('publish-assets', () => {
  it('reads the asset manifests this aws-cdk-lib writes (cdk-assets 4.7.3 cannot)', async () => {
    const version = JSON.parse(readFileSync(manifest, 'utf8')).version as string;
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(55);
    const { code, out } = await run(['--path', manifest, 'ls']);
    expect(code).toBe(0);
    expect(out.join('\n')).toContain(`${assetId}:222222222222-eu-west-1`);
  });

  it('refuses a selector that matches nothing, rather than publishing nothing', async () => {
    const { code, err } = await run(['--path', manifest, 'publish', 'feedface:222222222222-eu-west-1']);
    expect(code).toBe(1);
    expect(err).toEqual([
      `error: "feedface:222222222222-eu-west-1" matches no asset destination in ${manifest}`,
    ]);
  });

  it('reports an unreadable manifest in one line', async () => {
    const future = path.join(dir, 'future.assets.json');
    writeFileSync(future, JSON.stringify({ version: '999.0.0', files: {} }));
    const { code, err } = await run(['--path', future, 'ls']);
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^error: .*schema version/i);
  });

  it('answers --help, and usage mistakes with exit code 2', async () => {
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['--path', manifest])).code).toBe(2);
    expect((await run(['--path', manifest, 'upload'])).code).toBe(2);
    expect((await run(['--bogus', 'ls'])).code).toBe(2);
    expect((await run(['--path', manifest, 'ls', 'x'])).code).toBe(2);
  });
});
