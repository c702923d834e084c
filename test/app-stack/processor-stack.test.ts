import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { alarmGateRoleName } from '../../lib/app-stack/alarm-gate-role.ts';
import { integTestRoleName } from '../../lib/app-stack/integ-test-role.ts';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import { COST_TAG_KEYS, healthAlarmName, OUTPUT_KEYS } from '../../lib/config/names.ts';
import { resourceOf, stageOf } from './stage-synth.ts';
import {
  arnOf,
  BUCKET,
  DEAD_LETTER_QUEUE,
  INGEST_QUEUE,
  STAGES,
  stages,
  TABLE,
} from './synthesized-stages.ts';

/** What the stack itself does (lib/app-stack/processor-stack.ts): tags, outputs, hygiene, in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, annotations, stack } = stageOf(stages, name);

  describe('cost', () => {
    it('tags every taggable resource with project and stage', () => {
      const resources = template.toJSON().Resources as Record<
        string,
        { Type: string; Properties?: { Tags?: unknown } }
      >;
      const tagged = Object.entries(resources).filter(([, r]) => r.Properties?.Tags !== undefined);
      // The resources that carry the cost: all must be tagged.
      for (const type of [
        'AWS::S3::Bucket',
        'AWS::SQS::Queue',
        'AWS::DynamoDB::Table',
        'AWS::Lambda::Function',
        'AWS::KMS::Key',
        'AWS::Logs::LogGroup',
        'AWS::SNS::Topic',
        'AWS::CloudWatch::Alarm',
      ]) {
        // CDK's own custom-resource provider (auto-delete, a CfnResource outside the Tags aspect) is not ours to tag.
        for (const [id, r] of Object.entries(resources).filter(
          ([id, r]) => r.Type === type && !id.startsWith('CustomS3AutoDeleteObjects'),
        )) {
          expect(r.Properties?.Tags, `${id} (${type})`).toBeDefined();
        }
      }
      for (const [id, r] of tagged) {
        const tags = r.Properties?.Tags;
        const pairs = Array.isArray(tags)
          ? Object.fromEntries((tags as Array<{ Key: string; Value: string }>).map((t) => [t.Key, t.Value]))
          : (tags as Record<string, string>);
        expect(pairs, id).toMatchObject({
          [COST_TAG_KEYS.project]: 's3-object-processor',
          [COST_TAG_KEYS.stage]: name,
        });
      }
    });
  });

  describe('outputs', () => {
    it('publish every name tests and operators need, under the contract keys', () => {
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const expected: Record<string, unknown> = {
        [OUTPUT_KEYS.bucketName]: { Ref: BUCKET },
        [OUTPUT_KEYS.tableName]: { Ref: TABLE },
        [OUTPUT_KEYS.ingestQueueUrl]: { Ref: INGEST_QUEUE },
        [OUTPUT_KEYS.deadLetterQueueUrl]: { Ref: DEAD_LETTER_QUEUE },
        [OUTPUT_KEYS.integTestRoleArn]: arnOf(roleIdOf()),
        [OUTPUT_KEYS.dashboardName]: {
          Ref: resourceOf(template, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').logicalId,
        },
        [OUTPUT_KEYS.functionName]: {
          Ref: resourceOf(template, 'AWS::Lambda::Function', 'ProcessorFunction').logicalId,
        },
        [OUTPUT_KEYS.alarmTopicArn]: {
          Ref: resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId,
        },
      };
      expect(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.Value]))).toEqual(expected);
      expect(Object.keys(stack.outputs).sort()).toEqual(Object.keys(OUTPUT_KEYS).sort());
    });

    function roleIdOf(): string {
      return resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole').logicalId;
    }
  });

  describe('hygiene', () => {
    it('hard-codes no physical resource names', () => {
      // The exceptions: the pipeline, in another account, must name these before they exist.
      const crossAccountNames: Record<string, [string, string]> = {
        [resourceOf(template, 'AWS::IAM::Role', 'IntegTestRole').logicalId]: [
          'RoleName',
          integTestRoleName(stack.stackName),
        ],
        [resourceOf(template, 'AWS::IAM::Role', 'AlarmGateRole').logicalId]: [
          'RoleName',
          alarmGateRoleName(stack.stackName),
        ],
        [resourceOf(template, 'AWS::CloudWatch::CompositeAlarm', 'MonitoringHealthAlarm').logicalId]: [
          'AlarmName',
          healthAlarmName(loadAppConfig().project, stageOf(stages, name).config.stageName),
        ],
      };
      const nameProperties = [
        'BucketName',
        'TableName',
        'QueueName',
        'FunctionName',
        'RoleName',
        'TopicName',
        'DashboardName',
        'AlarmName',
        'LogGroupName',
        'ManagedPolicyName',
        'BudgetName',
      ];
      const resources = template.toJSON().Resources as Record<
        string,
        { Type: string; Properties?: Record<string, unknown> }
      >;
      for (const [id, r] of Object.entries(resources)) {
        // Event source mappings, aliases, notifications and budgets reference other resources' names, they do not set one.
        if (
          [
            'AWS::Lambda::EventSourceMapping',
            'AWS::Lambda::Alias',
            'AWS::Lambda::Version',
            'Custom::S3BucketNotifications',
            'Custom::S3AutoDeleteObjects',
          ].includes(r.Type)
        )
          continue;
        for (const property of nameProperties) {
          const exception = crossAccountNames[id];
          if (exception?.[0] === property) {
            expect(r.Properties?.[property]).toBe(exception[1]);
            continue;
          }
          expect(r.Properties?.[property], `${id}.${property}`).toBeUndefined();
        }
      }
    });

    it('synthesizes without warnings from any construct', () => {
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
      expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    });
  });
});
