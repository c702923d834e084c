import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CANARY_PERCENTAGE } from '../../lib/app-stack/canary-deployment.ts';
import { managedPolicyStatements, resourceOf, stageOf } from './stage-synth.ts';
import { arnOf, stages } from './synthesized-stages.ts';

/** Progressive deployment (lib/app-stack/canary-deployment.ts): prod only. */
describe('what differs between stages', () => {
  it('prod shifts traffic through a `live` alias with a CodeDeploy canary that rolls back on alarms', () => {
    const { template, config } = stageOf(stages, 'prod');
    const alias = resourceOf(template, 'AWS::Lambda::Alias', 'ProcessorLiveAlias');
    expect(alias.resource.Properties.Name).toBe('live');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { 'Fn::Join': ['', [Match.anyValue(), ':live']] },
    });
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', {
      ComputePlatform: 'Lambda',
      TrafficRoutingConfig: {
        Type: 'TimeBasedCanary',
        TimeBasedCanary: {
          CanaryInterval: config.deployment.canaryMinutes,
          CanaryPercentage: CANARY_PERCENTAGE,
        },
      },
    });
    const errors = resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionErrorsAlarm').logicalId;
    const throttles = resourceOf(
      template,
      'AWS::CloudWatch::Alarm',
      'MonitoringFunctionThrottlesAlarm',
    ).logicalId;
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      AlarmConfiguration: {
        Enabled: true,
        Alarms: [{ Name: { Ref: errors } }, { Name: { Ref: throttles } }],
      },
      AutoRollbackConfiguration: {
        Enabled: true,
        Events: Match.arrayWith(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']),
      },
      DeploymentStyle: { DeploymentOption: 'WITH_TRAFFIC_CONTROL', DeploymentType: 'BLUE_GREEN' },
    });
    const group = resourceOf(template, 'AWS::CodeDeploy::DeploymentGroup', 'CanaryDeploymentGroup').logicalId;
    expect(alias.resource.UpdatePolicy).toEqual({
      CodeDeployLambdaAliasUpdate: {
        ApplicationName: expect.anything(),
        DeploymentGroupName: { Ref: group },
      },
    });
  });

  it('the CodeDeploy role may only move this alias and read the two rollback alarms (no AWS managed policy)', () => {
    const { template } = stageOf(stages, 'prod');
    const { resource: role } = resourceOf(template, 'AWS::IAM::Role', 'CanaryDeploymentRole');
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const fnId = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId;
    const aliasId = resourceOf(template, 'AWS::Lambda::Alias', 'ProcessorLiveAlias').logicalId;
    expect(managedPolicyStatements(template, 'CanaryDeploymentPolicy')).toEqual([
      {
        Sid: 'ShiftAliasTraffic',
        Effect: 'Allow',
        Action: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
        Resource: [arnOf(fnId), { Ref: aliasId }],
      },
      {
        Sid: 'ReadRollbackAlarms',
        Effect: 'Allow',
        Action: 'cloudwatch:DescribeAlarms',
        Resource: [
          arnOf(resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionErrorsAlarm').logicalId),
          arnOf(resourceOf(template, 'AWS::CloudWatch::Alarm', 'MonitoringFunctionThrottlesAlarm').logicalId),
        ],
      },
    ]);
  });

  it.each(['dev', 'staging'])(
    '%s deploys all at once: no alias, no CodeDeploy, the event source targets the function',
    (name) => {
      const { template } = stageOf(stages, name);
      template.resourceCountIs('AWS::Lambda::Alias', 0);
      template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
      const fnId = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId;
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: fnId } });
    },
  );
});
