import type { DescribeChangeSetOutput } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import type { StatefulChangeAllowance } from '../../../lib/config/stage-config.ts';
import { renderMarkdown, renderSummary, staleWarning } from '../../../tools/lib/change-set-render.ts';
import { applyStatefulGuard, reviewChangeSet } from '../../../tools/lib/change-set-review.ts';
import {
  ACCESS_LOGS_BUCKET,
  alarmOnlyChangeSet,
  DEAD_LETTER_QUEUE,
  INGEST_QUEUE,
  noChangesChangeSet,
  OBJECTS_KEY,
  paginatedChangeSet,
  REPORTS_DATABASE,
  securityGroupChangeSet,
  TABLE,
  tableKeySchemaChangeSet,
} from '../change-set-fixtures.ts';

const REASON = 'KeySchema moves to pk; tools/backfill.ts refills the new table from the bucket';

function render(
  pages: readonly DescribeChangeSetOutput[],
  allowances: readonly StatefulChangeAllowance[] = [],
  reviewEnabled = true,
) {
  const review = reviewChangeSet(pages);
  const guard = applyStatefulGuard(review, allowances);
  const input = { stage: 'prod', region: 'eu-west-1', review, guard, allowances, reviewEnabled };
  return { summary: renderSummary(input), markdown: renderMarkdown(input), guard };
}

/** The text of one `## ` section of the page. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

describe('the one-line summary (approval comment)', () => {
  it('counts each kind of change, IAM and key-policy changes, and names a blocked stateful replacement', () => {
    expect(render([tableKeySchemaChangeSet()]).summary).toBe(
      'prod: 0 added, 2 modified, 1 replaced, 0 removed; 1 IAM change; BLOCKED: stateful ProcessorObjectsTableD8F1E774 (replaced) not allowed',
    );
    expect(render(paginatedChangeSet()).summary).toBe(
      'prod: 1 added, 4 modified, 1 replaced, 2 may be replaced, 1 removed; 3 IAM changes, 1 key-policy change; ' +
        'BLOCKED: stateful ProcessorAccessLogsBucket5A05A37B (removed), ProcessorIngestQueue3759D326 (replaced), ReportsDatabase9A1B2C3D (may be replaced) not allowed',
    );
  });

  it('counts security-group changes (VPC mode), and says nothing of them when there are none', () => {
    const { summary, markdown } = render([securityGroupChangeSet()]);
    expect(summary).toBe(
      'prod: 1 added, 2 modified, 0 replaced, 0 removed; 0 IAM changes, 2 security-group changes; no stateful resource touched',
    );
    const groups = section(markdown, 'Security-group changes');
    expect(groups).toContain('ProcessorFunctionSecurityGroupA1B2C3D4');
    expect(groups).toContain('EndpointsSecurityGroupfromProcessor443E5F6A7B8');
    expect(groups).not.toContain('EndpointsSecurityGroupC9D0E1F2');
    expect(render([tableKeySchemaChangeSet()]).summary).not.toContain('security-group');
  });

  it('says when the replacement is allowed by config, and counts stale allowances', () => {
    expect(render([tableKeySchemaChangeSet()], [{ logicalId: TABLE, reason: REASON }]).summary).toBe(
      'prod: 0 added, 2 modified, 1 replaced, 0 removed; 1 IAM change; allowed by config: ProcessorObjectsTableD8F1E774 (replaced)',
    );
    expect(render([alarmOnlyChangeSet()], [{ logicalId: TABLE, reason: REASON }]).summary).toBe(
      'prod: 0 added, 1 modified, 0 replaced, 0 removed; 0 IAM changes; no stateful resource touched; 1 stale allowance',
    );
  });

  it('tells a stateful resource merely modified apart from one replaced', () => {
    const [, page2] = paginatedChangeSet();
    const keyOnly = {
      ...page2,
      Changes: page2.Changes?.filter((c) => c.ResourceChange?.LogicalResourceId === OBJECTS_KEY),
    };
    expect(render([keyOnly]).summary).toBe(
      'prod: 0 added, 1 modified, 0 replaced, 0 removed; 0 IAM changes, 1 key-policy change; 1 stateful resource modified, none replaced or removed',
    );
  });

  it('stays one short line however many resources are blocked', () => {
    const { summary } = render([...paginatedChangeSet(), tableKeySchemaChangeSet()]);
    expect(summary).toContain(
      'BLOCKED: stateful ProcessorAccessLogsBucket5A05A37B (removed), ProcessorIngestQueue3759D326 (replaced), ProcessorObjectsTableD8F1E774 (replaced) +1 more not allowed',
    );
    expect(summary).not.toContain('\n');
  });

  it('says "no changes" for the empty change set', () => {
    expect(render([noChangesChangeSet()]).summary).toBe(
      'prod: no changes (the change set is empty; nothing to deploy)',
    );
  });
});

describe('the review page (change-set.md)', () => {
  it('opens with the verdict: blocked, which resources, why, and where the override is documented', () => {
    const { markdown } = render([tableKeySchemaChangeSet()]);
    expect(markdown.startsWith('# Change set review: prod\n')).toBe(true);
    expect(markdown).toContain(
      '| stack | `s3-object-processor-prod-processor` in eu-west-1, account 444444444444 |',
    );
    const verdict = section(markdown, 'Verdict');
    expect(verdict).toContain('**Blocked.**');
    expect(verdict).toContain(
      '- `ProcessorObjectsTableD8F1E774` (AWS::DynamoDB::Table): replaced because of `KeySchema`',
    );
    expect(verdict).toContain('docs/change-review.md#override-the-stateful-replacement-guard');
  });

  it('shows the property that forces the replacement with its path, values, evaluation and source', () => {
    const replaced = section(render([tableKeySchemaChangeSet()]).markdown, 'Replaced');
    expect(replaced).toContain(
      '### `ProcessorObjectsTableD8F1E774` (AWS::DynamoDB::Table): replaced, **stateful**',
    );
    expect(replaced).toContain(
      'the old resource: retained, no longer managed by the stack (orphaned); the new one starts empty',
    );
    expect(replaced).toContain(
      '- forces replacement:\n  - `KeySchema` at `/Properties/KeySchema/0/AttributeName`: modify, requires recreation: Always (Static, DirectModification): `objectKey` → `pk`',
    );
    expect(replaced).toContain('- also changes:\n  - `AttributeDefinitions`');
  });

  it('explains "may be replaced" both ways: a value known at deploy (CausingEntity) and Conditionally', () => {
    const replaced = section(render(paginatedChangeSet()).markdown, 'Replaced');
    expect(replaced).toContain('(AWS::Lambda::EventSourceMapping): may be replaced');
    expect(replaced).toContain(
      'takes a value CloudFormation only knows at deploy time (from `ProcessorIngestQueue3759D326.Arn`)',
    );
    expect(replaced).toContain('caused by `ProcessorIngestQueue3759D326.Arn`');
    expect(replaced).toContain('→ (known after deploy)');
    expect(replaced).toContain(
      `### \`${REPORTS_DATABASE}\` (AWS::RDS::DBInstance): may be replaced, **stateful**`,
    );
    expect(replaced).toContain(
      'requires recreation: Conditionally (Static, DirectModification): `gp2` → `gp3`',
    );
    expect(replaced).toContain('replaces the resource only in some cases');
    expect(replaced).toContain('if replaced, the old resource: snapshotted, then deleted');
  });

  it('flags stateful resources touched, removed ones with what happens to them', () => {
    const { markdown } = render(paginatedChangeSet(), [{ logicalId: INGEST_QUEUE, reason: REASON }]);
    const stateful = section(markdown, 'Stateful resources touched');
    expect(stateful).toContain(
      `| \`${ACCESS_LOGS_BUCKET}\` | AWS::S3::Bucket | removed | retained, no longer managed by the stack (orphaned) | **BLOCKED** |`,
    );
    expect(stateful).toContain(`| \`${INGEST_QUEUE}\` | AWS::SQS::Queue | replaced |`);
    expect(stateful).toMatch(new RegExp(`\\| \`${INGEST_QUEUE}\` .*\\| allowed \\|`));
    expect(stateful).toContain(`| \`${OBJECTS_KEY}\` | AWS::KMS::Key | modified | - | - |`);
    expect(section(markdown, 'Removed')).toContain(
      `| \`${ACCESS_LOGS_BUCKET}\` **stateful** | AWS::S3::Bucket | \`s3-object-processor-prod-processoraccesslogsbucket5-qwertyuiop12\` | retained`,
    );
  });

  it("repeats IAM and key-policy changes in full: the statement added, a new permission's properties", () => {
    const { markdown } = render(paginatedChangeSet());
    const iam = section(markdown, 'IAM and resource-policy changes');
    expect(iam).toContain('### `IntegTestRolePolicy5E4EBD02` (AWS::IAM::ManagedPolicy): modified');
    expect(iam).toContain('`PolicyDocument` at `/Properties/PolicyDocument/Statement/0/Action/2`: add');
    expect(iam).toContain('`s3:DeleteObjectVersion`');
    expect(iam).toContain(
      '### `ProcessorFunctionInvokeFromScheduler2F4E6A8C` (AWS::Lambda::Permission): added',
    );
    expect(iam).toContain('"Principal": "scheduler.amazonaws.com"');
    expect(iam).toContain('### `ProcessorIngestQueuePolicyA5C58D43` (AWS::SQS::QueuePolicy): modified');
    const keys = section(markdown, 'Key-policy changes');
    expect(keys).toContain(`### \`${OBJECTS_KEY}\` (AWS::KMS::Key): modified`);
    // The whole statement, pretty-printed, not the compact 80 characters of the "Modified" section.
    expect(keys).toContain('```json\n    {\n      "Sid": "AllowReportingAccountDecrypt",');
    expect(keys).toContain('"AWS": "arn:aws:iam::555555555555:root"');
    expect(section(markdown, 'Modified')).toContain('… (166 characters)');
  });

  it('lists the allowances of the stage with their reasons, used or stale', () => {
    const { markdown, guard } = render(
      [tableKeySchemaChangeSet()],
      [
        { logicalId: TABLE, reason: REASON },
        {
          logicalId: DEAD_LETTER_QUEUE,
          reason: 'the DLQ moves to FIFO with the ingest queue, drained first',
        },
      ],
    );
    expect(markdown).toContain(`- \`${TABLE}\`: ${REASON} (used)`);
    expect(markdown).toContain(
      `- \`${DEAD_LETTER_QUEUE}\`: the DLQ moves to FIFO with the ingest queue, drained first (**stale**: matches no change in this change set; remove it)`,
    );
    expect(section(markdown, 'Verdict')).toContain('**Passed with allowances.**');
    const [stale] = guard.stale;
    if (!stale) throw new Error('expected a stale allowance');
    expect(staleWarning('prod', stale)).toBe(
      `warning: stage prod allows replacing or removing ${DEAD_LETTER_QUEUE} ("the DLQ moves to FIFO with the ingest queue, drained first"), but it matches no change in this change set: remove it from changeReview.allowStatefulChanges in lib/config/app-config.ts`,
    );
  });

  it("renders the empty change set as passed, with CloudFormation's reason", () => {
    const { markdown } = render([noChangesChangeSet()]);
    expect(section(markdown, 'Verdict')).toContain('**Passed.** The change set is empty.');
    expect(markdown).toContain("> The submitted information didn't contain changes.");
    expect(markdown).not.toContain('## Replaced');
  });

  it('notes when the stage does not review change sets in the pipeline', () => {
    expect(render([alarmOnlyChangeSet()], [], false).markdown).toContain(
      'changeReview.enabled is false for stage prod: the pipeline does not run this review there',
    );
    expect(render([alarmOnlyChangeSet()]).markdown).not.toContain('changeReview.enabled is false');
  });

  it('keeps values with backticks readable and cuts very long values, pointing at change-set.json', () => {
    const page = alarmOnlyChangeSet();
    const target = page.Changes?.[0]?.ResourceChange?.Details?.[0]?.Target;
    if (!target) throw new Error('fixture changed');
    target.BeforeValue = 'a `quoted` value';
    target.AfterValue = 'x'.repeat(5000);
    const { markdown } = render([page]);
    expect(section(markdown, 'Modified')).toContain('``a `quoted` value`` → `');
    const keyPage = paginatedChangeSet()[1];
    const keyTarget = keyPage.Changes?.find((c) => c.ResourceChange?.LogicalResourceId === OBJECTS_KEY)
      ?.ResourceChange?.Details?.[0]?.Target;
    if (!keyTarget) throw new Error('fixture changed');
    keyTarget.AfterValue = 'y'.repeat(5000);
    expect(section(render([keyPage]).markdown, 'Key-policy changes')).toContain(
      '… (1000 more characters in change-set.json)',
    );
  });
});
