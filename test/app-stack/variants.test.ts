import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DrBackupVaultStack, drBackupVaultName } from '../../lib/app-stack/data-backup.ts';
import { GRANTS_ONLY_FOR_AWS_RESOURCES } from '../../lib/compliance/kms-grants.ts';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';
import { managedPolicyStatements, resourceOf, stageOf, synthStages } from './stage-synth.ts';

/**
 * The optional modes of the configuration, all switched on in one dev variant (synthesized once): VPC, provisioned
 * capacity with auto scaling, a key filter, alarm and budget e-mails, and a cross-region backup copy.
 */
const VARIANT = {
  network: { vpc: true, maxAzs: 2 },
  table: {
    mode: 'provisioned',
    read: { min: 2, max: 20, targetUtilizationPercent: 60 },
    write: { min: 3, max: 30, targetUtilizationPercent: 65 },
  },
  keyPrefix: 'uploads/',
  keySuffix: '.png',
  alarmEmail: 'oncall@example.com',
  budgetEmail: 'finance@example.com',
  backup: { awsBackup: true, backupRetentionDays: 14, copyToRegion: 'eu-central-1' },
} as const;

const { stages } = synthStages({
  stages: ['dev'],
  input: { stages: { dev: { alarmEmail: VARIANT.alarmEmail } } },
  customise: (s): StageConfig =>
    s.stageName !== 'dev'
      ? s
      : {
          ...s,
          network: VARIANT.network,
          table: VARIANT.table,
          objects: { ...s.objects, keyPrefix: VARIANT.keyPrefix, keySuffix: VARIANT.keySuffix },
          budget: { ...s.budget, email: VARIANT.budgetEmail },
          backup: VARIANT.backup,
        },
});
const { template, annotations, config } = stageOf(stages, 'dev');

describe('VPC mode', () => {
  it('has isolated subnets only: no NAT gateway, no internet gateway, no public subnet', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::Subnet', VARIANT.network.maxAzs);
    for (const subnet of Object.values(template.findResources('AWS::EC2::Subnet'))) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    template.resourceCountIs('AWS::EC2::Route', 0);
  });

  it('reaches S3 and DynamoDB through gateway endpoints and X-Ray through the only interface endpoint', () => {
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => ({
      type: e.Properties.VpcEndpointType,
      service: JSON.stringify(e.Properties.ServiceName),
    }));
    expect(
      endpoints
        .filter((e) => e.type === 'Gateway')
        .map((e) => e.service.match(/\.(s3|dynamodb)"/)?.[1])
        .sort(),
    ).toEqual(['dynamodb', 's3']);
    const interfaces = endpoints.filter((e) => e.type === 'Interface');
    expect(interfaces).toHaveLength(1);
    expect(interfaces[0]?.service).toContain('.xray');
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
  });

  it('puts the function in the isolated subnets behind a security group that only allows HTTPS out', () => {
    const { resource: fn } = resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction');
    const vpcConfig = fn.Properties.VpcConfig as {
      SubnetIds: unknown[];
      SecurityGroupIds: Array<{ 'Fn::GetAtt': [string] }>;
    };
    expect(vpcConfig.SubnetIds).toHaveLength(VARIANT.network.maxAzs);
    const sgId = vpcConfig.SecurityGroupIds[0]?.['Fn::GetAtt'][0] ?? '';
    expect(sgId).toMatch(/^ProcessorFunctionSecurityGroup/);
    const { resource: sg } = resourceOf(template, 'AWS::EC2::SecurityGroup', sgId);
    expect(sg.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' }),
    ]);
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    // The X-Ray endpoint accepts HTTPS from the function's group only.
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] },
    });
  });

  it('records flow logs into an encrypted log group through a role that may write only there', () => {
    const { logicalId: logGroupId, resource: logGroup } = resourceOf(
      template,
      'AWS::Logs::LogGroup',
      'ProcessorVpcFlowLogGroup',
    );
    expect(logGroup.Properties.KmsKeyId).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ProcessorLogsKey/), 'Arn'],
    });
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logGroupId },
      TrafficType: 'ALL',
    });
    expect(managedPolicyStatements(template, 'ProcessorVpcFlowLogPolicy')).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      },
    ]);
    const { resource: role } = resourceOf(template, 'AWS::IAM::Role', 'ProcessorVpcFlowLogRole');
    expect(role.Properties.Policies).toBeUndefined();
  });

  it('lets the function manage its network interfaces (the one wildcard resource Lambda requires for VPC)', () => {
    expect(managedPolicyStatements(template, 'ProcessorFunctionPolicy')).toContainEqual({
      Sid: 'ManageVpcNetworkInterfaces',
      Effect: 'Allow',
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: '*',
    });
  });
});

describe('default security group', () => {
  it('is stripped of its rules by a provider that carries no AWS managed policy and logs only to its own group', () => {
    const resources = template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >;
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    const [, role] =
      Object.entries(resources).find(([id]) =>
        id.startsWith('CustomVpcRestrictDefaultSGCustomResourceProviderRole'),
      ) ?? [];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    const logGroupId = resourceOf(
      template,
      'AWS::Logs::LogGroup',
      'ProcessorRestrictDefaultSecurityGroupLogGroup',
    ).logicalId;
    const policies = (role?.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: unknown[] } }>;
    const statements = policies.flatMap((p) => p.PolicyDocument.Statement);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
    });
  });
});

describe('provisioned table', () => {
  it('uses provisioned capacity at the configured minimum, scaled between min and max on target utilisation', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      // CloudFormation's default billing mode is PROVISIONED; CDK leaves the property out.
      BillingMode: Match.absent(),
      ProvisionedThroughput: {
        ReadCapacityUnits: VARIANT.table.read.min,
        WriteCapacityUnits: VARIANT.table.write.min,
      },
    });
    for (const [dimension, capacity] of [
      ['dynamodb:table:ReadCapacityUnits', VARIANT.table.read],
      ['dynamodb:table:WriteCapacityUnits', VARIANT.table.write],
    ] as const) {
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ScalableDimension: dimension,
        MinCapacity: capacity.min,
        MaxCapacity: capacity.max,
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          TargetValue: capacity.targetUtilizationPercent,
          PredefinedMetricSpecification: {
            PredefinedMetricType: dimension.includes('Read')
              ? 'DynamoDBReadCapacityUtilization'
              : 'DynamoDBWriteCapacityUtilization',
          },
        }),
      });
    }
  });
});

describe('key filter', () => {
  it('raises notifications only for keys with the configured prefix and suffix, created and removed', () => {
    const filter = {
      Key: {
        FilterRules: [
          { Name: 'suffix', Value: VARIANT.keySuffix },
          { Name: 'prefix', Value: VARIANT.keyPrefix },
        ],
      },
    };
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: filter }),
          Match.objectLike({ Events: ['s3:ObjectRemoved:*'], Filter: filter }),
        ],
      },
    });
  });

  it('lets the function read only keys under the prefix', () => {
    const read = managedPolicyStatements(template, 'ProcessorFunctionPolicy').find(
      (s) => s.Sid === 'ReadObjects',
    );
    expect(read?.Resource).toEqual({
      'Fn::Join': [
        '',
        [{ 'Fn::GetAtt': ['ProcessorObjectsBucketDD8AF4B1', 'Arn'] }, `/${VARIANT.keyPrefix}*`],
      ],
    });
  });

  it('lets the integration tests write and clean up only under the prefix, where their uploads raise notifications', () => {
    const statements = managedPolicyStatements(template, 'IntegTestRolePolicy');
    const testKeys = `${VARIANT.keyPrefix}integ-tests/*`;
    expect(statements.find((s) => s.Sid === 'WriteTestObjects')?.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': ['ProcessorObjectsBucketDD8AF4B1', 'Arn'] }, `/${testKeys}`]],
    });
    expect(statements.find((s) => s.Sid === 'RemoveTestRecords')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [testKeys] },
    });
  });
});

describe('notifications by e-mail', () => {
  it('subscribes the alarm e-mail to the alarm topic', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: VARIANT.alarmEmail,
      TopicArn: { Ref: resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId },
    });
  });

  it('sends budget notifications to the budget e-mail as well as the topic', () => {
    const budget = resourceOf(template, 'AWS::Budgets::Budget', 'BudgetMonthlyBudget').resource;
    for (const n of budget.Properties.NotificationsWithSubscribers as Array<{ Subscribers: unknown[] }>) {
      expect(n.Subscribers).toEqual([
        { SubscriptionType: 'SNS', Address: expect.anything() },
        { SubscriptionType: 'EMAIL', Address: VARIANT.budgetEmail },
      ]);
    }
  });
});

describe('cross-region backup copy', () => {
  it('copies each recovery point to the DR vault in the configured region, kept as long', () => {
    const plan = resourceOf(template, 'AWS::Backup::BackupPlan', 'BackupPlan').resource;
    const [rule] = (plan.Properties.BackupPlan as { BackupPlanRule: Array<Record<string, unknown>> })
      .BackupPlanRule;
    expect(rule?.CopyActions).toEqual([
      {
        DestinationBackupVaultArn: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:backup:${VARIANT.backup.copyToRegion}:`,
              { Ref: 'AWS::AccountId' },
              `:backup-vault:${drBackupVaultName('s3-object-processor', 'dev')}`,
            ],
          ],
        },
        Lifecycle: { DeleteAfterDays: VARIANT.backup.backupRetentionDays },
      },
    ]);
  });

  it('the DR vault stack creates that vault, encrypted and retained', () => {
    const app = new App({ context: TEST_APP_CONTEXT });
    const dev = stageByName(loadAppConfig(), 'dev');
    const drStack = new DrBackupVaultStack(app, 'DrVault', {
      project: 's3-object-processor',
      config: dev,
      env: { account: dev.account, region: VARIANT.backup.copyToRegion },
    });
    const dr = Template.fromStack(drStack);
    dr.hasResource('AWS::Backup::BackupVault', {
      Properties: Match.objectLike({
        BackupVaultName: drBackupVaultName('s3-object-processor', 'dev'),
        EncryptionKeyArn: Match.anyValue(),
      }),
      DeletionPolicy: 'Retain',
    });
    dr.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      // Like every key of the app, CT.KMS.PR.3 (lib/compliance/kms-grants.ts; evaluated in test/security/flows.test.ts).
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: GRANTS_ONLY_FOR_AWS_RESOURCES, Effect: 'Deny' }),
        ]),
      },
    });
  });
});

describe('the variant as a whole', () => {
  it('is the configuration it claims to be (validated by loadAppConfig)', () => {
    expect(config.network.vpc).toBe(true);
    expect(config.backup.copyToRegion).toBe(VARIANT.backup.copyToRegion);
  });

  it('synthesizes without warnings', () => {
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });
});
