import { describe, expect, it } from 'vitest';
import { INTEG_TEST_PREFIX } from '../../lib/app-stack/integ-test-role.ts';
import { managedPolicyStatements, resourceOf, stageOf } from './stage-synth.ts';
import { arnOf, BUCKET, STAGES, stages, TABLE } from './synthesized-stages.ts';

/** The role the post-deploy tests assume (lib/app-stack/integ-test-role.ts), in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);

  describe('integration-test role', () => {
    const { logicalId: roleId, resource: role } = resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole');

    it('is assumable only by the configured trusted account', () => {
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: {
              AWS: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, `:iam::${config.integTestTrustedAccount}:root`],
                ],
              },
            },
          },
        ],
      });
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    });

    it('may put and delete under integ-tests/, read records and delete only integ-tests/ records', () => {
      const via = (service: string) => ({
        StringEquals: { 'kms:ViaService': `${service}.${config.region}.amazonaws.com` },
      });
      const { resource: policy } = resourceOf(template, 'AWS::IAM::ManagedPolicy', 'IntegTestRolePolicy');
      expect(policy.Properties.Roles).toEqual([{ Ref: roleId }]);
      expect(managedPolicyStatements(template, 'IntegTestRolePolicy')).toEqual([
        {
          Sid: 'WriteTestObjects',
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:DeleteObject'],
          Resource: { 'Fn::Join': ['', [arnOf(BUCKET), `/${INTEG_TEST_PREFIX}*`]] },
        },
        {
          Sid: 'EncryptTestObjects',
          Effect: 'Allow',
          Action: 'kms:GenerateDataKey',
          Resource: arnOf('ProcessorObjectsKey6523F857'),
          Condition: via('s3'),
        },
        {
          Sid: 'ReadRecords',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:Query'],
          Resource: arnOf(TABLE),
        },
        {
          Sid: 'RemoveTestRecords',
          Effect: 'Allow',
          Action: 'dynamodb:DeleteItem',
          Resource: arnOf(TABLE),
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${INTEG_TEST_PREFIX}*`] } },
        },
        {
          Sid: 'DecryptRecords',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorTableKey153CFAA0'),
          Condition: via('dynamodb'),
        },
      ]);
    });
  });
});
