import {
  Aws,
  CfnResource,
  CustomResourceProviderBase,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { allowCloudWatchLogsOfThisAccount } from '../compliance/log-encryption.ts';
import { processorEnvironment } from '../config/processor-environment.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { LAMBDA_RUNTIME_ENVIRONMENT, processorCodeProps } from './processor-bundling.ts';

export interface ProcessorProps {
  /** The stage's validated configuration; every setting of the processor comes from here. */
  readonly config: StageConfig;
}

/** Days SQS keeps a dead-lettered message: the maximum, so an operator has two weeks to inspect and redrive. */
export const DEAD_LETTER_RETENTION = Duration.days(14);
/** Key prefix of the objects bucket's server access logs in the log bucket. */
export const ACCESS_LOG_PREFIX = 'objects-bucket/';
/** Construct IDs of the stack-wide custom-resource providers CDK creates for auto-delete and default-SG rules. */
const AUTO_DELETE_OBJECTS_PROVIDER_ID = 'Custom::S3AutoDeleteObjectsCustomResourceProvider';
const RESTRICT_DEFAULT_SG_PROVIDER_ID = 'Custom::VpcRestrictDefaultSGCustomResourceProvider';
/** Logical ID CDK gives the (singleton) Lambda behind `Custom::S3BucketNotifications`. */
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/**
 * The S3 object processor: objects bucket -> ingest queue -> function -> table, with its keys, dead-letter queue,
 * least-privilege role and optional VPC. Stateful resources keep their construct IDs forever (pinned by a test):
 * renaming one would replace the bucket, table, key or queue and lose data.
 */
export class Processor extends Construct {
  readonly objectsKey: kms.Key;
  readonly queueKey: kms.Key;
  readonly tableKey: kms.Key;
  readonly logsKey: kms.Key;
  readonly accessLogsBucket: s3.Bucket;
  readonly bucket: s3.Bucket;
  readonly ingestQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly table: dynamodb.Table;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly function: NodejsFunction;
  /** What the event source invokes: the `live` alias when canary deployments are on, the function otherwise. */
  readonly invokeTarget: lambda.IFunction;
  /** The `live` alias (canary stages only). */
  readonly alias?: lambda.Alias;
  readonly vpc?: ec2.Vpc;

  constructor(scope: Construct, id: string, props: ProcessorProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    const dataRemovalPolicy = config.dataProtection.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // One key per data store: a key policy or grant mistake on one cannot expose the others.
    const newKey = (keyId: string, description: string) =>
      new kms.Key(this, keyId, {
        description: `${description} (${config.stageName})`,
        enableKeyRotation: true,
        removalPolicy: dataRemovalPolicy,
        pendingWindow: Duration.days(config.dataProtection.retainData ? 30 : 7),
      });
    this.objectsKey = newKey('ObjectsKey', 'Encrypts uploaded objects');
    this.queueKey = newKey('QueueKey', 'Encrypts ingest and dead-letter messages');
    this.tableKey = newKey('TableKey', 'Encrypts object records');
    // Logs carry object keys (possibly personal data): encrypted with a key of ours, like the data itself.
    this.logsKey = newKey('LogsKey', 'Encrypts the processor log groups');
    allowCloudWatchLogsOfThisAccount(this.logsKey, 'AllowCloudWatchLogsOfThisAccount');

    // What both buckets must share: private, bucket-owner only, TLS 1.2+, versioned, kept or emptied per stage.
    const hardenedBucket = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      removalPolicy: dataRemovalPolicy,
      autoDeleteObjects: !config.dataProtection.retainData,
    } satisfies s3.BucketProps;

    // Server access log targets cannot use SSE-KMS (S3 would need to call KMS as the logging service): SSE-S3.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      ...hardenedBucket,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: Duration.days(config.dataProtection.accessLogRetentionDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log target itself; logging its own access would recurse into a third bucket.',
    });

    // Attached when the role is created, so the handler cannot run before its permissions exist.
    const notificationsHandlerPolicy = new iam.ManagedPolicy(this, 'NotificationsHandlerPolicy', {
      description: 'Deploy-time only: write the objects bucket notification configuration',
    });
    const notificationsHandlerRole = new iam.Role(this, 'NotificationsHandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Deploy-time only: writes the objects bucket notification configuration',
      managedPolicies: [notificationsHandlerPolicy],
    });

    this.bucket = new s3.Bucket(this, 'ObjectsBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.objectsKey,
      bucketKeyEnabled: true,
      ...hardenedBucket,
      lifecycleRules: [
        {
          id: 'AbortIncompleteUploadsAndExpireOldVersions',
          abortIncompleteMultipartUploadAfter: Duration.days(
            config.dataProtection.abortIncompleteMultipartUploadDays,
          ),
          noncurrentVersionExpiration: Duration.days(config.dataProtection.noncurrentVersionExpirationDays),
          expiredObjectDeleteMarker: true,
        },
      ],
      // An immutable view: CDK would otherwise attach AWSLambdaBasicExecutionRole to it; we write its policy below.
      notificationsHandlerRole: notificationsHandlerRole.withoutPolicyUpdates(),
    });

    this.sendAccessLogsToLogBucket();

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
      removalPolicy: dataRemovalPolicy,
    });
    this.ingestQueue = new sqs.Queue(this, 'IngestQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      // Fewer KMS calls (cost) for S3's SendMessage and Lambda's ReceiveMessage; one hour is the common choice.
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(config.ingestQueue.visibilityTimeoutSeconds),
      // Messages must outlive the DLQ path: dead-lettering keeps the original enqueue timestamp.
      retentionPeriod: DEAD_LETTER_RETENTION,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.ingestQueue.maxReceiveCount },
      removalPolicy: dataRemovalPolicy,
    });
    this.allowBucketToPublish();

    this.table = new dynamodb.Table(this, 'ObjectsTable', {
      partitionKey: { name: 'objectKey', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.dataProtection.deletionProtection,
      removalPolicy: dataRemovalPolicy,
      ...(config.table.mode === 'provisioned'
        ? {
            billingMode: dynamodb.BillingMode.PROVISIONED,
            readCapacity: config.table.read.min,
            writeCapacity: config.table.write.min,
          }
        : { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST }),
    });
    if (config.table.mode === 'provisioned') {
      const { read, write } = config.table;
      this.table
        .autoScaleReadCapacity({ minCapacity: read.min, maxCapacity: read.max })
        .scaleOnUtilization({ targetUtilizationPercent: read.targetUtilizationPercent });
      this.table
        .autoScaleWriteCapacity({ minCapacity: write.min, maxCapacity: write.max })
        .scaleOnUtilization({ targetUtilizationPercent: write.targetUtilizationPercent });
    }

    this.logGroup = new logs.LogGroup(this, 'FunctionLogGroup', {
      retention: config.logRetentionDays as logs.RetentionDays,
      encryptionKey: this.logsKey,
      // Logs are operational data, not business data: they go with the stack in every stage.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const network = config.network.vpc ? this.createVpc(config) : undefined;
    this.vpc = network?.vpc;

    this.role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `S3 object processor (${config.stageName}): least privilege, written out`,
    });
    const functionPolicy = this.writeFunctionPolicy(config);

    this.function = new NodejsFunction(this, 'Function', {
      description: `S3 object processor (${config.stageName})`,
      ...processorCodeProps(),
      memorySize: config.processor.memoryMiB,
      timeout: Duration.seconds(config.processor.timeoutSeconds),
      reservedConcurrentExecutions: config.processor.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // Immutable: every permission is in FunctionPolicy, CDK grants (tracing, event source) add nothing.
      role: this.role.withoutPolicyUpdates(),
      environment: { ...processorEnvironment(config, this.table.tableName), ...LAMBDA_RUNTIME_ENVIRONMENT },
      ...(network
        ? {
            vpc: network.vpc,
            vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
            securityGroups: [network.securityGroup],
          }
        : {}),
    });
    // Lambda validates the role's permissions when it creates the event source mapping (and VPC ENIs).
    this.function.node.addDependency(functionPolicy);

    if (config.deployment.canary) {
      this.alias = new lambda.Alias(this, 'LiveAlias', {
        aliasName: 'live',
        version: this.function.currentVersion,
      });
      this.invokeTarget = this.alias;
    } else {
      this.invokeTarget = this.function;
    }
    this.invokeTarget.addEventSource(
      new SqsEventSource(this.ingestQueue, {
        batchSize: config.ingestQueue.batchSize,
        maxBatchingWindow: Duration.seconds(config.ingestQueue.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: config.processor.maxEventSourceConcurrency,
      }),
    );

    const filter: s3.NotificationKeyFilter = {
      ...(config.objects.keyPrefix === undefined ? {} : { prefix: config.objects.keyPrefix }),
      ...(config.objects.keySuffix === undefined ? {} : { suffix: config.objects.keySuffix }),
    };
    const filters = filter.prefix === undefined && filter.suffix === undefined ? [] : [filter];
    const destination: s3.IBucketNotificationDestination = {
      bind: () => ({
        arn: this.ingestQueue.queueArn,
        type: s3.BucketNotificationDestinationType.QUEUE,
        // S3 test-publishes when the configuration is written; depending on the queue construct includes its policy.
        dependencies: [this.ingestQueue],
      }),
    };
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, ...filters);
    this.bucket.addEventNotification(s3.EventType.OBJECT_REMOVED, destination, ...filters);
    this.confineNotificationsHandler(stack, notificationsHandlerPolicy);
    if (!config.dataProtection.retainData) {
      this.confineCdkProvider(AUTO_DELETE_OBJECTS_PROVIDER_ID, 'AutoDeleteObjectsLogGroup');
    }
    if (network)
      this.confineCdkProvider(RESTRICT_DEFAULT_SG_PROVIDER_ID, 'RestrictDefaultSecurityGroupLogGroup');
    this.acknowledgeDecidedFindings(config);
  }

  /**
   * CDK's custom-resource providers (deploy-time Lambdas) attach AWSLambdaBasicExecutionRole, i.e. logs on `*`.
   * Replace it: the provider logs to a log group of ours (retention, our key) and may write only there.
   */
  private confineCdkProvider(providerId: string, logGroupId: string): void {
    const provider = Stack.of(this).node.tryFindChild(providerId);
    const role = provider?.node.tryFindChild('Role');
    const handler = provider?.node.tryFindChild('Handler');
    if (
      !(provider instanceof CustomResourceProviderBase) ||
      !(role instanceof CfnResource) ||
      !(handler instanceof CfnResource)
    ) {
      throw new Error(`CDK's custom-resource provider ${providerId} was not found; aws-cdk-lib changed it`);
    }
    const logGroup = new logs.LogGroup(this, logGroupId, {
      retention: logs.RetentionDays.ONE_WEEK,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    handler.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName });
    role.addPropertyDeletionOverride('ManagedPolicyArns');
    provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: logGroup.logGroupArn,
    });
  }

  /** cdk-nag findings that are decisions, each with its reason, on the one construct it concerns. */
  private acknowledgeDecidedFindings(config: StageConfig): void {
    const ack = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    const sqsDeadLetters =
      'Invoked synchronously by the SQS event source, never asynchronously: failed messages return to the ingest queue and its redrive policy moves them to the dead-letter queue after maxReceiveCount receives.';
    ack(this.function, 'Serverless-LambdaDLQ', sqsDeadLetters);
    ack(this.function, 'NIST.800.53.R5-LambdaDLQ', sqsDeadLetters);
    ack(
      this.invokeTarget,
      'Serverless-LambdaEventSourceMappingDestination',
      'SQS event source mappings support no on-failure destination; failures reach the dead-letter queue through the ingest queue redrive policy.',
    );
    ack(
      this.deadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This is the dead-letter queue itself: its messages stay 14 days for inspection and are redriven to the ingest queue by the operator (tools/redrive).',
    );
    if (!config.network.vpc) {
      ack(
        this.function,
        'NIST.800.53.R5-LambdaInsideVPC',
        'VPC mode is a per-stage decision (config network.vpc): the function only calls S3 and DynamoDB over TLS with IAM-signed requests and reaches no private network resource.',
      );
    }
    const replication =
      'Cross-region copies are a disaster-recovery decision per stage (config backup.copyToRegion via AWS Backup, docs/ DR runbook), not object replication of every upload.';
    ack(this.bucket, 'NIST.800.53.R5-S3BucketReplicationEnabled', replication);
    ack(this.accessLogsBucket, 'NIST.800.53.R5-S3BucketReplicationEnabled', replication);
    ack(
      this.accessLogsBucket,
      'NIST.800.53.R5-S3DefaultEncryptionKMS',
      'S3 server access log delivery only supports SSE-S3 target buckets; the logs are encrypted at rest with S3-managed keys.',
    );
    if (!config.backup.awsBackup) {
      ack(
        this.table,
        'NIST.800.53.R5-DynamoDBInBackupPlan',
        'Non-production stage: point-in-time recovery (35 days) is its backup; AWS Backup plans are enabled per stage in config (prod).',
      );
    }
  }

  /**
   * Server access logs, delivered under a bucket policy rather than the legacy LogDeliveryWrite ACL (the log bucket
   * enforces bucket-owner object ownership, ACLs off). Written at L1 so it does not depend on the
   * `serverAccessLogsUseBucketPolicy` feature flag of whichever app synthesizes the stack.
   */
  private sendAccessLogsToLogBucket(): void {
    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.loggingConfiguration = {
      destinationBucketName: this.accessLogsBucket.bucketName,
      logFilePrefix: ACCESS_LOG_PREFIX,
    };
    this.accessLogsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowServerAccessLogDelivery',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogsBucket.arnForObjects(`${ACCESS_LOG_PREFIX}*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
  }

  /**
   * S3 publishes to the ingest queue and needs the queue key for it. Both grants are scoped to this bucket in this
   * account (aws:SourceArn + aws:SourceAccount), so no other bucket can inject messages (confused deputy).
   */
  private allowBucketToPublish(): void {
    const s3Principal = new iam.ServicePrincipal('s3.amazonaws.com');
    const fromThisBucket = {
      ArnLike: { 'aws:SourceArn': this.bucket.bucketArn },
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
    };
    this.ingestQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowObjectsBucketNotifications',
        principals: [s3Principal],
        actions: ['sqs:SendMessage'],
        resources: [this.ingestQueue.queueArn],
        conditions: fromThisBucket,
      }),
    );
    this.queueKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowObjectsBucketToEncryptNotifications',
        principals: [s3Principal],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: fromThisBucket,
      }),
    );
  }

  private writeFunctionPolicy(config: StageConfig): iam.ManagedPolicy {
    const region = Stack.of(this).region;
    const via = (service: string) => ({
      StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` },
    });
    // Only keys that raise notifications are ever read.
    const readablePrefix = config.objects.keyPrefix ?? '';
    const statements = [
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReadObjects',
        // Ranged GETs of the exact version an event announced (GetObject with VersionId needs GetObjectVersion).
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects(`${readablePrefix}*`)],
      }),
      new iam.PolicyStatement({
        sid: 'TellMissingObjectsApart',
        // Without ListBucket S3 answers 403 instead of 404 for a deleted key or version, and the processor could
        // not tell "object gone" (record it) from "access denied" (retry, then dead-letter).
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
      }),
      new iam.PolicyStatement({
        sid: 'DecryptObjects',
        actions: ['kms:Decrypt'],
        resources: [this.objectsKey.keyArn],
        conditions: via('s3'),
      }),
      new iam.PolicyStatement({
        sid: 'ConsumeIngestQueue',
        actions: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        resources: [this.ingestQueue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'DecryptIngestMessages',
        actions: ['kms:Decrypt'],
        resources: [this.queueKey.keyArn],
        conditions: via('sqs'),
      }),
      new iam.PolicyStatement({
        sid: 'WriteObjectRecords',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'UseTableKey',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.tableKey.keyArn],
        conditions: via('dynamodb'),
      }),
      new iam.PolicyStatement({
        sid: 'PublishTraces',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      }),
    ];
    if (config.network.vpc) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'ManageVpcNetworkInterfaces',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    const policy = new iam.ManagedPolicy(this, 'FunctionPolicy', {
      description: `S3 object processor (${config.stageName}): every permission of the function`,
      statements,
      roles: [this.role],
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords (and, in VPC mode, the EC2 network-interface actions Lambda needs) support no resource-level permissions; every other statement names its resource.',
    });
    const bucketLogicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${readablePrefix}*]`,
      reason:
        'GetObject/GetObjectVersion on the keys that raise notifications: any of them may be uploaded and must be read; no write, delete or ACL action is granted.',
    });
    return policy;
  }

  /**
   * Isolated subnets only, no NAT: the function reaches S3 and DynamoDB through gateway endpoints and X-Ray
   * (active tracing) through an interface endpoint. Logs leave through the Lambda service, and SQS is polled by
   * the event source mapping, not by the function, so neither needs an endpoint.
   */
  private createVpc(config: StageConfig): { vpc: ec2.Vpc; securityGroup: ec2.SecurityGroup } {
    const vpc = new ec2.Vpc(this, 'Vpc', {
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
    const flowLogGroup = new logs.LogGroup(this, 'VpcFlowLogGroup', {
      retention: config.logRetentionDays as logs.RetentionDays,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const flowLogRole = new iam.Role(this, 'VpcFlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'VPC flow logs: write the processor VPC flow log group only',
    });
    const flowLogPolicy = new iam.ManagedPolicy(this, 'VpcFlowLogPolicy', {
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
    const securityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc,
      description: 'S3 object processor: HTTPS to VPC endpoints only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to the S3/DynamoDB gateway endpoints (no route leads anywhere else)',
    );
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'XRayEndpointSecurityGroup', {
      vpc,
      description: 'X-Ray interface endpoint: HTTPS from the processor only',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(
      securityGroup,
      ec2.Port.tcp(443),
      'HTTPS from the processor function',
    );
    vpc.addInterfaceEndpoint('XRayEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.XRAY,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      privateDnsEnabled: true,
      securityGroups: [endpointSecurityGroup],
      open: false,
    });
    return { vpc, securityGroup };
  }

  /**
   * CDK's bucket-notifications handler is a deploy-time Lambda. Give it our own log group (retention) and a role
   * that may only write this bucket's notification configuration and that log group.
   */
  private confineNotificationsHandler(stack: Stack, policy: iam.ManagedPolicy): void {
    const handler = stack.node.tryFindChild(NOTIFICATIONS_HANDLER_ID)?.node.defaultChild;
    if (!(handler instanceof CfnResource) || handler.cfnResourceType !== 'AWS::Lambda::Function') {
      throw new Error(
        `CDK's bucket notifications handler (${NOTIFICATIONS_HANDLER_ID}) was not found; aws-cdk-lib changed it`,
      );
    }
    const handlerLogs = new logs.LogGroup(this, 'NotificationsHandlerLogGroup', {
      retention: logs.RetentionDays.ONE_WEEK,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    handler.addPropertyOverride('LoggingConfig', { LogGroup: handlerLogs.logGroupName });
    // CDK also builds a policy for the handler; attached to our immutable role view it is never synthesized.
    const unusedCdkPolicy = this.bucket.node
      .tryFindChild('Notifications')
      ?.node.tryFindChild('HandlerPolicy');
    if (unusedCdkPolicy) {
      Validations.of(unusedCdkPolicy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason:
          'Not in the template: CDK creates this policy for the notifications handler, but it attaches to no role (the role is our immutable view), so it is never synthesized.',
      });
    }
    policy.addStatements(
      new iam.PolicyStatement({
        actions: ['s3:PutBucketNotification', 's3:GetBucketNotification'],
        resources: [this.bucket.bucketArn],
      }),
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [handlerLogs.logGroupArn],
      }),
    );
  }
}
