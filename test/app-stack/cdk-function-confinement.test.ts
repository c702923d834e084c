import { describe, expect, it } from 'vitest';
import { managedPolicyStatements, resourceOf, stageOf } from './stage-synth.ts';
import { arnOf, BUCKET, STAGES, stages } from './synthesized-stages.ts';

/** CDK's own deploy-time Lambdas, confined (lib/app-stack/cdk-function-confinement.ts), in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);
  const retained = config.dataProtection.retainData;

  describe("CDK's deploy-time Lambdas", () => {
    const resources = template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }
    >;

    it('the bucket-notifications handler may only write this bucket’s notification configuration and its own logs', () => {
      const [handlerId, handler] =
        Object.entries(resources).find(([id]) => id.startsWith('BucketNotificationsHandler')) ?? [];
      expect(handlerId).toBeDefined();
      const logGroupId = resourceOf(
        template,
        'AWS::Logs::LogGroup',
        'ProcessorNotificationsHandlerLogGroup',
      ).logicalId;
      expect(handler?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
      const { resource: role } = resourceOf(template, 'AWS::IAM::Role', 'ProcessorNotificationsHandlerRole');
      const policyId = resourceOf(
        template,
        'AWS::IAM::ManagedPolicy',
        'ProcessorNotificationsHandlerPolicy',
      ).logicalId;
      expect(role.Properties.ManagedPolicyArns).toEqual([{ Ref: policyId }]);
      expect(role.Properties.Policies).toBeUndefined();
      expect(managedPolicyStatements(template, 'ProcessorNotificationsHandlerPolicy')).toEqual([
        {
          Effect: 'Allow',
          Action: ['s3:PutBucketNotification', 's3:GetBucketNotification'],
          Resource: arnOf(BUCKET),
        },
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arnOf(logGroupId),
        },
      ]);
    });

    it(`the auto-delete provider (${retained ? 'absent: data is retained' : 'empties the buckets on delete'}) carries no AWS managed policy`, () => {
      const roles = Object.entries(resources).filter(([id]) =>
        id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderRole'),
      );
      expect(roles).toHaveLength(retained ? 0 : 1);
      for (const [, role] of roles) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        const logGroupId = resourceOf(
          template,
          'AWS::Logs::LogGroup',
          'ProcessorAutoDeleteObjectsLogGroup',
        ).logicalId;
        expect(role.Properties.Policies).toEqual([
          {
            PolicyName: 'Inline',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                  Resource: arnOf(logGroupId),
                },
              ],
            },
          },
        ]);
        const [, handler] =
          Object.entries(resources).find(([id]) =>
            id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderHandler'),
          ) ?? [];
        expect(handler?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
      }
    });
  });
});
