import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  PROCESSOR_METRICS,
  PROCESSOR_METRICS_NAMESPACE,
  PROCESSOR_SERVICE_NAME,
} from '../../services/processor/src/metric-names.ts';
import { resourceOf, stageOf } from './stage-synth.ts';
import { ACCOUNT_ID, arnOf, DEAD_LETTER_QUEUE, INGEST_QUEUE, STAGES, stages } from './synthesized-stages.ts';

/** Alarms, alarm topic and dashboard (lib/app-stack/processor-monitoring.ts), in every configured stage. */
/** A dashboard body with its tokens replaced by "TOKEN", parsed. */
function dashboardWidgets(body: unknown): Array<{ type: string; properties: Record<string, unknown> }> {
  const join = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]);
  return (JSON.parse(text) as { widgets: Array<{ type: string; properties: Record<string, unknown> }> })
    .widgets;
}

describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);

  describe('monitoring', () => {
    const topicId = resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId;
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const alarm = (prefix: string) =>
      resourceOf(template, 'AWS::CloudWatch::Alarm', prefix).resource.Properties;

    it('sends every alarm and its recovery to the encrypted, TLS-only alarm topic', () => {
      expect(Object.keys(alarms)).toHaveLength(7);
      for (const [id, a] of Object.entries(alarms)) {
        expect(a.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
        expect(a.Properties.OKActions, id).toEqual([{ Ref: topicId }]);
      }
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: arnOf(resourceOf(template, 'AWS::KMS::Key', 'MonitoringAlarmTopicKey').logicalId),
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      // No e-mail configured by default: topic only.
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('lets CloudWatch and Budgets of this account use the topic key', () => {
      const { resource } = resourceOf(template, 'AWS::KMS::Key', 'MonitoringAlarmTopicKey');
      expect((resource.Properties.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual({
        Sid: 'AllowNotifyingServices',
        Effect: 'Allow',
        Principal: { Service: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com'] },
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT_ID } },
      });
    });

    it('alarms on function errors and throttles at the configured counts', () => {
      expect(alarm('MonitoringFunctionErrorsAlarm')).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Period: 300,
        Threshold: config.alarms.functionErrors,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(alarm('MonitoringFunctionThrottlesAlarm')).toMatchObject({
        MetricName: 'Throttles',
        Threshold: config.alarms.functionThrottles,
      });
    });

    it('alarms when p99 duration reaches the configured share of the timeout', () => {
      expect(alarm('MonitoringFunctionDurationP99Alarm')).toMatchObject({
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: (config.processor.timeoutSeconds * 1000 * config.alarms.durationP99PercentOfTimeout) / 100,
      });
    });

    it('alarms on the age of the oldest ingest message and on any dead-lettered message', () => {
      expect(alarm('MonitoringIngestOldestMessageAlarm')).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [INGEST_QUEUE, 'QueueName'] } }],
        Threshold: config.alarms.oldestMessageAgeSeconds,
      });
      expect(alarm('MonitoringDeadLetterMessagesAlarm')).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [DEAD_LETTER_QUEUE, 'QueueName'] } }],
        Threshold: config.alarms.deadLetterMessages,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });

    it('alarms on DynamoDB throttled requests and system errors of the operations the function uses', () => {
      for (const [prefix, metricName] of [
        ['MonitoringTableThrottledRequestsAlarm', 'ThrottledRequests'],
        ['MonitoringTableSystemErrorsAlarm', 'SystemErrors'],
      ] as const) {
        const metrics = alarm(prefix).Metrics as Array<{
          MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] } };
        }>;
        const operations = metrics
          .filter((m) => m.MetricStat)
          .map((m) => {
            expect(m.MetricStat?.Metric.MetricName).toBe(metricName);
            return ((m.MetricStat?.Metric.Dimensions ?? []) as Array<{ Name: string; Value: unknown }>).find(
              (d) => d.Name === 'Operation',
            )?.Value;
          });
        expect(operations.sort()).toEqual(['PutItem', 'UpdateItem']);
      }
    });

    it("has a dashboard with the alarms, AWS metrics and the processor's own EMF metrics", () => {
      const { resource } = resourceOf(template, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard');
      expect(resource.Properties.DashboardName).toBeUndefined();
      const widgets = dashboardWidgets(resource.Properties.DashboardBody);
      const metrics = widgets.flatMap((w) => (w.properties.metrics as unknown[][] | undefined) ?? []);
      const emf = metrics.filter((m) => m[0] === PROCESSOR_METRICS_NAMESPACE);
      expect(new Set(emf.map((m) => m[1]))).toEqual(new Set(Object.values(PROCESSOR_METRICS)));
      for (const m of emf) expect(m.slice(2, 4)).toEqual(['service', PROCESSOR_SERVICE_NAME]);
      const awsMetrics = new Set(metrics.map((m) => `${m[0]}/${m[1]}`));
      for (const metric of [
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        'AWS/Lambda/Duration',
        'AWS/SQS/ApproximateAgeOfOldestMessage',
      ]) {
        expect(awsMetrics).toContain(metric);
      }
      const alarmWidget = widgets.find((w) => w.type === 'alarm');
      expect(alarmWidget?.properties.alarms).toHaveLength(Object.keys(alarms).length);
    });
  });
});
