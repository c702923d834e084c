import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  PROCESSOR_METRICS,
  PROCESSOR_METRICS_NAMESPACE,
  PROCESSOR_SERVICE_NAME,
} from '../../services/processor/src/metric-names.ts';
import type { StageConfig } from '../config/stage-config.ts';
import type { Processor } from './processor.ts';

export interface ProcessorMonitoringProps {
  /** The stage's configuration: thresholds and the alarm e-mail. */
  readonly config: StageConfig;
  /** The processor to watch. */
  readonly processor: Processor;
  /** Name of the composite alarm the pipeline's stage conditions watch (lib/config/names.ts healthAlarmName). */
  readonly healthAlarmName: string;
}

const FIVE_MINUTES = Duration.minutes(5);
const WRITE_OPERATIONS = [dynamodb.Operation.PUT_ITEM, dynamodb.Operation.UPDATE_ITEM];

/**
 * Alarms, the encrypted alarm topic and the dashboard of one stage. Hand-written rather than
 * cdk-monitoring-constructs: see docs/processor.md "Monitoring" for why.
 */
export class ProcessorMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly topicKey: kms.Key;
  readonly dashboard: cloudwatch.Dashboard;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;
  readonly durationAlarm: cloudwatch.Alarm;
  readonly oldestMessageAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly tableThrottleAlarm: cloudwatch.Alarm;
  readonly tableSystemErrorsAlarm: cloudwatch.Alarm;
  /**
   * In ALARM while any alarm of the stage is: what the pipeline gates promotion and bake time on. It notifies
   * nobody itself (its members do), so one incident is one notification.
   */
  readonly healthAlarm: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: ProcessorMonitoringProps) {
    super(scope, id);
    const { config, processor } = props;
    const a = config.alarms;

    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts alarm and budget notifications (${config.stageName})`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch alarms and AWS Budgets publish as services: they need the topic key, only from this account.
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowNotifyingServices',
        principals: [
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          new iam.ServicePrincipal('budgets.amazonaws.com'),
        ],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, which is what lets CloudWatch alarms publish: without this
    // statement every alarm goes to ALARM, records "not authorized to perform: SNS:Publish" and tells nobody.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`,
          },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    if (a.email !== undefined) {
      const subscription = new sns.Subscription(this, 'AlarmEmailSubscription', {
        topic: this.alarmTopic,
        protocol: sns.SubscriptionProtocol.EMAIL,
        endpoint: a.email,
      });
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'E-mail is a second channel: an undeliverable mail is counted in the topic’s NumberOfNotificationsFailed and the alarm itself stays in ALARM on the dashboard; a dead-letter queue would hold mails nobody reads.',
      });
    }

    const fn = processor.function;
    // Every alarm fires at or above its threshold, and no data is no fault (an idle stage sends no metrics).
    const alarmAtOrAbove = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      alarmDescription: string,
      periods: { evaluationPeriods: number; datapointsToAlarm?: number } = { evaluationPeriods: 1 },
    ) =>
      new cloudwatch.Alarm(this, alarmId, {
        metric,
        alarmDescription,
        threshold,
        ...periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.errorsAlarm = alarmAtOrAbove(
      'FunctionErrorsAlarm',
      fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      a.functionErrors,
      `Processor errors >= ${a.functionErrors} in 5 minutes: see the function's JSON logs`,
    );
    this.throttlesAlarm = alarmAtOrAbove(
      'FunctionThrottlesAlarm',
      fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      a.functionThrottles,
      `Processor throttles >= ${a.functionThrottles} in 5 minutes: reserved concurrency too low?`,
    );
    const durationThresholdMs = Math.round(
      (config.processor.timeoutSeconds * 1000 * a.durationP99PercentOfTimeout) / 100,
    );
    this.durationAlarm = alarmAtOrAbove(
      'FunctionDurationP99Alarm',
      fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
      durationThresholdMs,
      `Processor p99 duration >= ${a.durationP99PercentOfTimeout}% of its ${config.processor.timeoutSeconds}s timeout`,
      { evaluationPeriods: 3, datapointsToAlarm: 2 },
    );
    this.oldestMessageAlarm = alarmAtOrAbove(
      'IngestOldestMessageAlarm',
      processor.ingestQueue.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      a.oldestMessageAgeSeconds,
      `Oldest ingest message older than ${a.oldestMessageAgeSeconds}s: the processor falls behind`,
    );
    this.deadLetterAlarm = alarmAtOrAbove(
      'DeadLetterMessagesAlarm',
      processor.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      a.deadLetterMessages,
      `Dead-letter queue holds >= ${a.deadLetterMessages} message(s): inspect and redrive (README "Operate")`,
    );
    this.tableThrottleAlarm = alarmAtOrAbove(
      'TableThrottledRequestsAlarm',
      processor.table.metricThrottledRequestsForOperations({
        operations: WRITE_OPERATIONS,
        period: FIVE_MINUTES,
      }),
      1,
      'DynamoDB throttled PutItem/UpdateItem requests (the SDK retries; sustained means capacity)',
    );
    this.tableSystemErrorsAlarm = alarmAtOrAbove(
      'TableSystemErrorsAlarm',
      processor.table.metricSystemErrorsForOperations({ operations: WRITE_OPERATIONS, period: FIVE_MINUTES }),
      1,
      'DynamoDB system errors on PutItem/UpdateItem (service side; messages are retried)',
    );

    const action = new SnsAction(this.alarmTopic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.healthAlarm = new cloudwatch.CompositeAlarm(this, 'HealthAlarm', {
      // A fixed name: the pipeline, in another account, addresses it by name (CodePipeline CloudWatchAlarm rule).
      compositeAlarmName: props.healthAlarmName,
      alarmDescription: `Any alarm of the ${config.stageName} stage is in ALARM: the pipeline does not promote into or past it`,
      alarmRule: cloudwatch.AlarmRule.anyOf(
        ...this.alarms.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM)),
      ),
    });

    const emf = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
      new cloudwatch.Metric({
        namespace: PROCESSOR_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: PROCESSOR_SERVICE_NAME },
        statistic,
        period: FIVE_MINUTES,
      });
    const { processingLag, ...counters } = PROCESSOR_METRICS;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(6),
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 })],
        [
          new cloudwatch.GraphWidget({
            title: 'Objects and events (processor metrics)',
            left: Object.values(counters).map((name) => emf(name)),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Processing lag: S3 event to record (ms)',
            left: [emf(processingLag, cloudwatch.Stats.p(50)), emf(processingLag, cloudwatch.Stats.p(99))],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Function invocations, errors, throttles',
            left: [
              fn.metricInvocations({ period: FIVE_MINUTES }),
              fn.metricErrors({ period: FIVE_MINUTES }),
              fn.metricThrottles({ period: FIVE_MINUTES }),
            ],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function duration',
            left: [
              fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(50) }),
              fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
            ],
            leftAnnotations: [{ value: durationThresholdMs, label: 'p99 alarm' }],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Queues',
            left: [
              processor.ingestQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES }),
              processor.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES }),
            ],
            right: [processor.ingestQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES })],
            width: 12,
          }),
        ],
        [
          // Separate graphs: both per-operation expressions name their series after the operation.
          new cloudwatch.GraphWidget({
            title: 'DynamoDB throttled writes',
            left: [this.tableThrottleAlarm.metric],
            right: [processor.table.metricConsumedWriteCapacityUnits({ period: FIVE_MINUTES })],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'DynamoDB system errors (writes)',
            left: [this.tableSystemErrorsAlarm.metric],
            width: 12,
          }),
        ],
      ],
    });
  }

  /** Every alarm of the stage (each has the topic as alarm and OK action). */
  get alarms(): cloudwatch.Alarm[] {
    return [
      this.errorsAlarm,
      this.throttlesAlarm,
      this.durationAlarm,
      this.oldestMessageAlarm,
      this.deadLetterAlarm,
      this.tableThrottleAlarm,
      this.tableSystemErrorsAlarm,
    ];
  }
}
