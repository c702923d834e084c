import { describe, expect, it } from 'vitest';
import { explainAwsError, numberOption, parseToolArgs, ToolError } from '../../tools/lib/cli.ts';
import { clientConfig, parseEndpoints, stageContext } from '../../tools/lib/targets.ts';

describe('tool command lines', () => {
  it('reject unknown flags and bad numbers as usage errors (exit 2)', () => {
    const unknown = () => parseToolArgs(['--stage', 'dev', '--colour'], {});
    expect(unknown).toThrow(ToolError);
    expect(unknown).toThrow(/--colour.*see --help/);
    expect(() => numberOption('rate', 'fast', 1)).toThrow('--rate is "fast"; must be a positive number');
    const caught = (() => {
      try {
        numberOption('rate', '-1', 1);
      } catch (error) {
        return error;
      }
    })();
    expect(caught).toBeInstanceOf(ToolError);
    expect((caught as ToolError).exitCode).toBe(2);
  });

  it("take the region from --region, else where cdk synth puts the stage (never the shell's AWS_REGION)", () => {
    expect(stageContext({ stage: 'prod', env: {} }).target.region).toBe('eu-west-1');
    // The operator's default region says nothing about where the pipeline deployed the stage.
    expect(stageContext({ stage: 'prod', env: { AWS_REGION: 'us-east-2' } }).target.region).toBe('eu-west-1');
    // The settings bin/ reads move the stage, and the tools follow.
    expect(stageContext({ stage: 'prod', env: { PROD_REGION: 'us-east-2' } }).target.region).toBe(
      'us-east-2',
    );
    expect(stageContext({ stage: 'prod', env: { TOOLING_REGION: 'eu-central-1' } }).target.region).toBe(
      'eu-central-1',
    );
    expect(
      stageContext({ stage: 'prod', region: 'ap-south-1', env: { AWS_REGION: 'us-east-2' } }).target.region,
    ).toBe('ap-south-1');
    expect(stageContext({ stage: 'prod', env: {} }).stackName).toBe('s3-object-processor-prod-processor');
    expect(stageContext({ stage: 'prod', env: { PROJECT_NAME: 'files' } }).stackName).toBe(
      'files-prod-processor',
    );
    expect(() => stageContext({ env: {} })).toThrow('--stage is required');
    expect(() => stageContext({ stage: 'qa', env: {} })).toThrow('unknown stage "qa"; known stages: dev');
    expect(() => stageContext({ stage: 'dev', env: { DEV_ACCOUNT: '12' } })).toThrow(
      /account is "12".*DEV_ACCOUNT/,
    );
  });

  it('point one service at an emulator, with throwaway credentials only on loopback', () => {
    const endpoints = parseEndpoints(['s3=http://127.0.0.1:4569', 'dynamodb=https://dynamodb.example.com']);
    const target = { region: 'eu-west-1', endpoints };
    expect(clientConfig(target, 's3')).toEqual({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    expect(clientConfig(target, 'dynamodb')).toEqual({
      region: 'eu-west-1',
      endpoint: 'https://dynamodb.example.com',
    });
    expect(clientConfig(target, 'sqs')).toEqual({ region: 'eu-west-1' });
    expect(() => parseEndpoints(['kinesis=http://x'])).toThrow('service one of s3, sqs');
    expect(() => parseEndpoints(['s3=not a url'])).toThrow('is not a URL');
  });

  it('explain missing and expired credentials in one actionable line, and leave other errors alone', () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(explainAwsError(noCredentials)?.message).toMatch(/^no AWS credentials found: set AWS_PROFILE/);
    const expired = Object.assign(new Error('The security token included in the request is expired'), {
      name: 'ExpiredTokenException',
    });
    expect(explainAwsError(expired)?.message).toMatch(/expired/);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 9,
    });
    expect(explainAwsError(refused)?.message).toBe(
      'could not reach 127.0.0.1:9 (ECONNREFUSED): check the network, the region and any --endpoint',
    );
    expect(explainAwsError(new TypeError('x is undefined'))).toBeUndefined();
  });
});
