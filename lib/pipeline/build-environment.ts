import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { CodeBuildOptions } from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { allowCloudWatchLogsOfThisAccount } from '../compliance/log-encryption.ts';

/**
 * Graviton (ARM) Amazon Linux 2023 image: cheaper per build minute than x86, and the function it bundles for is
 * arm64 too. Its documented Node.js runtimes end at 22; that is enough, because Node only runs npm here: `npm ci`
 * installs the pinned Node 24 (the `node` devDependency) and every `npm run`/`npx` uses it.
 */
export const BUILD_IMAGE = codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0;
/** `runtime-versions` Node.js of the image: the one that runs npm (and the CDK CLI in self-mutation). */
export const IMAGE_NODE_RUNTIME = 22;
/** npm's download cache inside the build container (builds run as root). */
export const NPM_CACHE_PATH = '/root/.npm/**/*';
/** Fails a build whose `npm ci` did not produce the pinned Node 24, instead of testing on the wrong runtime. */
export const REQUIRE_NODE_24 = `node_modules/.bin/node -e 'if (process.versions.node.split(".")[0] !== "24") { console.error("Node 24 expected in node_modules/.bin, got " + process.version); process.exit(1); }'`;
/** `npm ci` as every step that runs repository code installs it. */
export const NPM_CI = 'npm ci --no-audit --no-fund';

export interface PipelineBuildEnvironmentProps {
  /** Days build logs are kept. @default 90 */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * What every CodeBuild project of the pipeline shares: image, no privileged mode (no Docker anywhere: esbuild
 * bundles locally), the npm cache and one log group with a retention.
 *
 * npm cache: an S3 cache, not a local one. CodeBuild's local cache only survives on a build host that happens to
 * be reused within minutes; a pipeline that runs a few times a day would nearly always start cold. The S3 cache is
 * restored on every build for the price of one small bucket; a cache miss only costs a slower `npm ci`, never a
 * wrong build, because `npm ci` verifies every package against package-lock.json's integrity hashes.
 */
export class PipelineBuildEnvironment extends Construct {
  readonly cacheBucket: s3.Bucket;
  /** Encrypts the pipeline's log groups: build output can echo configuration and stack outputs. */
  readonly logsKey: kms.Key;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineBuildEnvironmentProps = {}) {
    super(scope, id);
    this.cacheBucket = new s3.Bucket(this, 'CacheBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // A cache: everything in it can be downloaded again. Old entries go so the bucket cannot grow forever.
      lifecycleRules: [
        { expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Kept on stack deletion like the pipeline's artifact bucket; README "Tear down" empties and deletes both.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logsKey = new kms.Key(this, 'LogsKey', {
      description: 'Encrypts the delivery pipeline log groups',
      enableKeyRotation: true,
      // Its log groups go with the stack, so may the key (after KMS's waiting period).
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    allowCloudWatchLogsOfThisAccount(this.logsKey, 'CloudWatchLogsOfThisAccount');
    this.logGroup = this.newLogGroup('BuildLogs', props.logRetention);
  }

  /** A log group encrypted with the pipeline's logs key. */
  newLogGroup(id: string, retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS): logs.LogGroup {
    return new logs.LogGroup(this, id, {
      retention,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * The synth step's machine, which the pull-request checks share so that the two run the same commands on the
   * same machine and cannot disagree about green: tests, esbuild bundles and cdk-nag for three stages need more
   * memory than the other steps (same price class).
   */
  synthCodeBuildDefaults(): CodeBuildOptions {
    return {
      buildEnvironment: { computeType: codebuild.ComputeType.MEDIUM },
      timeout: Duration.minutes(45),
    };
  }

  /** Defaults for every CodeBuild project the pipeline creates (synth, self-mutation, assets, steps). */
  codeBuildDefaults(): CodeBuildOptions {
    return {
      buildEnvironment: {
        buildImage: BUILD_IMAGE,
        computeType: codebuild.ComputeType.SMALL,
        privileged: false,
      },
      partialBuildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: { install: { 'runtime-versions': { nodejs: IMAGE_NODE_RUNTIME } } },
        cache: { paths: [NPM_CACHE_PATH] },
      }),
      cache: codebuild.Cache.bucket(this.cacheBucket, { prefix: 'npm' }),
      logging: { cloudWatch: { logGroup: this.logGroup } },
      timeout: Duration.minutes(30),
    };
  }
}
