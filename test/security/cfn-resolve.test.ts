// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are CloudFormation Fn::Sub templates.
import { describe, expect, it } from 'vitest';
import { type ResolvedTemplate, resolveTemplate } from './cfn-resolve.ts';

const policyStatements = (resolved: ResolvedTemplate): unknown[] => {
  const policy = resolved.resources.get('Policy');
  if (!policy) throw new Error('no Policy resource');
  return (policy.properties.PolicyDocument as { Statement: unknown[] }).Statement;
};

const env = { account: '222222222222', region: 'eu-west-1', stackName: 'probe' };

describe('resolveTemplate', () => {
  const template = {
    Parameters: {
      Trusted: { Type: 'CommaDelimitedList', Default: '' },
      Qualifier: { Type: 'String', Default: 'hnb659fds' },
    },
    Conditions: {
      HasTrusted: { 'Fn::Not': [{ 'Fn::Equals': ['', { 'Fn::Join': ['', { Ref: 'Trusted' }] }] }] },
    },
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket' },
      Named: {
        Type: 'AWS::IAM::Role',
        Properties: { RoleName: { 'Fn::Sub': 'cdk-${Qualifier}-deploy-${AWS::AccountId}' } },
      },
      Alias: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: 'fn', Name: 'live' } },
      Policy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'p',
          PolicyDocument: {
            Statement: [
              { Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] } },
              { Resource: { 'Fn::Sub': ['${B.Arn}/${Key}', { Key: 'k' }] } },
              {
                Principal: { 'Fn::If': ['HasTrusted', { AWS: { Ref: 'Trusted' } }, { Ref: 'AWS::NoValue' }] },
              },
              { Resource: { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: 'Alias' }] }] } },
              { Resource: { 'Fn::ImportValue': 'Exported' } },
              { Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${!Literal}' } },
            ],
          },
        },
      },
      OnlyIfTrusted: { Type: 'AWS::SNS::Topic', Condition: 'HasTrusted' },
    },
  };
  // `${B.Arn}` names a resource the template does not have: fixed below for the happy path.
  const happy = structuredClone(template);
  (happy.Resources.Policy.Properties.PolicyDocument.Statement[1] as { Resource: unknown }).Resource = {
    'Fn::Sub': ['${Bucket.Arn}/${Key}', { Key: 'k' }],
  };

  it('resolves references, joins, subs, selects, conditions and imports to literal values', () => {
    const resolved = resolveTemplate(happy, {
      ...env,
      parameters: { Trusted: '111111111111' },
      imports: { Exported: 'arn:aws:iam::111111111111:role/imported' },
    });
    const bucket = resolved.resources.get('Bucket');
    expect(bucket?.attributes.Arn).toBe(`arn:aws:s3:::${bucket?.ref}`);
    expect(bucket?.ref).toMatch(/^probe-bucket-222222222222-[0-9a-f]{12}$/);
    expect(resolved.resources.get('Named')?.attributes.Arn).toBe(
      'arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-222222222222',
    );
    const statements = policyStatements(resolved);
    expect(statements).toEqual([
      { Resource: `arn:aws:s3:::${bucket?.ref}/*` },
      { Resource: `arn:aws:s3:::${bucket?.ref}/k` },
      { Principal: { AWS: ['111111111111'] } },
      { Resource: 'fn' },
      { Resource: 'arn:aws:iam::111111111111:role/imported' },
      { Resource: 'arn:aws:s3:::${Literal}' },
    ]);
    expect(resolved.resources.has('OnlyIfTrusted')).toBe(true);
  });

  it('drops what a false condition removes', () => {
    const resolved = resolveTemplate(happy, { ...env, imports: { Exported: 'x' } });
    const statements = policyStatements(resolved);
    expect(statements[2]).toEqual({});
    expect(resolved.resources.has('OnlyIfTrusted')).toBe(false);
  });

  it('gives the same stack in two accounts two names, and the same name on every run', () => {
    const a = resolveTemplate(happy, { ...env, imports: { Exported: 'x' } }).resources.get('Bucket')?.ref;
    const again = resolveTemplate(happy, { ...env, imports: { Exported: 'x' } }).resources.get('Bucket')?.ref;
    const b = resolveTemplate(happy, {
      ...env,
      account: '333333333333',
      imports: { Exported: 'x' },
    }).resources.get('Bucket')?.ref;
    expect(again).toBe(a);
    expect(b).not.toBe(a);
  });

  it('refuses to guess: unknown references, attributes, imports and intrinsics throw', () => {
    expect(() => resolveTemplate(template, { ...env, imports: { Exported: 'x' } })).toThrow(
      /no resource B\b/,
    );
    expect(() => resolveTemplate(happy, env)).toThrow(/Fn::ImportValue Exported is not exported/);
    const unknownType = {
      Resources: {
        X: { Type: 'AWS::Foo::Bar' },
        Y: { Type: 'AWS::SNS::Topic', Properties: { TopicName: { Ref: 'X' } } },
      },
    };
    expect(() => resolveTemplate(unknownType, env)).toThrow(
      /AWS::Foo::Bar, which cfn-resolve.ts cannot address/,
    );
    const unknownAttribute = {
      Resources: {
        Q: { Type: 'AWS::SQS::Queue' },
        T: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::GetAtt': ['Q', 'Nope'] } } },
      },
    };
    expect(() => resolveTemplate(unknownAttribute, env)).toThrow(/Fn::GetAtt Q.Nope is not modelled/);
    const unknownIntrinsic = {
      Resources: { T: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::Base64': 'x' } } } },
    };
    expect(() => resolveTemplate(unknownIntrinsic, env)).toThrow(/intrinsic Fn::Base64 is not modelled/);
  });
});
