import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CodePipeline } from 'aws-cdk-lib/pipelines';
import { stageConditionRules, stageId } from '../config/names.ts';
import type { ProcessorStage } from '../stages/processor-stage.ts';
import { lookupRoleArn } from './stage-steps.ts';

/**
 * CodePipeline V2 stage conditions for the deploy stages, which CDK Pipelines does not expose: this is the one
 * place that reaches into the underlying pipeline for them (an override of the synthesized stage declarations).
 *
 * - Entry (staging, prod): the stage is not entered while the previous stage's or its own health alarm is in
 *   ALARM; the execution fails there instead (override the condition to ship a fix into an alarming stage).
 * - On success (stages that roll back): the stage's health alarm is watched for its bake time
 *   (`deployment.bakeMinutes`, 0 = one check); ALARM during it rolls the stage back.
 * - On failure (`deployment.rollbackOnFailure`): the stage rolls back to its last successful execution.
 *
 * The alarms are in the stage accounts, the pipeline in the tooling account: each rule reads the alarm as that
 * stage's alarm-gate role (cloudwatch:DescribeAlarms on the health alarm only), assumed through the pipeline's
 * role exactly as cross-account actions are. One exception: the entry rule on a stage's own alarm runs before
 * that stage deploys, and on the pipeline's first run the stage's stack, with its alarm-gate role, does not exist
 * yet. That rule reads through the stage account's CDK lookup role instead (`cdk bootstrap --trust` creates it,
 * read-only, no decryption), which exists before any deploy. A real account must confirm that CodePipeline accepts a rule role in
 * another account and that the CloudWatchAlarm rule reads composite alarms (docs/promotion.md says what to do if
 * not: `alarmGates: false`).
 */
export interface StageConditionOptions {
  /** Entry and bake-time alarm rules; rollback on failure is applied either way. */
  readonly alarmGates: boolean;
}

/**
 * A CloudFormation `RuleDeclaration` of the CloudWatchAlarm rule for one stage's health alarm, read as `roleArn`
 * (default: the stage's alarm-gate role).
 */
export function healthAlarmRule(
  name: string,
  watched: ProcessorStage,
  waitMinutes?: number,
  roleArn: string = watched.alarmGateRoleArn,
) {
  return {
    Name: name,
    RuleTypeId: { Category: 'Rule', Owner: 'AWS', Provider: 'CloudWatchAlarm', Version: '1' },
    Configuration: {
      AlarmName: watched.healthAlarmName,
      AlarmStates: 'ALARM',
      ...(waitMinutes === undefined || waitMinutes === 0 ? {} : { WaitTime: String(waitMinutes) }),
    },
    Region: watched.config.region,
    RoleArn: roleArn,
  };
}

/** Adds the stage conditions. Call after `buildPipeline()`. */
export function applyStageConditions(
  pipeline: CodePipeline,
  stages: readonly ProcessorStage[],
  options: StageConditionOptions,
): void {
  const cfn = pipeline.pipeline.node.defaultChild as codepipeline.CfnPipeline;
  const names = pipeline.pipeline.stages.map((s) => s.stageName);
  const readers = new Set<string>();
  stages.forEach((stage, i) => {
    const name = stageId(stage.config.stageName);
    const index = names.indexOf(name);
    if (index < 0) throw new Error(`applyStageConditions: the pipeline has no stage ${name}`);
    const previous = i > 0 ? stages[i - 1] : undefined;
    const { rollbackOnFailure, bakeMinutes } = stage.config.deployment;
    const rules = stageConditionRules(stage.config);

    if (options.alarmGates && previous) {
      cfn.addPropertyOverride(`Stages.${index}.BeforeEntry`, {
        Conditions: [
          {
            Result: 'FAIL',
            Rules: [
              healthAlarmRule(rules.entryPreviousStageHealthy, previous),
              // Before this stage's first deploy its alarm-gate role does not exist; the lookup role does.
              healthAlarmRule(rules.entryOwnHealthy, stage, undefined, lookupRoleArn(stage)),
            ],
          },
        ],
      });
      readers.add(previous.alarmGateRoleArn).add(lookupRoleArn(stage));
    }
    if (options.alarmGates && rollbackOnFailure) {
      cfn.addPropertyOverride(`Stages.${index}.OnSuccess`, {
        Conditions: [{ Result: 'ROLLBACK', Rules: [healthAlarmRule(rules.bakeTime, stage, bakeMinutes)] }],
      });
      readers.add(stage.alarmGateRoleArn);
    }
    if (rollbackOnFailure) cfn.addPropertyOverride(`Stages.${index}.OnFailure`, { Result: 'ROLLBACK' });
  });

  if (readers.size > 0) {
    // Rule roles are assumed through the pipeline's own role, like the roles of cross-account actions.
    pipeline.pipeline.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadStageHealthAlarms',
        actions: ['sts:AssumeRole'],
        resources: [...readers],
      }),
    );
  }
}
