import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
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
import { CDK_PROVIDERS } from '../cdk-internals.ts';
import { allowCloudWatchLogsOfThisAccount } from '../compliance/log-encryption.ts';
import { processorEnvironment } from '../config/processor-environment.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { confineCdkProvider, confineNotificationsHandler } from './cdk-function-confinement.ts';
import { LAMBDA_RUNTIME_ENVIRONMENT, processorCodeProps } from './processor-bundling.ts';
import { addProcessorFunctionPolicy } from './processor-function-policy.ts';
import { acknowledgeProcessorDecisions } from './processor-nag-decisions.ts';
import { addProcessorNetwork } from './processor-network.ts';

export interface ProcessorProps {
  /** The stage's validated configuration; every setting of the processor comes from here. */
  readonly config: StageConfig;
}

/** Days SQS keeps a dead-lettered message: the maximum, so an operator has two weeks to inspect and redrive. */
export const DEAD_LETTER_RETENTION = Duration.days(14);
/** Key prefix of the objects bucket's server access logs in the log bucket. */
export const ACCESS_LOG_PREFIX = 'objects-bucket/';

/**
 * The S3 object processor: objects bucket -> ingest queue -> function -> table, with its keys, dead-letter queue,
 * least-privilege role and optional VPC. Stateful resources keep their construct IDs forever (pinned by a test):
 * renaming one would replace the bucket, table, key or queue and lose data. The units it is built from (network,
 * function policy, confinement of CDK's own functions, nag decisions) create their resources in this scope, so
 * every construct ID stays where it has always been.
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
    const dataRemovalPolicy = config.dataProtection.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const keys = this.createKeys(config, dataRemovalPolicy);
    this.objectsKey = keys.objectsKey;
    this.queueKey = keys.queueKey;
    this.tableKey = keys.tableKey;
    this.logsKey = keys.logsKey;

    const buckets = this.createBuckets(config, dataRemovalPolicy);
    this.accessLogsBucket = buckets.accessLogsBucket;
    this.bucket = buckets.bucket;
    this.sendAccessLogsToLogBucket();

    const queues = this.createQueues(config, dataRemovalPolicy);
    this.deadLetterQueue = queues.deadLetterQueue;
    this.ingestQueue = queues.ingestQueue;
    this.allowBucketToPublish();

    this.table = this.createTable(config, dataRemovalPolicy);
    this.logGroup = new logs.LogGroup(this, 'FunctionLogGroup', {
      retention: config.logRetentionDays as logs.RetentionDays,
      encryptionKey: this.logsKey,
      // Logs are operational data, not business data: they go with the stack in every stage.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const network = config.network.vpc
      ? addProcessorNetwork(this, { config, logsKey: this.logsKey })
      : undefined;
    this.vpc = network?.vpc;

    this.role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `S3 object processor (${config.stageName}): least privilege, written out`,
    });
    const functionPolicy = addProcessorFunctionPolicy(this, {
      config,
      role: this.role,
      logGroup: this.logGroup,
      bucket: this.bucket,
      objectsKey: this.objectsKey,
      ingestQueue: this.ingestQueue,
      queueKey: this.queueKey,
      table: this.table,
      tableKey: this.tableKey,
    });
    this.function = this.createFunction(config, network);
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

    this.notifyIngestQueue(config);
    this.confineCdkFunctions(config, buckets.notificationsHandlerPolicy, network !== undefined);
    acknowledgeProcessorDecisions(this, config);
  }

  /** One key per data store: a key policy or grant mistake on one cannot expose the others. */
  private createKeys(config: StageConfig, removalPolicy: RemovalPolicy) {
    const newKey = (keyId: string, description: string) =>
      new kms.Key(this, keyId, {
        description: `${description} (${config.stageName})`,
        enableKeyRotation: true,
        removalPolicy,
        pendingWindow: Duration.days(config.dataProtection.retainData ? 30 : 7),
      });
    const objectsKey = newKey('ObjectsKey', 'Encrypts uploaded objects');
    const queueKey = newKey('QueueKey', 'Encrypts ingest and dead-letter messages');
    const tableKey = newKey('TableKey', 'Encrypts object records');
    // Logs carry object keys (possibly personal data): encrypted with a key of ours, like the data itself.
    const logsKey = newKey('LogsKey', 'Encrypts the processor log groups');
    allowCloudWatchLogsOfThisAccount(logsKey, 'AllowCloudWatchLogsOfThisAccount');
    return { objectsKey, queueKey, tableKey, logsKey };
  }

  /** The objects bucket and its access-log bucket, and the role CDK's notifications handler runs as. */
  private createBuckets(config: StageConfig, removalPolicy: RemovalPolicy) {
    // What both buckets must share: private, bucket-owner only, TLS 1.2+, versioned, kept or emptied per stage.
    const hardenedBucket = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      removalPolicy,
      autoDeleteObjects: !config.dataProtection.retainData,
    } satisfies s3.BucketProps;

    // Server access log targets cannot use SSE-KMS (S3 would need to call KMS as the logging service): SSE-S3.
    const accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
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
    Validations.of(accessLogsBucket).acknowledge({
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

    const bucket = new s3.Bucket(this, 'ObjectsBucket', {
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
    return { accessLogsBucket, bucket, notificationsHandlerPolicy };
  }

  /** The ingest queue and its dead-letter queue, both on the queue key. */
  private createQueues(config: StageConfig, removalPolicy: RemovalPolicy) {
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
      removalPolicy,
    });
    const ingestQueue = new sqs.Queue(this, 'IngestQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      // Fewer KMS calls (cost) for S3's SendMessage and Lambda's ReceiveMessage; one hour is the common choice.
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(config.ingestQueue.visibilityTimeoutSeconds),
      // Messages must outlive the DLQ path: dead-lettering keeps the original enqueue timestamp.
      retentionPeriod: DEAD_LETTER_RETENTION,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: config.ingestQueue.maxReceiveCount },
      removalPolicy,
    });
    return { deadLetterQueue, ingestQueue };
  }

  /** The table: one item per object key, on its own key, on demand or provisioned with auto scaling. */
  private createTable(config: StageConfig, removalPolicy: RemovalPolicy): dynamodb.Table {
    const table = new dynamodb.Table(this, 'ObjectsTable', {
      partitionKey: { name: 'objectKey', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.dataProtection.deletionProtection,
      removalPolicy,
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
      table
        .autoScaleReadCapacity({ minCapacity: read.min, maxCapacity: read.max })
        .scaleOnUtilization({ targetUtilizationPercent: read.targetUtilizationPercent });
      table
        .autoScaleWriteCapacity({ minCapacity: write.min, maxCapacity: write.max })
        .scaleOnUtilization({ targetUtilizationPercent: write.targetUtilizationPercent });
    }
    return table;
  }

  private createFunction(
    config: StageConfig,
    network: ReturnType<typeof addProcessorNetwork> | undefined,
  ): NodejsFunction {
    return new NodejsFunction(this, 'Function', {
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
  }

  /** Object-created and object-removed events (of the configured keys) go to the ingest queue. */
  private notifyIngestQueue(config: StageConfig): void {
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
  }

  /** CDK's own deploy-time functions get a policy and an encrypted log group of ours, like the processor. */
  private confineCdkFunctions(
    config: StageConfig,
    notificationsHandlerPolicy: iam.ManagedPolicy,
    inVpc: boolean,
  ): void {
    confineNotificationsHandler(this, {
      bucket: this.bucket,
      policy: notificationsHandlerPolicy,
      logsKey: this.logsKey,
    });
    if (!config.dataProtection.retainData) {
      confineCdkProvider(this, CDK_PROVIDERS.autoDeleteObjects, 'AutoDeleteObjectsLogGroup', this.logsKey);
    }
    if (inVpc) {
      confineCdkProvider(
        this,
        CDK_PROVIDERS.restrictDefaultSecurityGroup,
        'RestrictDefaultSecurityGroupLogGroup',
        this.logsKey,
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
}
