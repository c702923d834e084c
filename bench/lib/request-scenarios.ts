import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AwsFixture } from './aws-fixture.ts';
import { objectEventMessages, PNG_BYTES, sequencer, testEventMessage } from './s3-events.ts';

/**
 * The AWS requests the processor makes per object for each kind of event, counted at the proxies. Shared by
 * `npm run bench` (which reports them) and test/budgets (which fails when they rise).
 */

/** Requests per object of one scenario, by operation (e.g. `{ GetObjectRange: 1, PutItem: 1 }`). */
export interface ScenarioCounts {
  readonly scenario: ScenarioName;
  readonly objects: number;
  /** Total requests per operation divided by the number of objects. */
  readonly perObject: Readonly<Record<string, number>>;
  /** All requests per object, every operation together. */
  readonly totalPerObject: number;
  /** Item status per key after the scenario, read back directly from the table. */
  readonly statuses: readonly (string | undefined)[];
  /** Item ETag per key after the scenario: shows which content the item reflects. */
  readonly eTags: readonly (string | undefined)[];
  readonly batchItemFailures: number;
  /** Bytes the handler wrote to its logs (JSON lines, EMF metrics) per object, when the caller can see them. */
  readonly logBytesPerObject?: number;
}

export type ScenarioName =
  | 'created object'
  | 'delete'
  | 's3:TestEvent'
  | 'duplicate (redelivered create)'
  | 'stale (older create, object since overwritten)';

/** The most requests per object each scenario may make: the budget the guard in `npm test` enforces. */
export const REQUEST_BUDGET: Readonly<Record<ScenarioName, Readonly<Record<string, number>>>> = {
  // One ranged GetObject (bytes, declared type, ETag and total size in one response) and one conditional write.
  'created object': { GetObjectRange: 1, PutItem: 1 },
  // Deletes carry everything the item needs: one conditional write, no S3 read.
  delete: { PutItem: 1 },
  's3:TestEvent': {},
  // A redelivery reads the object again (the handler keeps no state across invocations) and loses the write.
  'duplicate (redelivered create)': { GetObjectRange: 1, PutItem: 1 },
  // The GET shows the object was overwritten (different ETag): at most the read, and at most the losing write.
  'stale (older create, object since overwritten)': { GetObjectRange: 1, PutItem: 1 },
};

/** Operations that count as "one conditional write" in a budget: whichever of them the processor uses. */
const WRITE_OPERATIONS = ['PutItem', 'UpdateItem'] as const;

/**
 * Checks counts against a budget. Writes are budgeted together (PutItem or UpdateItem, whichever the code uses);
 * any operation the budget does not name is over budget. Returns one sentence per violation.
 */
export function overBudget(
  perObject: Readonly<Record<string, number>>,
  budget: Readonly<Record<string, number>>,
) {
  const problems: string[] = [];
  const writes = WRITE_OPERATIONS.reduce((n, op) => n + (perObject[op] ?? 0), 0);
  const writeBudget = WRITE_OPERATIONS.reduce((n, op) => n + (budget[op] ?? 0), 0);
  if (writes > writeBudget) problems.push(`${writes} DynamoDB writes per object; budget ${writeBudget}`);
  for (const [operation, count] of Object.entries(perObject)) {
    if ((WRITE_OPERATIONS as readonly string[]).includes(operation)) continue;
    const allowed = budget[operation] ?? 0;
    if (count > allowed) problems.push(`${count} ${operation} per object; budget ${allowed}`);
  }
  return problems;
}

/** Every scenario's counts, and the ETags of the two contents each key had (to check which one an item shows). */
export interface ScenarioRun {
  readonly scenarios: readonly ScenarioCounts[];
  readonly originalETags: readonly string[];
  readonly overwrittenETags: readonly string[];
}

type Invoke = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** How the scenarios reach the handler under test. */
export interface ScenarioTarget {
  readonly invoke: Invoke;
  /** Bytes the handler has written to stdout/stderr so far, if observable (CloudWatch Logs bills ingestion). */
  readonly logBytes?: () => number;
}

/**
 * Runs every scenario on `objects` fresh keys under `prefix` through `invoke` (the handler under test, pointed at
 * the fixture's proxies) and returns requests per object. The fixture's latency should be 0: counts do not depend
 * on it and the run is faster.
 */
export async function runRequestScenarios(
  fixture: AwsFixture,
  target: ScenarioTarget,
  prefix: string,
  objects = 10,
): Promise<ScenarioRun> {
  const keys = Array.from({ length: objects }, (_, i) => `${prefix}/object ${i}.png`);
  const results: ScenarioCounts[] = [];
  const measure = async (scenario: ScenarioName, event: SQSEvent, perObjectOf: number) => {
    fixture.resetCounts();
    const logBytesBefore = target.logBytes?.();
    const response = await target.invoke(event);
    const counts = fixture.counts();
    const logBytes = logBytesBefore === undefined ? undefined : (target.logBytes?.() ?? 0) - logBytesBefore;
    const items = await Promise.all(keys.map((k) => fixture.item(k)));
    const perObject = Object.fromEntries(Object.entries(counts).map(([op, n]) => [op, n / perObjectOf]));
    results.push({
      scenario,
      objects: perObjectOf,
      perObject,
      totalPerObject: Object.values(counts).reduce((a, b) => a + b, 0) / perObjectOf,
      statuses: items.map((item) => item?.status),
      eTags: items.map((item) => item?.eTag),
      batchItemFailures: response.batchItemFailures.length,
      ...(logBytes === undefined ? {} : { logBytesPerObject: logBytes / perObjectOf }),
    });
  };

  // Sequencers 10, 20, 30 leave room for an "older" event (5) that S3 could have raised before the first one.
  const original = await fixture.putObjects(keys, PNG_BYTES, 'image/png');
  const creates = original.map((o) => ({
    bucket: fixture.bucket,
    key: o.key,
    sequencer: sequencer(10),
    object: o,
  }));
  await measure('created object', objectEventMessages(creates), objects);
  await measure('duplicate (redelivered create)', objectEventMessages(creates), objects);

  // The keys are overwritten (sequencer 20, new content and ETag) and that event processed; then an event for
  // the first content arrives late. Its announced ETag no longer matches the object.
  const overwritten = await fixture.putObjects(
    keys,
    Buffer.concat([PNG_BYTES, Buffer.from('v2')]),
    'image/png',
  );
  await target.invoke(
    objectEventMessages(
      overwritten.map((o) => ({ bucket: fixture.bucket, key: o.key, sequencer: sequencer(20), object: o })),
    ),
  );
  const older = original.map((o) => ({
    bucket: fixture.bucket,
    key: o.key,
    sequencer: sequencer(5),
    object: o,
  }));
  await measure('stale (older create, object since overwritten)', objectEventMessages(older), objects);

  await fixture.deleteObjects(keys);
  const deletes = keys.map((key) => ({ bucket: fixture.bucket, key, sequencer: sequencer(30) }));
  await measure('delete', objectEventMessages(deletes), objects);

  await measure('s3:TestEvent', testEventMessage(fixture.bucket), 1);
  return {
    scenarios: results,
    originalETags: original.map((o) => o.eTag),
    overwrittenETags: overwritten.map((o) => o.eTag),
  };
}
