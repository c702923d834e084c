import { Aws } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config.ts';

export interface StageBudgetProps {
  /** The stage's configuration: monthly amount and e-mail. */
  readonly config: StageConfig;
  /** Cost-allocation tag key whose value is the stage name (the stack tags every resource with it). */
  readonly stageTagKey: string;
  /** Topic that also receives the notifications (the alarm topic), so a budget is never silent. */
  readonly topic: sns.Topic;
  /** The stack's cost-allocation tags: the Tags aspect does not reach a budget's `ResourceTags`. */
  readonly costTags: Readonly<Record<string, string>>;
}

/** Percentages of the monthly budget that notify: actual spend early, forecast when it would overrun. */
export const BUDGET_ACTUAL_THRESHOLD_PERCENT = 80;
export const BUDGET_FORECAST_THRESHOLD_PERCENT = 100;

/**
 * A monthly AWS Budgets cost budget for everything tagged with this stage. The tag must be activated once as a
 * cost-allocation tag in the Billing console of the payer account (README "Configure"); until then the filter
 * matches nothing and the budget stays at zero.
 */
export class StageBudget extends Construct {
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: StageBudgetProps) {
    super(scope, id);
    const { config, topic } = props;
    const email = config.budget.email ?? config.alarms.email;
    const subscribers: budgets.CfnBudget.SubscriberProperty[] = [
      { subscriptionType: 'SNS', address: topic.topicArn },
      ...(email === undefined ? [] : [{ subscriptionType: 'EMAIL', address: email }]),
    ];
    const notify = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      notification: {
        notificationType,
        comparisonOperator: 'GREATER_THAN',
        threshold,
        thresholdType: 'PERCENTAGE',
      },
      subscribers,
    });
    this.budget = new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: config.budget.monthlyUsd, unit: 'USD' },
        costFilters: { TagKeyValue: [`user:${props.stageTagKey}$${config.stageName}`] },
      },
      resourceTags: Object.entries(props.costTags).map(([key, value]) => ({ key, value })),
      notificationsWithSubscribers: [
        notify('ACTUAL', BUDGET_ACTUAL_THRESHOLD_PERCENT),
        notify('FORECASTED', BUDGET_FORECAST_THRESHOLD_PERCENT),
      ],
    });
    // Budgets publishes as a service principal; only for budgets of this account.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBudgetNotifications',
        principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
  }
}
