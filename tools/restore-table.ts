/**
 * Restores the stage's table to a point in time into a NEW table (never over the live one), waits until it is
 * usable and verifies it by counting items in both tables. The disaster-recovery drill (docs/disaster-recovery.md)
 * is built on this.
 */
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DynamoDBClient,
  RestoreTableToPointInTimeCommand,
  ScanCommand,
  type ScanCommandOutput,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  type Clock,
  COMMON_HELP,
  type Io,
  integerOption,
  numberOption,
  parseToolArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { clientConfig, resolveOutputs, stageContext } from './lib/targets.ts';

export const RESTORE_HELP = `Usage: npm run restore-table -- --stage <name> --to <ISO time> [options]

Restores the stage's DynamoDB table as it was at --to (point-in-time recovery) into a new table, waits until the
new table is ACTIVE, then counts the items in both tables (Scan, Select COUNT) and reports them. The live table
is never touched. The new table keeps the source's KMS key; it has NO point-in-time recovery, deletion
protection, tags, alarms or auto scaling until you add them (see docs/disaster-recovery.md).

Options:
  --to <ISO time>           point in time, e.g. 2025-06-01T09:30:00Z (within the PITR window)
  --target-table <name>     name of the new table (default <source>-restore-<yyyymmddThhmmZ>)
  --table <name>            source table instead of the stack output
  --segments <n>            parallel scan segments for counting (default 1; 4-8 for millions of items)
  --resume                  the target already exists from an earlier run (restoring or restored): skip the
                            restore, wait for it and verify
  --expect-equal            exit 1 unless both tables hold the same number of items (a drill on a quiet table)
  --poll-seconds <n>        how often to check the restore (default 30)
  --timeout-minutes <n>     stop waiting after this long; the restore carries on (default 240)
${COMMON_HELP}`;

export interface RestoreDeps {
  readonly dynamodb?: DynamoDBClient;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

/** Default name of the restored table: the source's name and the restore point, both visible in the console. */
export function restoredTableName(source: string, to: Date): string {
  const suffix = `-restore-${to.toISOString().replace(/[-:]/g, '').slice(0, 13)}Z`;
  return `${source.slice(0, 255 - suffix.length)}${suffix}`;
}

export async function restoreTable(argv: readonly string[], io: Io, deps: RestoreDeps = {}): Promise<number> {
  const args = parseToolArgs(argv, {
    to: { type: 'string' },
    'target-table': { type: 'string' },
    table: { type: 'string' },
    segments: { type: 'string' },
    'expect-equal': { type: 'boolean' },
    resume: { type: 'boolean' },
    'poll-seconds': { type: 'string' },
    'timeout-minutes': { type: 'string' },
  });
  if (args.help) {
    io.out(RESTORE_HELP);
    return 0;
  }
  if (!args.to) throw new ToolError('--to <ISO time> is required, e.g. --to 2025-06-01T09:30:00Z', 2);
  const to = new Date(args.to);
  // The zone is mandatory: without one, Date reads the time in the operator's local zone, and a laptop outside UTC
  // would restore hours away from the moment the incident timeline (in UTC) names.
  if (
    Number.isNaN(to.getTime()) ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(args.to)
  ) {
    throw new ToolError(
      `--to is "${args.to}"; expected an ISO time with its zone, like 2025-06-01T09:30:00Z or 2025-06-01T11:30:00+02:00`,
      2,
    );
  }
  const segments = integerOption('segments', args.segments, 1, 1000);
  const pollMs = numberOption('poll-seconds', args['poll-seconds'], 30) * 1000;
  const timeoutMs = numberOption('timeout-minutes', args['timeout-minutes'], 240) * 60_000;
  const context = stageContext({ ...args, env: deps.env });
  const clock = deps.clock ?? systemClock;
  const dynamodb = deps.dynamodb ?? new DynamoDBClient(clientConfig(context.target, 'dynamodb'));
  const { tableName: source } = await resolveOutputs(context, ['tableName'], { tableName: args.table });
  const target = args['target-table'] ?? restoredTableName(source, to);
  if (!/^[\w.-]{3,255}$/.test(target)) {
    throw new ToolError(
      `--target-table "${target}" is not a DynamoDB table name ([A-Za-z0-9_.-], 3..255)`,
      2,
    );
  }

  const existing = await describe(dynamodb, target);
  if (existing && !args.resume) {
    throw new ToolError(
      `table ${target} already exists; pass --resume to wait for and verify it, or choose another --target-table`,
    );
  }
  if (!existing && args.resume) throw new ToolError(`--resume: table ${target} does not exist`, 2);
  // A resumed restore was checked against the window when it started; the window has moved on since.
  if (!existing) {
    const { ContinuousBackupsDescription: backups } = await dynamodb.send(
      new DescribeContinuousBackupsCommand({ TableName: source }),
    );
    const pitr = backups?.PointInTimeRecoveryDescription;
    if (pitr?.PointInTimeRecoveryStatus !== 'ENABLED') {
      throw new ToolError(`point-in-time recovery is not enabled on ${source}; nothing to restore from`);
    }
    const earliest = pitr.EarliestRestorableDateTime;
    const latest = pitr.LatestRestorableDateTime;
    if ((earliest && to < earliest) || (latest && to > latest)) {
      throw new ToolError(
        `--to ${to.toISOString()} is outside ${source}'s restore window ${earliest?.toISOString() ?? '?'} .. ${latest?.toISOString() ?? '?'}`,
      );
    }
  }
  const sourceTable = await describe(dynamodb, source);
  const kmsKeyArn = sourceTable?.SSEDescription?.KMSMasterKeyArn;
  io.out(`stage ${context.stage.stageName}: restore ${source} as of ${to.toISOString()} into ${target}`);
  io.out(
    `  encryption: ${kmsKeyArn ? `the source's KMS key ${kmsKeyArn}` : 'DynamoDB default (source has no CMK)'}`,
  );
  if (args['dry-run']) {
    io.out(`dry run: nothing ${existing ? 'verified' : 'restored'}`);
    return 0;
  }

  if (!existing) {
    await dynamodb.send(
      new RestoreTableToPointInTimeCommand({
        SourceTableName: source,
        TargetTableName: target,
        RestoreDateTime: to,
        ...(kmsKeyArn
          ? { SSESpecificationOverride: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: kmsKeyArn } }
          : {}),
      }),
    );
  }
  io.progress(
    `${existing ? 'resuming' : 'restore started'}; checking every ${pollMs / 1000} s (restores take minutes to hours, by table size)`,
  );

  const deadline = clock.now() + timeoutMs;
  for (;;) {
    await clock.sleep(pollMs);
    const table = await describe(dynamodb, target);
    io.progress(`  ${target}: ${table?.TableStatus ?? 'not visible yet'}`);
    if (table?.TableStatus === 'ACTIVE') break;
    if (clock.now() >= deadline) {
      io.out(
        `not ACTIVE after ${timeoutMs / 60_000} minutes; the restore carries on. Verify later with the same command plus --resume --target-table ${target}`,
      );
      return 1;
    }
  }

  const restored = await countItems(dynamodb, target, segments, io);
  const current = await countItems(dynamodb, source, segments, io);
  const difference = current - restored;
  io.out(`items in ${target} (as of ${to.toISOString()}): ${restored}`);
  io.out(`items in ${source} (now): ${current}`);
  io.out(
    difference === 0
      ? 'counts match'
      : `counts differ by ${difference > 0 ? '+' : ''}${difference}: items written (or removed) after the restore point`,
  );
  if (restored === 0 && current > 0)
    io.out('warning: the restored table is empty; was --to before the first write?');
  return args['expect-equal'] && difference !== 0 ? 1 : 0;
}

async function describe(dynamodb: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** Counts items with Scan Select COUNT (paginated, optionally in parallel segments). Costs read capacity. */
export async function countItems(
  dynamodb: DynamoDBClient,
  tableName: string,
  segments: number,
  io: Io,
): Promise<number> {
  let pages = 0;
  let total = 0;
  const scanSegment = async (segment: number) => {
    let count = 0;
    let startKey: ScanCommandOutput['LastEvaluatedKey'];
    do {
      const page = await dynamodb.send(
        new ScanCommand({
          TableName: tableName,
          Select: 'COUNT',
          ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      count += page.Count ?? 0;
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
      pages += 1;
      if (pages % 100 === 0) io.progress(`  counting ${tableName}: ${total} items after ${pages} pages`);
    } while (startKey);
    return count;
  };
  const counts = await Promise.all(Array.from({ length: segments }, (_, i) => scanSegment(i)));
  return counts.reduce((a, b) => a + b, 0);
}

if (import.meta.main) await runTool(restoreTable);
