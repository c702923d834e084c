/**
 * Reads a stack's change set, every page, with property values: what the change-set review renders and records.
 * Waits (bounded, on the injected clock) while CloudFormation is still computing it; turns the states in which
 * there is nothing to review into one actionable line.
 */
import {
  type CloudFormationClient,
  DescribeChangeSetCommand,
  type DescribeChangeSetOutput,
  paginateDescribeChangeSet,
} from '@aws-sdk/client-cloudformation';
import { isNoChangesReason } from './change-set-review.ts';
import { type Clock, ToolError } from './cli.ts';

export interface ChangeSetAddress {
  readonly stackName: string;
  readonly changeSetName: string;
  /** For messages only. */
  readonly region: string;
}

export interface ReadChangeSetOptions {
  readonly clock: Clock;
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
  /** Give up waiting for CREATE_PENDING/CREATE_IN_PROGRESS after this long. */
  readonly timeoutMs: number;
  /** Time between polls while CloudFormation computes the change set. @default 5000 */
  readonly pollIntervalMs?: number;
}

/** CloudFormation is still computing the change set. */
const PENDING: ReadonlySet<string> = new Set(['CREATE_PENDING', 'CREATE_IN_PROGRESS']);

/** A change set in these execution states will not be executed by the pipeline: reviewing it would mislead. */
const NOT_EXECUTABLE: Readonly<Record<string, string>> = {
  EXECUTE_IN_PROGRESS: 'is being executed',
  EXECUTE_COMPLETE: 'was already executed',
  EXECUTE_FAILED: 'was executed and failed',
  OBSOLETE: 'is obsolete (the stack changed after it was created)',
};

/** A real change set has at most a few pages; more means a token that never ends. */
const MAX_PAGES = 100;

/**
 * Every page of the change set, in order. The SDK's waiter (waitUntilChangeSetCreateComplete) is not used: it
 * sleeps on real time, which tests cannot drive, and it treats the "no changes" FAILED set as a failure.
 */
export async function readChangeSet(
  cfn: CloudFormationClient,
  address: ChangeSetAddress,
  options: ReadChangeSetOptions,
): Promise<DescribeChangeSetOutput[]> {
  const { clock, progress, timeoutMs } = options;
  const interval = options.pollIntervalMs ?? 5000;
  const input = {
    StackName: address.stackName,
    ChangeSetName: address.changeSetName,
    IncludePropertyValues: true,
  };
  const what = `change set ${address.changeSetName} of stack ${address.stackName}`;
  const deadline = clock.now() + timeoutMs;

  let first: DescribeChangeSetOutput;
  for (;;) {
    first = await describe(cfn, input, address);
    const status = first.Status ?? '?';
    if (!PENDING.has(status)) break;
    if (clock.now() + interval > deadline) {
      throw new ToolError(
        `${what} is still ${status} after ${Math.round(timeoutMs / 1000)}s; retry the step, or raise --wait-seconds`,
      );
    }
    progress(`${what} is ${status}; checking again in ${Math.round(interval / 1000)}s`);
    await clock.sleep(interval);
  }

  const status = first.Status ?? '?';
  if (status === 'FAILED') {
    if (isNoChangesReason(first.StatusReason)) return [first];
    throw new ToolError(`${what} FAILED: ${first.StatusReason ?? 'no reason given'}`);
  }
  if (status !== 'CREATE_COMPLETE') {
    throw new ToolError(
      `${what} is ${status}: it is being deleted or was; re-run the stage's Prepare action`,
    );
  }
  const notExecutable = NOT_EXECUTABLE[first.ExecutionStatus ?? ''];
  if (notExecutable) {
    throw new ToolError(
      `${what} ${notExecutable} (${first.ExecutionStatus}): there is nothing left to approve; re-run the stage from its Prepare action`,
    );
  }

  const pages = [first];
  if (first.NextToken) {
    const rest = paginateDescribeChangeSet(
      { client: cfn, startingToken: first.NextToken, stopOnSameToken: true },
      { ...input },
    );
    for await (const page of rest) {
      pages.push(page);
      if (pages.length > MAX_PAGES) {
        throw new ToolError(
          `${what} did not end after ${MAX_PAGES} pages of DescribeChangeSet; retry the step`,
        );
      }
    }
  }
  if (pages.length > 1) progress(`read ${what}: ${pages.length} pages`);
  return pages;
}

async function describe(
  cfn: CloudFormationClient,
  input: { StackName: string; ChangeSetName: string; IncludePropertyValues: boolean },
  address: ChangeSetAddress,
): Promise<DescribeChangeSetOutput> {
  try {
    return await cfn.send(new DescribeChangeSetCommand(input));
  } catch (error) {
    if (
      error instanceof Error &&
      (error.name === 'ChangeSetNotFoundException' ||
        (error.name === 'ValidationError' && /does not exist/i.test(error.message)))
    ) {
      throw new ToolError(
        `change set ${address.changeSetName} of stack ${address.stackName} not found in ${address.region}: did the stage's Prepare action create it (--change-set-name), and is this the stage's stack and region (--stack-name, --region)?`,
      );
    }
    throw error;
  }
}
