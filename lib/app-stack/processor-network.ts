import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config.ts';

export interface ProcessorNetworkProps {
  /** The stage's configuration (`network`, `logRetentionDays`). */
  readonly config: StageConfig;
  /** Encrypts the flow log group. */
  readonly logsKey: kms.IKey;
}

/** The processor's network (stages with `network.vpc`): where the function runs and what it may reach. */
export interface ProcessorNetwork {
  readonly vpc: ec2.Vpc;
  /** The function's security group: HTTPS out only. */
  readonly securityGroup: ec2.SecurityGroup;
}

/**
 * Isolated subnets only, no NAT: the function reaches S3 and DynamoDB through gateway endpoints and X-Ray
 * (active tracing) through an interface endpoint. Logs leave through the Lambda service, and SQS is polled by
 * the event source mapping, not by the function, so neither needs an endpoint.
 *
 * A function, not a construct: its resources are created directly in `scope` (the Processor) under the IDs they
 * have always had, so moving the code here moved no logical ID (a new construct level would rename, and so
 * replace, the VPC of every VPC stage).
 */
export function addProcessorNetwork(scope: Construct, props: ProcessorNetworkProps): ProcessorNetwork {
  const { config, logsKey } = props;
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: config.network.maxAzs,
    natGateways: 0,
    subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    gatewayEndpoints: {
      S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
    },
    // Strips the default security group's rules, whatever the synthesizing app's feature flags say.
    restrictDefaultSecurityGroup: true,
  });
  const flowLogGroup = new logs.LogGroup(scope, 'VpcFlowLogGroup', {
    retention: config.logRetentionDays as logs.RetentionDays,
    encryptionKey: logsKey,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const flowLogRole = new iam.Role(scope, 'VpcFlowLogRole', {
    assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
    description: 'VPC flow logs: write the processor VPC flow log group only',
  });
  const flowLogPolicy = new iam.ManagedPolicy(scope, 'VpcFlowLogPolicy', {
    roles: [flowLogRole],
    statements: [
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [flowLogGroup.logGroupArn],
      }),
    ],
  });
  const flowLog = vpc.addFlowLog('FlowLog', {
    // Immutable view: CDK would add an inline default policy with a PassRole grant the service does not need.
    destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup, flowLogRole.withoutPolicyUpdates()),
  });
  flowLog.node.addDependency(flowLogPolicy);

  // The function may open HTTPS connections only; in isolated subnets they can only reach the endpoints.
  const securityGroup = new ec2.SecurityGroup(scope, 'FunctionSecurityGroup', {
    vpc,
    description: 'S3 object processor: HTTPS to VPC endpoints only',
    allowAllOutbound: false,
  });
  securityGroup.addEgressRule(
    ec2.Peer.anyIpv4(),
    ec2.Port.tcp(443),
    'HTTPS to the S3/DynamoDB gateway endpoints (no route leads anywhere else)',
  );
  const endpointSecurityGroup = new ec2.SecurityGroup(scope, 'XRayEndpointSecurityGroup', {
    vpc,
    description: 'X-Ray interface endpoint: HTTPS from the processor only',
    allowAllOutbound: false,
  });
  endpointSecurityGroup.addIngressRule(securityGroup, ec2.Port.tcp(443), 'HTTPS from the processor function');
  vpc.addInterfaceEndpoint('XRayEndpoint', {
    service: ec2.InterfaceVpcEndpointAwsService.XRAY,
    subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    privateDnsEnabled: true,
    securityGroups: [endpointSecurityGroup],
    open: false,
  });
  return { vpc, securityGroup };
}
