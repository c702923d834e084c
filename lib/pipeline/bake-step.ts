import { Aws, Duration, Stack } from 'aws-cdk-lib';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  type CodePipelineActionFactoryResult,
  type ICodePipelineActionFactory,
  type ProduceActionOptions,
  Step,
} from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';

export interface BakeTimerProps {
  /** How long the pipeline waits (1..1440 minutes). */
  readonly minutes: number;
  /** State machine name: an address for operators, and it keeps the pipeline's grants on it literal ARNs. */
  readonly stateMachineName: string;
}

/**
 * A timer for bake time: a Step Functions Standard workflow that only waits. CodePipeline has no wait action;
 * its stage conditions only wait while an alarm is firing, and a CodeBuild step that sleeps bills every minute
 * of the wait. A Standard workflow's Wait state bills a handful of state transitions whatever its length, and
 * CodePipeline's Step Functions action may run for up to 7 days.
 *
 * No CloudWatch logging and no X-Ray: Step Functions keeps every execution's history (start, wait, end) for 90
 * days anyway, and log delivery would need `logs:*Delivery` on every log group, a worse trade for a timer.
 */
export class BakeTimer extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** The state machine by its literal ARN, for the pipeline action (see `stateMachineName`). */
  readonly stateMachineRef: sfn.IStateMachine;
  readonly stateMachineName: string;
  readonly minutes: number;

  constructor(scope: Construct, id: string, props: BakeTimerProps) {
    super(scope, id);
    if (!Number.isInteger(props.minutes) || props.minutes < 1 || props.minutes > 1440) {
      throw new Error(`BakeTimer: minutes must be an integer in 1..1440, got ${props.minutes}`);
    }
    this.minutes = props.minutes;
    this.stateMachineName = props.stateMachineName;
    const bake = new sfn.Wait(this, 'Bake', {
      comment: `Bake time: ${props.minutes} minutes`,
      time: sfn.WaitTime.duration(Duration.minutes(props.minutes)),
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(bake.next(new sfn.Succeed(this, 'Baked'))),
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(props.minutes + 10),
    });
    const { region, account } = Stack.of(this);
    this.stateMachineRef = sfn.StateMachine.fromStateMachineArn(
      this,
      'ByArn',
      `arn:${Aws.PARTITION}:states:${region}:${account}:stateMachine:${props.stateMachineName}`,
    );
  }
}

/** A pipeline step that runs a `BakeTimer` and succeeds when the time is up. */
export class BakeStep extends Step implements ICodePipelineActionFactory {
  readonly timer: BakeTimer;

  constructor(id: string, timer: BakeTimer) {
    super(id);
    this.timer = timer;
  }

  produceAction(stage: codepipeline.IStage, options: ProduceActionOptions): CodePipelineActionFactoryResult {
    stage.addAction(
      new actions.StepFunctionInvokeAction({
        actionName: options.actionName,
        runOrder: options.runOrder,
        stateMachine: this.timer.stateMachineRef,
        stateMachineInput: actions.StateMachineInput.literal({ bakeMinutes: this.timer.minutes }),
      }),
    );
    return { runOrdersConsumed: 1 };
  }
}
