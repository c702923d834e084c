import { describe, expect, it } from 'vitest';
import type { StatefulChangeAllowance } from '../../../lib/config/stage-config.ts';
import {
  applyStatefulGuard,
  type ChangeSetReview,
  isDestructive,
  reviewChangeSet,
} from '../../../tools/lib/change-set-review.ts';
import {
  ACCESS_LOGS_BUCKET,
  alarmOnlyChangeSet,
  DEAD_LETTER_QUEUE,
  EVENT_SOURCE,
  FUNCTION,
  INGEST_QUEUE,
  noChangesChangeSet,
  OBJECTS_KEY,
  paginatedChangeSet,
  REPORTS_DATABASE,
  securityGroupChangeSet,
  TABLE,
  tableKeySchemaChangeSet,
} from '../change-set-fixtures.ts';

const allow = (logicalId: string): StatefulChangeAllowance => ({
  logicalId,
  reason: 'KeySchema moves to pk; tools/backfill.ts refills the new table from the bucket',
});
const byId = (review: ChangeSetReview, id: string) => {
  const change = review.changes.find((c) => c.logicalId === id);
  if (!change) throw new Error(`${id} is not in the review`);
  return change;
};

describe('reviewChangeSet classifies what CloudFormation says it will do', () => {
  it('a table whose KeySchema changes is replaced, stateful, and KeySchema is the cause', () => {
    const review = reviewChangeSet([tableKeySchemaChangeSet()]);
    const table = byId(review, TABLE);
    expect(table).toMatchObject({
      kind: 'replaced',
      stateful: true,
      policyAction: 'ReplaceAndRetain',
      resourceType: 'AWS::DynamoDB::Table',
    });
    expect(table.replacementCauses.map((d) => d.Target?.Name)).toEqual(['KeySchema']);
    expect(table.details.map((d) => d.Target?.Name)).toEqual(['KeySchema', 'AttributeDefinitions']);
    expect(isDestructive(table)).toBe(true);
    // What follows the table is modified in place, and its IAM policy is an access change.
    expect(byId(review, FUNCTION)).toMatchObject({ kind: 'modified', stateful: false, accessChange: false });
    const policy = byId(review, 'ProcessorFunctionPolicyC8B6DC94');
    expect(policy).toMatchObject({ kind: 'modified', accessChange: true });
    expect(policy.details).toHaveLength(1); // CloudFormation's duplicate detail is dropped
  });

  it('reads every page, and tells True, Conditional (Dynamic or Conditionally), Remove and Add apart', () => {
    const review = reviewChangeSet(paginatedChangeSet());
    expect(review.pages).toBe(2);
    expect(review.changes).toHaveLength(9);
    expect(byId(review, INGEST_QUEUE)).toMatchObject({ kind: 'replaced', stateful: true });
    // Always + Dynamic evaluation (the queue's ARN is known after deploy) is a conditional replacement.
    expect(byId(review, EVENT_SOURCE)).toMatchObject({ kind: 'may-be-replaced', stateful: false });
    const database = byId(review, REPORTS_DATABASE);
    expect(database).toMatchObject({ kind: 'may-be-replaced', stateful: true });
    expect(database.replacementCauses[0]?.Target?.RequiresRecreation).toBe('Conditionally');
    expect(byId(review, ACCESS_LOGS_BUCKET)).toMatchObject({
      kind: 'removed',
      stateful: true,
      policyAction: 'Retain',
    });
    expect(byId(review, 'ProcessorFunctionInvokeFromScheduler2F4E6A8C')).toMatchObject({
      kind: 'added',
      accessChange: true,
    });
    // Removals first, then replacements, so the page and the summary lead with what loses data.
    expect(review.changes.map((c) => c.kind).slice(0, 4)).toEqual([
      'removed',
      'replaced',
      'may-be-replaced',
      'may-be-replaced',
    ]);
  });

  it('calls out IAM, resource-policy and key-policy changes, and nothing else', () => {
    const review = reviewChangeSet(paginatedChangeSet());
    expect(
      review.changes
        .filter((c) => c.accessChange)
        .map((c) => c.logicalId)
        .sort(),
    ).toEqual([
      'IntegTestRolePolicy5E4EBD02',
      'ProcessorFunctionInvokeFromScheduler2F4E6A8C',
      'ProcessorIngestQueuePolicyA5C58D43',
    ]);
    expect(review.changes.filter((c) => c.keyPolicyChange).map((c) => c.logicalId)).toEqual([OBJECTS_KEY]);
    // A key modified elsewhere than its policy is not a key-policy change.
    const [page1, page2] = paginatedChangeSet();
    const key = page2.Changes?.find(
      (c) => c.ResourceChange?.LogicalResourceId === OBJECTS_KEY,
    )?.ResourceChange;
    const detail = key?.Details?.[0];
    if (!detail?.Target) throw new Error('fixture changed');
    detail.Target.Name = 'EnableKeyRotation';
    expect(byId(reviewChangeSet([page1, page2]), OBJECTS_KEY).keyPolicyChange).toBe(false);
  });

  it('a property that grants access on another resource is an access change (a table resource policy)', () => {
    const page = tableKeySchemaChangeSet();
    const detail = page.Changes?.[0]?.ResourceChange?.Details?.[1];
    if (!detail?.Target) throw new Error('fixture changed');
    detail.Target.Name = 'ResourcePolicy';
    expect(byId(reviewChangeSet([page]), TABLE).accessChange).toBe(true);
    expect(byId(reviewChangeSet([tableKeySchemaChangeSet()]), TABLE).accessChange).toBe(false);
  });

  it('a security-group rule is a security-group change, as a rule resource or as a group property; a tag is not', () => {
    const review = reviewChangeSet([securityGroupChangeSet()]);
    expect(
      Object.fromEntries(review.changes.map((c) => [c.logicalId, [c.securityGroupChange, c.accessChange]])),
    ).toEqual({
      ProcessorFunctionSecurityGroupA1B2C3D4: [true, false],
      EndpointsSecurityGroupfromProcessor443E5F6A7B8: [true, false],
      EndpointsSecurityGroupC9D0E1F2: [false, false],
    });
    // None of the other fixtures touches a security group.
    const others = [tableKeySchemaChangeSet(), ...paginatedChangeSet(), alarmOnlyChangeSet()];
    expect(reviewChangeSet(others).changes.filter((c) => c.securityGroupChange)).toEqual([]);
  });

  it('an empty change set (FAILED "didn\'t contain changes") is no changes, not an error', () => {
    const review = reviewChangeSet([noChangesChangeSet()]);
    expect(review).toMatchObject({ noChanges: true, status: 'FAILED', changes: [] });
    expect(reviewChangeSet([alarmOnlyChangeSet()]).noChanges).toBe(false);
  });
});

describe('the stateful-replacement guard', () => {
  it('fails a change set that replaces the table without an allowance, and passes it with one', () => {
    const review = reviewChangeSet([tableKeySchemaChangeSet()]);
    const without = applyStatefulGuard(review, []);
    expect(without.passed).toBe(false);
    expect(without.blocked.map((c) => c.logicalId)).toEqual([TABLE]);

    const withAllowance = applyStatefulGuard(review, [allow(TABLE)]);
    expect(withAllowance.passed).toBe(true);
    expect(withAllowance.blocked).toEqual([]);
    expect(withAllowance.allowed.map((a) => a.change.logicalId)).toEqual([TABLE]);
    expect(withAllowance.stale).toEqual([]);
  });

  it('stops a replaced queue, a removed (even retained) bucket and a possibly replaced database, each by ID', () => {
    const review = reviewChangeSet(paginatedChangeSet());
    expect(applyStatefulGuard(review, []).blocked.map((c) => c.logicalId)).toEqual([
      ACCESS_LOGS_BUCKET,
      INGEST_QUEUE,
      REPORTS_DATABASE,
    ]);
    // An allowance covers its own resource only; the event source mapping may be replaced but holds no data.
    const partial = applyStatefulGuard(review, [allow(INGEST_QUEUE), allow(ACCESS_LOGS_BUCKET)]);
    expect(partial.passed).toBe(false);
    expect(partial.blocked.map((c) => c.logicalId)).toEqual([REPORTS_DATABASE]);
    const all = applyStatefulGuard(review, [
      allow(INGEST_QUEUE),
      allow(ACCESS_LOGS_BUCKET),
      allow(REPORTS_DATABASE),
    ]);
    expect(all.passed).toBe(true);
  });

  it('stops a stateful resource whose action CloudFormation cannot determine before executing (Dynamic)', () => {
    const page = alarmOnlyChangeSet();
    page.Changes?.push({
      Type: 'Resource',
      ResourceChange: {
        Action: 'Dynamic',
        LogicalResourceId: DEAD_LETTER_QUEUE,
        ResourceType: 'AWS::SQS::Queue',
      },
    });
    const guard = applyStatefulGuard(reviewChangeSet([page]), []);
    expect(guard.blocked.map((c) => [c.logicalId, c.kind])).toEqual([[DEAD_LETTER_QUEUE, 'undetermined']]);
  });

  it('passes a change set that only modifies (the key policy, an alarm) and reports unused allowances as stale', () => {
    const review = reviewChangeSet([alarmOnlyChangeSet()]);
    expect(applyStatefulGuard(review, []).passed).toBe(true);
    const stale = applyStatefulGuard(reviewChangeSet(paginatedChangeSet()), [
      allow(INGEST_QUEUE),
      allow(ACCESS_LOGS_BUCKET),
      allow(REPORTS_DATABASE),
      allow(TABLE),
      allow(OBJECTS_KEY),
      allow(EVENT_SOURCE),
    ]).stale;
    expect(stale.map((s) => [s.allowance.logicalId, s.why])).toEqual([
      [TABLE, 'matches no change in this change set'],
      [OBJECTS_KEY, 'is only modified here, not replaced or removed'],
      [
        EVENT_SOURCE,
        'AWS::Lambda::EventSourceMapping is not a stateful type; the guard never needs an allowance for it',
      ],
    ]);
    expect(applyStatefulGuard(reviewChangeSet([noChangesChangeSet()]), [allow(TABLE)]).stale[0]?.why).toBe(
      'the change set is empty',
    );
  });
});
