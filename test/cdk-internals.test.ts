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
import {
  CodePipeline,
  CodePipelineSource,
  ConfirmPermissionsBroadening,
  ShellStep,
} from 'aws-cdk-lib/pipelines';
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
  pipelineFileAssetRole,
  pipelineSecurityCheck,
  VERIFIED_AWS_CDK_LIB_VERSION,
} from '../lib/cdk-internals.ts';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});
function newApp(): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-internals-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
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
  /** A small pipeline: one stage whose stack has a file asset, optionally behind a permissions-broadening check. */
  function pipeline(options: { check: boolean; asset: boolean; build?: boolean }): CodePipeline {
    const stack = new Stack(newApp(), 'Tooling', { env: ENV });
    const codePipeline = new CodePipeline(stack, 'Pipeline', {
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
    codePipeline.addStage(stage, {
      pre: options.check ? [new ConfirmPermissionsBroadening('Check', { stage })] : [],
    });
    if (options.build !== false) codePipeline.buildPipeline();
    return codePipeline;
  }
  const full = pipeline({ check: true, asset: true });
  const bare = pipeline({ check: false, asset: false });
  // As if aws-cdk-lib had moved both: the same pipeline with the two constructs gone from where they were.
  const renamed = pipeline({ check: true, asset: true });
  renamed.node.tryRemoveChild('PipelinesSecurityCheck');
  renamed.node.tryFindChild('Assets')?.node.tryRemoveChild('FileRole');

  it('finds the security check of a pipeline with a ConfirmPermissionsBroadening step', () => {
    const check = pipelineSecurityCheck(full);
    expect(check?.scope.node.id).toBe('PipelinesSecurityCheck');
    expect(check?.diffProject.node.id).toBe('CDKSecurityCheck');
    expect(check?.autoApprove.node.id).toBe('CDKPipelinesAutoApprove');
    expect(check?.autoApprove.role).toBeDefined();
  });

  it('finds the file-asset role of a pipeline that publishes files', () => {
    expect(pipelineFileAssetRole(full)?.node.path).toBe('Tooling/Pipeline/Assets/FileRole');
  });

  it('reports neither for a pipeline without the step or a file asset', () => {
    expect(pipelineSecurityCheck(bare)).toBeUndefined();
    expect(pipelineFileAssetRole(bare)).toBeUndefined();
  });

  it('throws the clear message when the security check is not under the ID aws-cdk-lib gives it', () => {
    expect(() => pipelineSecurityCheck(renamed)).toThrow(
      changed(
        /the pipeline has a ConfirmPermissionsBroadening step, but .*PipelinesSecurityCheck.* is missing/,
      ),
    );
    const unbuilt = pipeline({ check: true, asset: false, build: false });
    expect(() => pipelineSecurityCheck(unbuilt)).toThrow(changed('is missing (is the pipeline built?)'));
  });

  it('throws the clear message when the file-asset role is not under the ID aws-cdk-lib gives it', () => {
    expect(() => pipelineFileAssetRole(renamed)).toThrow(
      changed('the pipeline publishes file assets, but "Tooling/Pipeline/Assets/FileRole" is missing'),
    );
  });
});
