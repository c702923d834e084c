import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface PipelineNotificationsProps {
  /** Address subscribed to the topic (it must confirm the subscription once). @default topic only */
  readonly email?: string;
}

/** The service that delivers CodePipeline notification rules to SNS. */
export const NOTIFICATIONS_SERVICE = 'codestar-notifications.amazonaws.com';

/**
 * Where the pipeline tells people that something needs them: failed executions, a pending prod approval, a
 * permissions-broadening change. The topic is encrypted with its own customer-managed key; the notification
 * service may publish, and may use the key only through SNS in this account.
 */
export class PipelineNotifications extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;
  readonly emailSubscription?: sns.Subscription;

  constructor(scope: Construct, id: string, props: PipelineNotificationsProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts pipeline notifications',
      enableKeyRotation: true,
      // Notifications are transient: nothing encrypted with it outlives the topic.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NotificationRulesPublishThroughSns',
        principals: [new iam.ServicePrincipal(NOTIFICATIONS_SERVICE)],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          // Only SNS may use the key on the service's behalf; the topic policy pins the source account.
          StringEquals: { 'kms:ViaService': `sns.${stack.region}.amazonaws.com` },
        },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Pipeline notifications',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NotificationRulesPublish',
        principals: [new iam.ServicePrincipal(NOTIFICATIONS_SERVICE)],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    if (props.email !== undefined) {
      this.emailSubscription = this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    }
  }

  /**
   * The topic as a notification rule target. Binding the Topic itself would make CDK add a second, unconditioned
   * `sns:Publish` grant to the notification service (any account's rules could then publish here); the policies
   * above already allow exactly this account's rules.
   */
  get notificationTarget(): notifications.INotificationRuleTarget {
    const topicArn = this.topic.topicArn;
    return { bindAsNotificationRuleTarget: () => ({ targetType: 'SNS', targetAddress: topicArn }) };
  }
}
