/**
 * Pre-deploy drift check: runs CloudFormation drift detection on a stage's stack and fails loudly when someone
 * changed it outside the pipeline (a console edit would otherwise be silently overwritten, or worse, make the
 * deploy fail half-way). The pipeline runs it before every stage deploy, as the CDK bootstrap lookup role of the
 * target account: its ReadOnlyAccess policy grants `cloudformation:Detect*` and `cloudformation:Describe*`, and
 * drift detection reads each resource with the caller's permissions, which read-only access covers.
 *
 * Usage: see DRIFT_CHECK_HELP (`npm run drift-check -- --help`).
 */
import {
  CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { abandoningHungRequests, type HttpTimeouts } from '../services/processor/src/clients.ts';
import {
  type Clock,
  consoleIo,
  EXIT,
  type Io,
  parseCommandArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { TOOL_HTTP_TIMEOUTS } from './lib/targets.ts';

/** What the drift check concluded. Only `in-sync` and `not-deployed` let the deploy go ahead. */
export type DriftCheckResult =
  | { readonly kind: 'not-deployed'; readonly reason: string }
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'drifted'; readonly resources: readonly DriftedResource[] }
  | { readonly kind: 'failed'; readonly reason: string };

export interface DriftedResource {
  readonly logicalId: string;
  readonly resourceType: string;
  readonly status: string;
  /** Property paths that differ (MODIFIED resources only). */
  readonly properties: readonly string[];
}

export interface DriftCheckOptions {
  /** Time between status polls. @default 5000 ms */
  readonly pollIntervalMs?: number;
  /** Give up (and fail) after this long. @default 600000 ms (drift detection of this stack takes well under a minute) */
  readonly timeoutMs?: number;
  /** Injected so tests do not wait. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected so tests control time. @default Date.now */
  readonly now?: () => number;
}

/**
 * Stack states in which there is nothing to compare yet: the first deploy has not happened, or a change set was
 * created and never executed, or the first create rolled back (CloudFormation leaves an empty husk behind).
 */
const NOTHING_DEPLOYED_STATES: ReadonlySet<string> = new Set(['REVIEW_IN_PROGRESS', 'ROLLBACK_COMPLETE']);

/**
 * Differences the stack makes itself, not a person: in `table.mode: 'provisioned'` Application Auto Scaling moves the
 * table's capacity away from the template's minimum, and CloudFormation reports that as drift. Counting it would
 * stop every release of such a stage as soon as traffic scaled the table.
 */
const EXPECTED_DIFFERENCES: readonly { readonly resourceType: string; readonly propertyPath: RegExp }[] = [
  {
    resourceType: 'AWS::DynamoDB::Table',
    propertyPath: /^\/ProvisionedThroughput\/(ReadCapacityUnits|WriteCapacityUnits)$/,
  },
];

function isExpectedDifference(resourceType: string | undefined, propertyPath: string | undefined): boolean {
  return EXPECTED_DIFFERENCES.some(
    (e) => e.resourceType === resourceType && propertyPath !== undefined && e.propertyPath.test(propertyPath),
  );
}

export async function checkStackDrift(
  cfn: CloudFormationClient,
  stackName: string,
  options: DriftCheckOptions = {},
): Promise<DriftCheckResult> {
  const pollIntervalMs = options.pollIntervalMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;

  let status: string | undefined;
  try {
    const described = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    status = described.Stacks?.[0]?.StackStatus;
  } catch (error) {
    if (isStackMissing(error))
      return { kind: 'not-deployed', reason: `stack ${stackName} does not exist yet` };
    throw error;
  }
  if (status === undefined) return { kind: 'not-deployed', reason: `stack ${stackName} does not exist yet` };
  if (NOTHING_DEPLOYED_STATES.has(status)) {
    return {
      kind: 'not-deployed',
      reason: `stack ${stackName} is ${status}: no deployed resources to compare`,
    };
  }
  if (status.endsWith('_IN_PROGRESS')) {
    // The pipeline deploys each stage from one execution at a time, so an operation in progress is someone else's.
    return { kind: 'failed', reason: `stack ${stackName} is ${status}: another deployment is running` };
  }

  const { StackDriftDetectionId: detectionId } = await cfn.send(
    new DetectStackDriftCommand({ StackName: stackName }),
  );
  if (!detectionId) return { kind: 'failed', reason: 'DetectStackDrift returned no detection id' };

  const deadline = now() + timeoutMs;
  for (;;) {
    const detection = await cfn.send(
      new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detectionId }),
    );
    if (detection.DetectionStatus !== 'DETECTION_IN_PROGRESS') {
      // DETECTION_FAILED can still report DRIFTED for the resources it could check: drift wins, it is actionable.
      let onlyExpectedDrift = false;
      if (detection.StackDriftStatus === 'DRIFTED') {
        const { drifted, expectedOnly } = await driftedResources(cfn, stackName);
        if (drifted.length > 0 || expectedOnly === 0) return { kind: 'drifted', resources: drifted };
        onlyExpectedDrift = true;
      }
      if (
        detection.DetectionStatus === 'DETECTION_COMPLETE' &&
        (detection.StackDriftStatus === 'IN_SYNC' || onlyExpectedDrift)
      ) {
        return { kind: 'in-sync' };
      }
      return {
        kind: 'failed',
        reason: `drift detection ${detection.DetectionStatus ?? 'returned no status'} (stack drift status ${
          detection.StackDriftStatus ?? 'unknown'
        })${detection.DetectionStatusReason ? `: ${detection.DetectionStatusReason}` : ''}`,
      };
    }
    if (now() + pollIntervalMs > deadline) {
      return {
        kind: 'failed',
        reason: `drift detection did not finish within ${Math.round(timeoutMs / 1000)}s`,
      };
    }
    await sleep(pollIntervalMs);
  }
}

/**
 * The stack's modified and deleted resources, without the differences the stack makes itself
 * (EXPECTED_DIFFERENCES); `expectedOnly` counts the resources that had nothing else.
 */
async function driftedResources(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<{ drifted: DriftedResource[]; expectedOnly: number }> {
  const drifts: StackResourceDrift[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cfn.send(
      new DescribeStackResourceDriftsCommand({
        StackName: stackName,
        StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'],
        NextToken: nextToken,
      }),
    );
    drifts.push(...(page.StackResourceDrifts ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  const drifted: DriftedResource[] = [];
  let expectedOnly = 0;
  for (const d of drifts) {
    const differences = d.PropertyDifferences ?? [];
    const unexpected = differences.filter((p) => !isExpectedDifference(d.ResourceType, p.PropertyPath));
    if (d.StackResourceDriftStatus === 'MODIFIED' && differences.length > 0 && unexpected.length === 0) {
      expectedOnly += 1;
      continue;
    }
    drifted.push({
      logicalId: d.LogicalResourceId ?? '?',
      resourceType: d.ResourceType ?? '?',
      status: d.StackResourceDriftStatus ?? '?',
      properties: unexpected.map(
        (p) =>
          `${p.PropertyPath ?? '?'} (${p.DifferenceType ?? '?'}: expected ${p.ExpectedValue ?? '-'}, actual ${
            p.ActualValue ?? '-'
          })`,
      ),
    });
  }
  return { drifted, expectedOnly };
}

function isStackMissing(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message);
}

/** Human-readable report, one finding per line; the first line says what happens next. */
export function formatDriftReport(stackName: string, result: DriftCheckResult): string[] {
  switch (result.kind) {
    case 'not-deployed':
      return [`OK: nothing to check, ${result.reason}; the deploy will create it.`];
    case 'in-sync':
      return [`OK: stack ${stackName} is IN_SYNC with its template.`];
    case 'failed':
      return [`FAILED: drift check of ${stackName} could not conclude: ${result.reason}.`];
    case 'drifted':
      return [
        `DRIFTED: stack ${stackName} was changed outside the pipeline; refusing to deploy over it.`,
        ...result.resources.flatMap((r) => [
          `  ${r.logicalId} (${r.resourceType}) ${r.status}`,
          ...r.properties.map((p) => `    ${p}`),
        ]),
        'Revert the manual change (or adopt it in code and push), then retry this stage.',
      ];
  }
}

export const DRIFT_CHECK_HELP = `Usage: npm run drift-check -- --stack-name <name> --region <region> [--role-arn <arn>]

Runs CloudFormation drift detection on a stage's stack before the pipeline deploys it, and refuses to deploy
over a stack someone changed by hand. The pipeline runs it as the stage account's CDK bootstrap lookup role.

Options:
  --stack-name <name>       the stage's stack (the pipeline passes the name its synth gave the stack)
  --region <region>         the stage's region
  --role-arn <arn>          role to assume for the CloudFormation calls (read-only is enough)
  -h, --help                this text

Exit codes: 0 in sync, or nothing deployed yet; 1 drifted, detection failed, or the stack is busy; 2 usage.
Endpoints: the AWS SDK's AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_CLOUDFORMATION are honoured (loopback tests).`;

/** Credentials of `roleArn`, for the CloudFormation client of the target account. */
async function assumeRole(roleArn: string, region: string, timeouts: HttpTimeouts) {
  const sts = new STSClient({ region, requestHandler: abandoningHungRequests(timeouts) });
  const { Credentials: c } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: 'pipeline-drift-check',
      DurationSeconds: 900,
    }),
  );
  if (!c?.AccessKeyId || !c.SecretAccessKey)
    throw new ToolError(`AssumeRole ${roleArn} returned no credentials`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

/** CLI entry: returns the exit code. */
export async function main(
  argv: readonly string[],
  io: Io = consoleIo,
  clock: Clock = systemClock,
  timeouts: HttpTimeouts = TOOL_HTTP_TIMEOUTS,
): Promise<number> {
  // Not parseToolArgs: the pipeline names a stack, a region and a role, not a stage, so the tools' common
  // options (--stage, --endpoint, --dry-run) would be accepted here and mean nothing.
  const values = parseCommandArgs(argv, {
    'stack-name': { type: 'string' },
    region: { type: 'string' },
    'role-arn': { type: 'string' },
  });
  if (values.help) {
    io.out(DRIFT_CHECK_HELP);
    return 0;
  }
  const stackName = values['stack-name'];
  const region = values.region;
  if (!stackName || !region)
    throw new ToolError('--stack-name and --region are required; see --help', EXIT.usage);
  const roleArn = values['role-arn'];
  const credentials = roleArn ? await assumeRole(roleArn, region, timeouts) : undefined;
  const cfn = new CloudFormationClient({
    region,
    requestHandler: abandoningHungRequests(timeouts),
    ...(credentials ? { credentials } : {}),
  });
  const result = await checkStackDrift(cfn, stackName, { sleep: clock.sleep, now: clock.now });
  for (const line of formatDriftReport(stackName, result)) io.out(line);
  return result.kind === 'in-sync' || result.kind === 'not-deployed' ? 0 : 1;
}

if (import.meta.main) await runTool(main);
