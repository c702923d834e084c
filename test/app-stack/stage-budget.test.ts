import { Match } from 'aws-cdk-lib/assertions';
import { describe, it } from 'vitest';
import {
  BUDGET_ACTUAL_THRESHOLD_PERCENT,
  BUDGET_FORECAST_THRESHOLD_PERCENT,
} from '../../lib/app-stack/stage-budget.ts';
import { COST_TAG_KEYS } from '../../lib/config/names.ts';
import { resourceOf, stageOf } from './stage-synth.ts';
import { ACCOUNT_ID, STAGES, stages } from './synthesized-stages.ts';

/** The stage's monthly budget (lib/app-stack/stage-budget.ts), in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);

  describe('cost', () => {
    it('has a monthly budget over this stage’s cost-allocation tag, notifying on actual and forecast spend', () => {
      const topicId = resourceOf(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId;
      const subscribers = [{ SubscriptionType: 'SNS', Address: { Ref: topicId } }];
      template.hasResourceProperties('AWS::Budgets::Budget', {
        Budget: {
          BudgetType: 'COST',
          TimeUnit: 'MONTHLY',
          BudgetLimit: { Amount: config.budget.monthlyUsd, Unit: 'USD' },
          CostFilters: { TagKeyValue: [`user:${COST_TAG_KEYS.stage}$${name}`] },
        },
        ResourceTags: [
          { Key: COST_TAG_KEYS.project, Value: 's3-object-processor' },
          { Key: COST_TAG_KEYS.stage, Value: name },
        ],
        NotificationsWithSubscribers: [
          {
            Notification: {
              NotificationType: 'ACTUAL',
              ComparisonOperator: 'GREATER_THAN',
              Threshold: BUDGET_ACTUAL_THRESHOLD_PERCENT,
              ThresholdType: 'PERCENTAGE',
            },
            Subscribers: subscribers,
          },
          {
            Notification: {
              NotificationType: 'FORECASTED',
              ComparisonOperator: 'GREATER_THAN',
              Threshold: BUDGET_FORECAST_THRESHOLD_PERCENT,
              ThresholdType: 'PERCENTAGE',
            },
            Subscribers: subscribers,
          },
        ],
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Sid: 'AllowBudgetNotifications',
              Principal: { Service: 'budgets.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT_ID } },
            }),
          ]),
        },
      });
    });
  });
});
