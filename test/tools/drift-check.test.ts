import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkStackDrift, formatDriftReport, main } from '../../tools/drift-check.ts';

const STACK = 's3-object-processor-dev-processor';
const cfnMock = mockClient(CloudFormationClient);
const stsMock = mockClient(STSClient);
const cfn = () => new CloudFormationClient({ region: 'eu-west-1' });

/** A clock that only moves when the code under test sleeps. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

function stackMissing() {
  return new CloudFormationServiceException({
    name: 'ValidationError',
    $fault: 'client',
    $metadata: {},
    message: `Stack with id ${STACK} does not exist`,
  });
}

function deployed(status: StackStatus = 'UPDATE_COMPLETE') {
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: STACK, StackStatus: status, CreationTime: new Date(0) }],
  });
  cfnMock.on(DetectStackDriftCommand).resolves({ StackDriftDetectionId: 'det-1' });
}

afterEach(() => {
  cfnMock.reset();
  stsMock.reset();
});

describe('checkStackDrift', () => {
  it('treats a stack that does not exist yet (first deploy) as nothing to check, without detecting drift', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(stackMissing());

    const result = await checkStackDrift(cfn(), STACK);

    expect(result.kind).toBe('not-deployed');
    expect(cfnMock.commandCalls(DetectStackDriftCommand)).toHaveLength(0);
  });

  it.each(['REVIEW_IN_PROGRESS', 'ROLLBACK_COMPLETE'] as const)(
    'treats a %s stack as nothing deployed',
    async (status) => {
      deployed(status);

      const result = await checkStackDrift(cfn(), STACK);

      expect(result).toEqual({ kind: 'not-deployed', reason: expect.stringContaining(status) });
      expect(cfnMock.commandCalls(DetectStackDriftCommand)).toHaveLength(0);
    },
  );

  it('fails when another operation is running on the stack', async () => {
    deployed('UPDATE_IN_PROGRESS');

    const result = await checkStackDrift(cfn(), STACK);

    expect(result).toEqual({ kind: 'failed', reason: expect.stringContaining('UPDATE_IN_PROGRESS') });
  });

  it('rethrows errors other than "does not exist" (e.g. access denied) instead of skipping the check', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: {},
        message: 'not authorized',
      }),
    );

    await expect(checkStackDrift(cfn(), STACK)).rejects.toThrow('not authorized');
  });

  it('polls until detection completes and reports IN_SYNC', async () => {
    deployed();
    cfnMock
      .on(DescribeStackDriftDetectionStatusCommand, { StackDriftDetectionId: 'det-1' })
      .resolvesOnce({ DetectionStatus: 'DETECTION_IN_PROGRESS', StackId: 's', Timestamp: new Date(0) })
      .resolvesOnce({ DetectionStatus: 'DETECTION_IN_PROGRESS', StackId: 's', Timestamp: new Date(0) })
      .resolves({
        DetectionStatus: 'DETECTION_COMPLETE',
        StackDriftStatus: 'IN_SYNC',
        StackId: 's',
        Timestamp: new Date(0),
      });
    const time = fakeTime();

    const result = await checkStackDrift(cfn(), STACK, { pollIntervalMs: 1000, ...time });

    expect(result).toEqual({ kind: 'in-sync' });
    expect(cfnMock.commandCalls(DetectStackDriftCommand)[0]?.args[0].input).toEqual({ StackName: STACK });
    expect(cfnMock.commandCalls(DescribeStackDriftDetectionStatusCommand)).toHaveLength(3);
    expect(time.sleeps).toEqual([1000, 1000]);
  });

  it('reports DRIFTED with every modified or deleted resource and its property differences, across pages', async () => {
    deployed();
    cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: 'DRIFTED',
      StackId: 's',
      Timestamp: new Date(0),
    });
    cfnMock
      .on(DescribeStackResourceDriftsCommand)
      .resolvesOnce({
        NextToken: 'page-2',
        StackResourceDrifts: [
          {
            StackId: 's',
            LogicalResourceId: 'ProcessorFunction',
            ResourceType: 'AWS::Lambda::Function',
            StackResourceDriftStatus: 'MODIFIED',
            Timestamp: new Date(0),
            PropertyDifferences: [
              {
                PropertyPath: '/MemorySize',
                ExpectedValue: '256',
                ActualValue: '1024',
                DifferenceType: 'NOT_EQUAL',
              },
            ],
          },
        ],
      })
      .resolves({
        StackResourceDrifts: [
          {
            StackId: 's',
            LogicalResourceId: 'AlarmTopicSubscription',
            ResourceType: 'AWS::SNS::Subscription',
            StackResourceDriftStatus: 'DELETED',
            Timestamp: new Date(0),
          },
        ],
      });

    const result = await checkStackDrift(cfn(), STACK, fakeTime());

    expect(result).toEqual({
      kind: 'drifted',
      resources: [
        {
          logicalId: 'ProcessorFunction',
          resourceType: 'AWS::Lambda::Function',
          status: 'MODIFIED',
          properties: ['/MemorySize (NOT_EQUAL: expected 256, actual 1024)'],
        },
        {
          logicalId: 'AlarmTopicSubscription',
          resourceType: 'AWS::SNS::Subscription',
          status: 'DELETED',
          properties: [],
        },
      ],
    });
    const pages = cfnMock.commandCalls(DescribeStackResourceDriftsCommand).map((c) => c.args[0].input);
    expect(pages).toEqual([
      { StackName: STACK, StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'], NextToken: undefined },
      { StackName: STACK, StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'], NextToken: 'page-2' },
    ]);
  });

  describe('capacity moved by auto scaling (provisioned tables)', () => {
    const TABLE = 'ProcessorObjectsTable';
    const capacity = (property: string, expected: string, actual: string) => ({
      PropertyPath: `/ProvisionedThroughput/${property}`,
      ExpectedValue: expected,
      ActualValue: actual,
      DifferenceType: 'NOT_EQUAL' as const,
    });
    const tableDrift = (differences: ReturnType<typeof capacity>[]) => ({
      StackId: 's',
      LogicalResourceId: TABLE,
      ResourceType: 'AWS::DynamoDB::Table',
      StackResourceDriftStatus: 'MODIFIED' as const,
      Timestamp: new Date(0),
      PropertyDifferences: differences,
    });
    const detected = (DetectionStatus: 'DETECTION_COMPLETE' | 'DETECTION_FAILED') =>
      cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolves({
        DetectionStatus,
        StackDriftStatus: 'DRIFTED',
        StackId: 's',
        Timestamp: new Date(0),
      });

    it('is the stack working, not drift: a table whose only differences are its capacities is in sync', async () => {
      deployed();
      detected('DETECTION_COMPLETE');
      cfnMock.on(DescribeStackResourceDriftsCommand).resolves({
        StackResourceDrifts: [
          tableDrift([capacity('ReadCapacityUnits', '5', '40'), capacity('WriteCapacityUnits', '5', '25')]),
        ],
      });

      expect(await checkStackDrift(cfn(), STACK, fakeTime())).toEqual({ kind: 'in-sync' });
    });

    it('still reports every other difference, of the table itself or of another resource', async () => {
      deployed();
      detected('DETECTION_COMPLETE');
      const billing = {
        PropertyPath: '/BillingMode',
        ExpectedValue: 'PROVISIONED',
        ActualValue: 'PAY_PER_REQUEST',
        DifferenceType: 'NOT_EQUAL' as const,
      };
      cfnMock.on(DescribeStackResourceDriftsCommand).resolves({
        StackResourceDrifts: [
          tableDrift([capacity('ReadCapacityUnits', '5', '40'), billing]),
          {
            StackId: 's',
            LogicalResourceId: 'ProcessorFunction',
            ResourceType: 'AWS::Lambda::Function',
            StackResourceDriftStatus: 'MODIFIED',
            Timestamp: new Date(0),
            // The same path on a resource auto scaling does not touch is someone's change.
            PropertyDifferences: [capacity('ReadCapacityUnits', '1', '2')],
          },
        ],
      });

      expect(await checkStackDrift(cfn(), STACK, fakeTime())).toEqual({
        kind: 'drifted',
        resources: [
          {
            logicalId: TABLE,
            resourceType: 'AWS::DynamoDB::Table',
            status: 'MODIFIED',
            properties: ['/BillingMode (NOT_EQUAL: expected PROVISIONED, actual PAY_PER_REQUEST)'],
          },
          {
            logicalId: 'ProcessorFunction',
            resourceType: 'AWS::Lambda::Function',
            status: 'MODIFIED',
            properties: ['/ProvisionedThroughput/ReadCapacityUnits (NOT_EQUAL: expected 1, actual 2)'],
          },
        ],
      });
    });

    it('does not turn a partly failed detection into "in sync"', async () => {
      deployed();
      detected('DETECTION_FAILED');
      cfnMock.on(DescribeStackResourceDriftsCommand).resolves({
        StackResourceDrifts: [tableDrift([capacity('WriteCapacityUnits', '5', '25')])],
      });

      expect((await checkStackDrift(cfn(), STACK, fakeTime())).kind).toBe('failed');
    });
  });

  it('reports drift even when detection partly failed, and fails with the reason when nothing drifted', async () => {
    deployed();
    cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolvesOnce({
      DetectionStatus: 'DETECTION_FAILED',
      StackDriftStatus: 'DRIFTED',
      DetectionStatusReason: 'Failed to detect drift on resource [X]',
      StackId: 's',
      Timestamp: new Date(0),
    });
    cfnMock.on(DescribeStackResourceDriftsCommand).resolves({ StackResourceDrifts: [] });
    expect((await checkStackDrift(cfn(), STACK, fakeTime())).kind).toBe('drifted');

    cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_FAILED',
      StackDriftStatus: 'NOT_CHECKED',
      DetectionStatusReason: 'Failed to detect drift on resource [ProcessorFunction]: access denied',
      StackId: 's',
      Timestamp: new Date(0),
    });
    expect(await checkStackDrift(cfn(), STACK, fakeTime())).toEqual({
      kind: 'failed',
      reason: expect.stringContaining('access denied'),
    });
  });

  it('fails (does not wait forever) when detection never finishes', async () => {
    deployed();
    cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_IN_PROGRESS',
      StackId: 's',
      Timestamp: new Date(0),
    });
    const time = fakeTime();

    const result = await checkStackDrift(cfn(), STACK, { pollIntervalMs: 5000, timeoutMs: 60_000, ...time });

    expect(result).toEqual({ kind: 'failed', reason: expect.stringContaining('60s') });
    expect(time.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000);
  });
});

describe('formatDriftReport', () => {
  it('names each drifted resource and property, and says the deploy is refused', () => {
    const lines = formatDriftReport(STACK, {
      kind: 'drifted',
      resources: [
        { logicalId: 'Table', resourceType: 'AWS::DynamoDB::Table', status: 'MODIFIED', properties: ['/X'] },
      ],
    });
    expect(lines[0]).toMatch(/^DRIFTED: .*refusing to deploy/);
    expect(lines).toContain('  Table (AWS::DynamoDB::Table) MODIFIED');
    expect(lines).toContain('    /X');
  });
});

describe('main', () => {
  const io = () => {
    const out: string[] = [];
    return { out, io: { out: (l: string) => out.push(l), progress: () => {} } };
  };

  it('assumes the given role and exits 1 on drift', async () => {
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'AK', SecretAccessKey: 'SK', SessionToken: 'T', Expiration: new Date(0) },
    });
    deployed();
    cfnMock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: 'DRIFTED',
      StackId: 's',
      Timestamp: new Date(0),
    });
    cfnMock.on(DescribeStackResourceDriftsCommand).resolves({ StackResourceDrifts: [] });
    const { out, io: lines } = io();
    const role = 'arn:aws:iam::222222222222:role/cdk-hnb659fds-lookup-role-222222222222-eu-west-1';

    const code = await main(['--stack-name', STACK, '--region', 'eu-west-1', '--role-arn', role], lines);

    expect(code).toBe(1);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({ RoleArn: role });
    expect(out[0]).toMatch(/^DRIFTED/);
  });

  it('exits 0 on the first deploy; usage mistakes are one-line ToolErrors with exit code 2', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(stackMissing());
    expect(await main(['--stack-name', STACK, '--region', 'eu-west-1'], io().io)).toBe(0);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    await expect(main(['--stack-name', STACK], io().io)).rejects.toMatchObject({
      name: 'ToolError',
      exitCode: 2,
      message: '--stack-name and --region are required; see --help',
    });
    await expect(main(['--stack', STACK], io().io)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('answers --help with its usage and exit code 0', async () => {
    const { out, io: lines } = io();
    expect(await main(['--help'], lines)).toBe(0);
    expect(out.join('\n')).toContain('Usage: npm run drift-check -- --stack-name <name> --region <region>');
    expect(cfnMock.calls()).toHaveLength(0);
  });
});
