import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import {
  type CodePipelineActionFactoryResult,
  type ICodePipelineActionFactory,
  type ProduceActionOptions,
  Step,
} from 'aws-cdk-lib/pipelines';

export interface ReviewedApprovalStepProps {
  /** What the approver reads in the approval: may hold another step's exported variables. */
  readonly comment: string;
  /** The approval's review link: may hold another step's exported variable. */
  readonly reviewUrl: string;
}

/**
 * A manual approval whose comment and review link come from an earlier step's exported variables (the
 * change-set review's SUMMARY and REVIEW_URL). CDK Pipelines' own ManualApprovalStep looks for variables in its
 * comment but has no review link at all; this one declares the outputs of both, which also makes the approval
 * depend on the review.
 */
export class ReviewedApprovalStep extends Step implements ICodePipelineActionFactory {
  readonly comment: string;
  readonly reviewUrl: string;

  constructor(id: string, props: ReviewedApprovalStepProps) {
    super(id);
    this.comment = props.comment;
    this.reviewUrl = props.reviewUrl;
    this.discoverReferencedOutputs({ comment: props.comment, reviewUrl: props.reviewUrl });
  }

  produceAction(stage: codepipeline.IStage, options: ProduceActionOptions): CodePipelineActionFactoryResult {
    stage.addAction(
      new actions.ManualApprovalAction({
        actionName: options.actionName,
        runOrder: options.runOrder,
        additionalInformation: this.comment,
        externalEntityLink: this.reviewUrl,
      }),
    );
    return { runOrdersConsumed: 1 };
  }
}
