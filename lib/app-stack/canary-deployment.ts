import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface CanaryDeploymentProps {
  /** The alias whose traffic CodeDeploy shifts (the event source invokes it). */
  readonly alias: lambda.Alias;
  /** Alarms that stop and roll back a deployment while they are in ALARM. */
  readonly rollbackAlarms: readonly cloudwatch.IAlarm[];
  /** Minutes the canary (10% of traffic) runs before the remaining 90% shift. */
  readonly canaryMinutes: number;
}

/** Share of traffic the new version takes during the canary step. */
export const CANARY_PERCENTAGE = 10;

/**
 * Progressive deployment of the processor: each new version takes 10% of the alias's traffic for `canaryMinutes`,
 * then all of it; CodeDeploy rolls back automatically when the deployment fails or a rollback alarm fires.
 */
export class CanaryDeployment extends Construct {
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: CanaryDeploymentProps) {
    super(scope, id);
    const { alias } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('codedeploy.amazonaws.com'),
      description: 'CodeDeploy: shift the processor alias between versions, read the rollback alarms',
    });
    // The part of AWSCodeDeployRoleForLambdaLimited this deployment uses (no hooks, no SNS), on our resources only.
    new iam.ManagedPolicy(this, 'Policy', {
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          sid: 'ShiftAliasTraffic',
          actions: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
          resources: [alias.version.lambda.functionArn, alias.functionArn],
        }),
        new iam.PolicyStatement({
          sid: 'ReadRollbackAlarms',
          actions: ['cloudwatch:DescribeAlarms'],
          resources: props.rollbackAlarms.map((alarm) => alarm.alarmArn),
        }),
      ],
    });
    const config = new codedeploy.LambdaDeploymentConfig(this, 'Config', {
      trafficRouting: codedeploy.TrafficRouting.timeBasedCanary({
        interval: Duration.minutes(props.canaryMinutes),
        percentage: CANARY_PERCENTAGE,
      }),
    });
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'Group', {
      alias,
      deploymentConfig: config,
      alarms: [...props.rollbackAlarms],
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      // Immutable view: CDK would attach AWSCodeDeployRoleForLambdaLimited; the policy above replaces it.
      role: this.role.withoutPolicyUpdates(),
    });
  }
}
