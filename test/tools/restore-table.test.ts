import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  RestoreTableToPointInTimeCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoredTableName, restoreTable } from '../../tools/restore-table.ts';
import { captureIo, fakeClock, NO_REGION_ENV } from './helpers.ts';

const SOURCE = 'proc-dev-ObjectTable123';
const TARGET = 'proc-dev-ObjectTable123-restore-20250601T0930Z';
const KEY = 'arn:aws:kms:eu-west-1:222222222222:key/abc';
const TO = '2025-06-01T09:30:00Z';

const ddbMock = mockClient(DynamoDBClient);
const deps = () => ({
  dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
  clock: fakeClock(),
  env: NO_REGION_ENV,
});
const notFound = () =>
  new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} });
const run = (extra: string[] = [], io = captureIo()) =>
  restoreTable(
    ['--stage', 'dev', '--table', SOURCE, '--to', TO, '--poll-seconds', '1', ...extra],
    io,
    deps(),
  );

beforeEach(() => {
  ddbMock.on(DescribeTableCommand).rejects(notFound());
  ddbMock.on(DescribeContinuousBackupsCommand, { TableName: SOURCE }).resolves({
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: {
        PointInTimeRecoveryStatus: 'ENABLED',
        EarliestRestorableDateTime: new Date('2025-05-01T00:00:00Z'),
        LatestRestorableDateTime: new Date('2025-06-02T00:00:00Z'),
      },
    },
  });
  ddbMock.on(DescribeTableCommand, { TableName: SOURCE }).resolves({
    Table: {
      TableName: SOURCE,
      TableStatus: 'ACTIVE',
      SSEDescription: { Status: 'ENABLED', KMSMasterKeyArn: KEY },
    },
  });
  ddbMock
    .on(ScanCommand, { TableName: TARGET })
    .resolvesOnce({ Count: 3, LastEvaluatedKey: { objectKey: { S: 'c' } } })
    .resolvesOnce({ Count: 2 });
  ddbMock.on(ScanCommand, { TableName: SOURCE }).resolves({ Count: 6 });
});

afterEach(() => ddbMock.reset());

describe('restore-table', () => {
  it('restores into a new table under the source KMS key, waits for ACTIVE and reports both counts', async () => {
    ddbMock
      .on(DescribeTableCommand, { TableName: TARGET })
      .rejectsOnce(notFound())
      .rejectsOnce(notFound())
      .resolvesOnce({ Table: { TableStatus: 'CREATING' } })
      .resolves({ Table: { TableStatus: 'ACTIVE' } });
    const io = captureIo();

    expect(await run([], io)).toBe(0);

    expect(ddbMock.commandCalls(RestoreTableToPointInTimeCommand).map((c) => c.args[0].input)).toEqual([
      {
        SourceTableName: SOURCE,
        TargetTableName: TARGET,
        RestoreDateTime: new Date(TO),
        SSESpecificationOverride: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: KEY },
      },
    ]);
    expect(ddbMock.commandCalls(ScanCommand, { TableName: TARGET }).map((c) => c.args[0].input)).toEqual([
      { TableName: TARGET, Select: 'COUNT' },
      { TableName: TARGET, Select: 'COUNT', ExclusiveStartKey: { objectKey: { S: 'c' } } },
    ]);
    expect(io.lines.slice(-3)).toEqual([
      `items in ${TARGET} (as of 2025-06-01T09:30:00.000Z): 5`,
      `items in ${SOURCE} (now): 6`,
      'counts differ by +1: items written (or removed) after the restore point',
    ]);
  });

  it('fails --expect-equal when the counts differ', async () => {
    ddbMock
      .on(DescribeTableCommand, { TableName: TARGET })
      .rejectsOnce(notFound())
      .resolves({ Table: { TableStatus: 'ACTIVE' } });
    expect(await run(['--expect-equal'])).toBe(1);
  });

  it('refuses a time outside the PITR window, and restores nothing in a dry run', async () => {
    await expect(
      restoreTable(
        ['--stage', 'dev', '--table', SOURCE, '--to', '2025-04-01T00:00:00Z'],
        captureIo(),
        deps(),
      ),
    ).rejects.toThrow(/outside .*restore window 2025-05-01T00:00:00.000Z/);

    const io = captureIo();
    expect(await run(['--dry-run'], io)).toBe(0);
    expect(ddbMock.commandCalls(RestoreTableToPointInTimeCommand)).toHaveLength(0);
    expect(ddbMock.commandCalls(ScanCommand)).toHaveLength(0);
    expect(io.text()).toContain(`restore ${SOURCE} as of 2025-06-01T09:30:00.000Z into ${TARGET}`);
  });

  it('never restores over an existing table; --resume waits for it and verifies with parallel segments', async () => {
    ddbMock.on(DescribeTableCommand, { TableName: TARGET }).resolves({ Table: { TableStatus: 'ACTIVE' } });
    await expect(run()).rejects.toThrow(`table ${TARGET} already exists; pass --resume`);

    ddbMock.on(ScanCommand).resolves({ Count: 4 });
    const io = captureIo();
    expect(await run(['--resume', '--segments', '2'], io)).toBe(0);

    expect(ddbMock.commandCalls(RestoreTableToPointInTimeCommand)).toHaveLength(0);
    const segments = ddbMock.commandCalls(ScanCommand, { TableName: TARGET }).map((c) => c.args[0].input);
    expect(segments).toEqual([
      { TableName: TARGET, Select: 'COUNT', Segment: 0, TotalSegments: 2 },
      { TableName: TARGET, Select: 'COUNT', Segment: 1, TotalSegments: 2 },
    ]);
    expect(io.lines).toContain('counts match');
  });

  it('rejects a malformed --to before any AWS call', async () => {
    await expect(
      restoreTable(['--stage', 'dev', '--table', SOURCE, '--to', 'yesterday'], captureIo(), deps()),
    ).rejects.toThrow('--to is "yesterday"; expected an ISO time');
    // No zone: Date would read it in the operator's local zone, hours off the UTC incident timeline.
    await expect(
      restoreTable(['--stage', 'dev', '--table', SOURCE, '--to', '2025-06-01T09:30'], captureIo(), deps()),
    ).rejects.toThrow('expected an ISO time with its zone');
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('names the restored table after the source and the restore point, within DynamoDB limits', () => {
    expect(restoredTableName('t-1', new Date('2025-12-31T23:59:59.999Z'))).toBe('t-1-restore-20251231T2359Z');
    const long = restoredTableName('x'.repeat(255), new Date(TO));
    expect(long).toHaveLength(255);
    expect(long.endsWith('-restore-20250601T0930Z')).toBe(true);
  });
});
