import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { crossAccountRoleName } from '../config/names.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { crossAccountRole } from './cross-account-role.ts';

export interface AlarmGateRoleProps {
  /** The stage's configuration; `integTestTrustedAccount` (the tooling account) is the account trusted. */
  readonly config: StageConfig;
  /** The one alarm the role may read: the stage's health alarm. */
  readonly healthAlarmName: string;
}

/** Name of a stage's alarm-gate role, derived from its stack name. */
export function alarmGateRoleName(stackName: string): string {
  return crossAccountRoleName(stackName, ALARM_GATE_PURPOSE);
}

const ALARM_GATE_PURPOSE = 'alarm-gate';

/**
 * The role the pipeline's stage conditions read this stage's health alarm as (CodePipeline CloudWatchAlarm rules
 * with this RoleArn, assumed through the pipeline's role): `cloudwatch:DescribeAlarms` on that one alarm, nothing
 * else. The alarms live in the stage account and the pipeline in the tooling account; a role here that the
 * tooling account may assume is the least that lets a rule read them.
 */
export class AlarmGateRole extends Construct {
  readonly role: iam.Role;
  /** The role's ARN as a literal the pipeline (another account) can name; see IntegTestRole for why. */
  readonly crossAccountRoleArn: string;

  constructor(scope: Construct, id: string, props: AlarmGateRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { role, arn } = crossAccountRole(this, {
      purpose: ALARM_GATE_PURPOSE,
      trustedAccount: props.config.integTestTrustedAccount,
      description: `Pipeline stage conditions: read the health alarm of the ${props.config.stageName} stage`,
    });
    this.role = role;
    this.crossAccountRoleArn = arn;
    new iam.ManagedPolicy(this, 'Policy', {
      description: `Pipeline stage conditions (${props.config.stageName}): describe the stage's health alarm`,
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadHealthAlarm',
          actions: ['cloudwatch:DescribeAlarms'],
          resources: [
            `arn:${Aws.PARTITION}:cloudwatch:${stack.region}:${stack.account}:alarm:${props.healthAlarmName}`,
          ],
        }),
      ],
    });
  }
}
