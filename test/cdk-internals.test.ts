import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { CodePipeline, CodePipelineSource, ShellStep } from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUCKET_NOTIFICATIONS_HANDLER_ID,
  bucketNotificationsHandler,
  bucketNotificationsHandlerPolicy,
  CDK_PROVIDERS,
  CdkInternalsChangedError,
  cdkProvider,
  INSTALLED_AWS_CDK_LIB_VERSION,
  pipelineAssetBuildSpecFiles,
  pipelineAssetProjects,
  pipelineFileAssetRole,
  VERIFIED_AWS_CDK_LIB_VERSION,
} from '../lib/cdk-internals.ts';
import { TEST_APP_CONTEXT } from './support/test-app.ts';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});
function newApp(): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-internals-'));
  outdirs.push(outdir);
  return new App({ outdir, context: TEST_APP_CONTEXT });
}

/** The one message every accessor fails with: the installed and the verified version, and what changed. */
function changed(what: RegExp | string): RegExp {
  const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const detail = typeof what === 'string' ? quote(what) : what.source;
  return new RegExp(
    `^aws-cdk-lib ${quote(INSTALLED_AWS_CDK_LIB_VERSION)} changed an internal this project relies on \\(checked against ${quote(VERIFIED_AWS_CDK_LIB_VERSION)}\\): .*${detail}.*\\. Adapt lib/cdk-internals\\.ts to the new version\\.$`,
  );
}

it('was checked against the aws-cdk-lib that is installed (re-check every accessor below when upgrading)', () => {
  expect(INSTALLED_AWS_CDK_LIB_VERSION).toBe(VERIFIED_AWS_CDK_LIB_VERSION);
});

describe('cdkProvider', () => {
  const stack = new Stack(newApp(), 'Providers', { env: ENV });
  new s3.Bucket(stack, 'Bucket', { autoDeleteObjects: true, removalPolicy: RemovalPolicy.DESTROY });
  new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, restrictDefaultSecurityGroup: true });

  it.each(Object.values(CDK_PROVIDERS))('finds %s with its role and function', (id) => {
    const parts = cdkProvider(stack, id);
    expect(parts.provider.node.id).toBe(id);
    expect(parts.role.cfnResourceType).toBe('AWS::IAM::Role');
    expect(parts.handler.cfnResourceType).toBe('AWS::Lambda::Function');
  });

  it('throws the clear message when the provider is not where aws-cdk-lib put it', () => {
    const empty = new Stack(newApp(), 'Empty', { env: ENV });
    expect(() => cdkProvider(empty, CDK_PROVIDERS.autoDeleteObjects)).toThrow(CdkInternalsChangedError);
    expect(() => cdkProvider(empty, CDK_PROVIDERS.autoDeleteObjects)).toThrow(
      changed('"Custom::S3AutoDeleteObjectsCustomResourceProvider" is missing'),
    );
  });

  it('throws the clear message when something else has the provider ID', () => {
    const impostor = new Stack(newApp(), 'Impostor', { env: ENV });
    new Construct(impostor, CDK_PROVIDERS.restrictDefaultSecurityGroup);
    expect(() => cdkProvider(impostor, CDK_PROVIDERS.restrictDefaultSecurityGroup)).toThrow(
      changed('is a Construct, expected a CustomResourceProviderBase'),
    );
  });
});

describe('bucketNotificationsHandler and its policy', () => {
  const stack = new Stack(newApp(), 'Notifications', { env: ENV });
  const bucket = new s3.Bucket(stack, 'Bucket');
  bucket.addEventNotification(
    s3.EventType.OBJECT_CREATED,
    new s3n.SqsDestination(new sqs.Queue(stack, 'Queue')),
  );

  it('finds the singleton handler function of the stack', () => {
    const handler = bucketNotificationsHandler(stack);
    expect(handler.cfnResourceType).toBe('AWS::Lambda::Function');
    expect(handler.node.scope?.node.id).toBe(BUCKET_NOTIFICATIONS_HANDLER_ID);
  });

  it("finds the policy CDK builds for the bucket's handler", () => {
    expect(bucketNotificationsHandlerPolicy(bucket)).toBeInstanceOf(iam.Policy);
  });

  it('throws the clear message when either is absent', () => {
    const quiet = new Stack(newApp(), 'Quiet', { env: ENV });
    const plain = new s3.Bucket(quiet, 'Plain');
    expect(() => bucketNotificationsHandler(quiet)).toThrow(
      changed(`"${BUCKET_NOTIFICATIONS_HANDLER_ID}" is missing`),
    );
    expect(() => bucketNotificationsHandlerPolicy(plain)).toThrow(
      changed('"Quiet/Plain/Notifications/HandlerPolicy" is missing, expected an iam.Policy'),
    );
  });
});

describe('pipeline internals', () => {
  /** A small pipeline: one stage whose stack has a file asset, or none. */
  function pipeline(options: { asset: boolean; build?: boolean }): CodePipeline {
    const stack = new Stack(newApp(), 'Tooling', { env: ENV });
    const codePipeline = new CodePipeline(stack, 'Pipeline', {
      publishAssetsInParallel: false,
      synth: new ShellStep('Synth', {
        input: CodePipelineSource.connection('example-org/repo', 'main', {
          connectionArn: 'arn:aws:codeconnections:eu-west-1:111111111111:connection/x',
        }),
        commands: ['npx cdk synth'],
      }),
    });
    const stage = new Stage(stack, 'Dev', { env: ENV });
    const app = new Stack(stage, 'App');
    if (options.asset) new Asset(app, 'File', { path: import.meta.filename });
    else new sqs.Queue(app, 'Queue');
    codePipeline.addStage(stage);
    if (options.build !== false) codePipeline.buildPipeline();
    return codePipeline;
  }
  const full = pipeline({ asset: true });
  const bare = pipeline({ asset: false });
  // As if aws-cdk-lib had moved them: the same pipeline with the constructs gone from where they were.
  const renamed = pipeline({ asset: true });
  renamed.node.tryFindChild('Assets')?.node.tryRemoveChild('FileRole');
  const moved = pipeline({ asset: true });
  for (const child of moved.node.tryFindChild('Assets')?.node.children ?? []) {
    moved.node.tryFindChild('Assets')?.node.tryRemoveChild(child.node.id);
  }

  it('finds the file-asset role and the asset projects of a pipeline that publishes files', () => {
    expect(pipelineFileAssetRole(full)?.node.path).toBe('Tooling/Pipeline/Assets/FileRole');
    expect(pipelineAssetProjects(full).map((p) => p.node.id)).toEqual(['FileAsset']);
    expect(pipelineAssetBuildSpecFiles(full)).toEqual([
      expect.stringMatching(/^buildspec-[\w-]+-FileAsset\.yaml$/),
    ]);
  });

  it('reports none for a pipeline without a file asset', () => {
    expect(pipelineFileAssetRole(bare)).toBeUndefined();
    expect(pipelineAssetProjects(bare)).toEqual([]);
  });

  it('throws the clear message when the file-asset role is not under the ID aws-cdk-lib gives it', () => {
    expect(() => pipelineFileAssetRole(renamed)).toThrow(
      changed('the pipeline publishes file assets, but "Tooling/Pipeline/Assets/FileRole" is missing'),
    );
  });

  it('throws the clear message when the asset projects are not where aws-cdk-lib puts them', () => {
    expect(() => pipelineAssetProjects(moved)).toThrow(
      changed('the pipeline has an Assets stage, but "Tooling/Pipeline/Assets" holds no codebuild.Project'),
    );
  });
});
