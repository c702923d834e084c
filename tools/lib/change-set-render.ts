/**
 * The change-set review as a person reads it: a one-line summary for the approval comment, and a markdown page
 * (change-set.md) with the verdict first, then every resource by what happens to it, with the IAM and key-policy
 * changes repeated in full in their own sections.
 */
import type { ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import type { StatefulChangeAllowance } from '../../lib/config/stage-config.ts';
import {
  type ChangeKind,
  type ChangeSetReview,
  type GuardResult,
  isDestructive,
  KIND_LABELS,
  type ReviewedChange,
} from './change-set-review.ts';

/** Where the override is documented; the verdict and the error line point there. */
export const OVERRIDE_DOC = 'docs/change-review.md#override-the-stateful-replacement-guard';

/** What CloudFormation puts where a value depends on a resource that does not exist yet. */
const KNOWN_AFTER_APPLY = '{{changeSet:KNOWN_AFTER_APPLY}}';

/** Names listed in the summary line per group; the rest are counted, so the line stays short. */
const SUMMARY_NAMES = 3;

export interface RenderInput {
  readonly stage: string;
  readonly region: string;
  readonly review: ChangeSetReview;
  readonly guard: GuardResult;
  readonly allowances: readonly StatefulChangeAllowance[];
  /** The stage's `changeReview.enabled`: when false, the pipeline does not run this review for it. */
  readonly reviewEnabled: boolean;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function names(ids: readonly string[]): string {
  const shown = ids.slice(0, SUMMARY_NAMES).join(', ');
  return ids.length > SUMMARY_NAMES ? `${shown} +${ids.length - SUMMARY_NAMES} more` : shown;
}

function count(review: ChangeSetReview, kind: ChangeKind): number {
  return review.changes.filter((c) => c.kind === kind).length;
}

/** `Table (replaced)` for the summary's stateful lists. */
const named = (c: ReviewedChange) => `${c.logicalId} (${KIND_LABELS[c.kind]})`;

/**
 * One line for the approval comment and the build's exported variable, e.g.
 * `prod: 0 added, 2 modified, 0 replaced, 0 removed; 1 IAM change; no stateful resource touched`.
 */
export function renderSummary({
  stage,
  review,
  guard,
}: Pick<RenderInput, 'stage' | 'review' | 'guard'>): string {
  const stale = guard.stale.length > 0 ? `; ${plural(guard.stale.length, 'stale allowance')}` : '';
  if (review.noChanges) return `${stage}: no changes (the change set is empty; nothing to deploy)${stale}`;
  const counts = [
    `${count(review, 'added')} added`,
    `${count(review, 'modified')} modified`,
    `${count(review, 'replaced')} replaced`,
    ...(count(review, 'may-be-replaced') > 0 ? [`${count(review, 'may-be-replaced')} may be replaced`] : []),
    `${count(review, 'removed')} removed`,
    ...(count(review, 'undetermined') > 0 ? [`${count(review, 'undetermined')} undetermined`] : []),
  ].join(', ');
  const access = review.changes.filter((c) => c.accessChange).length;
  const keys = review.changes.filter((c) => c.keyPolicyChange).length;
  const groups = review.changes.filter((c) => c.securityGroupChange).length;
  const security = [
    plural(access, 'IAM change'),
    ...(keys > 0 ? [plural(keys, 'key-policy change')] : []),
    ...(groups > 0 ? [plural(groups, 'security-group change')] : []),
  ];
  const touched = review.changes.filter((c) => c.stateful);
  let stateful: string;
  if (touched.length === 0) stateful = 'no stateful resource touched';
  else if (!touched.some(isDestructive)) {
    stateful = `${plural(touched.length, 'stateful resource')} modified, none replaced or removed`;
  } else {
    const parts: string[] = [];
    if (guard.blocked.length > 0)
      parts.push(`BLOCKED: stateful ${names(guard.blocked.map(named))} not allowed`);
    if (guard.allowed.length > 0)
      parts.push(`allowed by config: ${names(guard.allowed.map((a) => named(a.change)))}`);
    stateful = parts.join('; ');
  }
  return `${stage}: ${counts}; ${security.join(', ')}; ${stateful}${stale}`;
}

/** The warning line for one stale allowance (stderr and the page). */
export function staleWarning(stage: string, stale: GuardResult['stale'][number]): string {
  return `warning: stage ${stage} allows replacing or removing ${stale.allowance.logicalId} ("${stale.allowance.reason}"), but it ${stale.why}: remove it from changeReview.allowStatefulChanges in lib/config/app-config.ts`;
}

/** The full review page. */
export function renderMarkdown(input: RenderInput): string {
  const { stage, region, review, guard } = input;
  const out: string[] = [];
  out.push(`# Change set review: ${stage}`, '', `**${renderSummary(input)}**`, '');
  out.push('| | |', '| --- | --- |');
  const account = review.stackId?.split(':')[4];
  out.push(`| stack | ${codeCell(review.stackName)} in ${region}${account ? `, account ${account}` : ''} |`);
  out.push(
    `| change set | ${codeCell(review.changeSetName)}, ${cell(review.status ?? '?')} / ${cell(review.executionStatus ?? '?')}${
      review.creationTime ? `, created ${review.creationTime.toISOString()}` : ''
    } |`,
  );
  if (review.changeSetId) out.push(`| change set ID | ${codeCell(review.changeSetId)} |`);
  out.push(`| read | ${plural(review.pages, 'page')} of DescribeChangeSet, with property values |`, '');
  if (!input.reviewEnabled) {
    out.push(
      `> changeReview.enabled is false for stage ${stage}: the pipeline does not run this review there; this page was asked for by hand.`,
      '',
    );
  }

  out.push('## Verdict', '', ...verdict(input), '');
  out.push(...allowanceSection(input), '');
  if (review.noChanges) {
    out.push('CloudFormation found nothing to change: the stage is already what this commit describes.', '');
    if (review.statusReason) out.push(`> ${cell(review.statusReason)}`, '');
    return `${out.join('\n').trimEnd()}\n`;
  }

  out.push(
    '## Counts',
    '',
    '| added | modified | replaced | may be replaced | removed | action known only at deploy |',
  );
  out.push('| --- | --- | --- | --- | --- | --- |');
  out.push(
    `| ${(['added', 'modified', 'replaced', 'may-be-replaced', 'removed', 'undetermined'] as const)
      .map((k) => count(review, k))
      .join(' | ')} |`,
    '',
  );

  const stateful = review.changes.filter((c) => c.stateful);
  out.push('## Stateful resources touched', '');
  if (stateful.length === 0) out.push('None.', '');
  else {
    out.push('| resource | type | change | old resource | allowance |', '| --- | --- | --- | --- | --- |');
    const allowedIds = new Set(guard.allowed.map((a) => a.change.logicalId));
    for (const c of stateful) {
      const allowance = !isDestructive(c) ? '-' : allowedIds.has(c.logicalId) ? 'allowed' : '**BLOCKED**';
      out.push(
        `| ${codeCell(c.logicalId)} | ${c.resourceType} | ${changeLabel(c)} | ${cell(policyActionText(c))} | ${allowance} |`,
      );
    }
    out.push('');
  }

  const replaced = review.changes.filter((c) =>
    ['replaced', 'may-be-replaced', 'undetermined'].includes(c.kind),
  );
  out.push('## Replaced', '');
  if (replaced.length === 0) out.push('None.', '');
  for (const c of replaced) {
    out.push(
      `### ${code(c.logicalId)} (${c.resourceType}): ${changeLabel(c)}${c.stateful ? ', **stateful**' : ''}`,
      '',
    );
    if (c.physicalId) out.push(`- physical ID: ${code(c.physicalId)}`);
    out.push(
      `- ${c.kind === 'replaced' ? 'the old resource' : 'if replaced, the old resource'}: ${policyActionText(c)}`,
    );
    if (c.kind === 'may-be-replaced') out.push(...mayBeReplacedWhy(c));
    if (c.kind === 'undetermined') {
      out.push(
        '- CloudFormation cannot tell before executing whether it adds, changes, replaces or removes it',
      );
    }
    if (c.replacementCauses.length > 0) {
      out.push('- forces replacement:');
      for (const d of c.replacementCauses) out.push(...detailLines(d, 'compact', '  '));
    }
    const others = c.details.filter((d) => !c.replacementCauses.includes(d));
    if (others.length > 0) {
      out.push('- also changes:');
      for (const d of others) out.push(...detailLines(d, 'compact', '  '));
    }
    out.push('');
  }

  out.push('## Removed', '');
  const removed = review.changes.filter((c) => c.kind === 'removed');
  if (removed.length === 0) out.push('None.', '');
  else {
    out.push('| resource | type | physical ID | the resource |', '| --- | --- | --- | --- |');
    for (const c of removed) {
      out.push(
        `| ${codeCell(c.logicalId)}${c.stateful ? ' **stateful**' : ''} | ${c.resourceType} | ${c.physicalId ? codeCell(c.physicalId) : '-'} | ${cell(policyActionText(c))} |`,
      );
    }
    out.push('');
  }

  out.push('## Modified', '');
  const modified = review.changes.filter((c) => c.kind === 'modified');
  if (modified.length === 0) out.push('None.', '');
  for (const c of modified) {
    out.push(
      `### ${code(c.logicalId)} (${c.resourceType})${c.action === 'Modify' ? '' : `: ${c.action}`}`,
      '',
    );
    if (c.details.length === 0) out.push('- (CloudFormation gave no details)');
    for (const d of c.details) out.push(...detailLines(d, 'compact', ''));
    out.push('');
  }

  out.push('## Added', '');
  const added = review.changes.filter((c) => c.kind === 'added');
  if (added.length === 0) out.push('None.', '');
  else {
    out.push('| resource | type |', '| --- | --- |');
    for (const c of added) {
      out.push(
        `| ${codeCell(c.logicalId)}${c.action === 'Import' ? ' (imported)' : ''} | ${c.resourceType} |`,
      );
    }
    out.push('');
  }

  out.push('## IAM and resource-policy changes', '');
  out.push(...securitySection(review.changes.filter((c) => c.accessChange)));
  out.push('## Key-policy changes', '');
  out.push(...securitySection(review.changes.filter((c) => c.keyPolicyChange)));
  out.push('## Security-group changes', '');
  out.push(...securitySection(review.changes.filter((c) => c.securityGroupChange)));

  const nested = review.changes.filter((c) => c.nestedChangeSetId);
  out.push('## Not reviewed here', '');
  if (nested.length > 0) {
    for (const c of nested) {
      out.push(
        `- nested stack ${code(c.logicalId)}: its own change set ${code(c.nestedChangeSetId ?? '')} is not read`,
      );
    }
  }
  out.push(
    '- values shown as "(known after deploy)" depend on resources this change set creates or replaces; CloudFormation may also truncate large values (change-set.json has exactly what it returned)',
    '- what a deploy does beyond the template: custom resources, the canary traffic shift, data migrations',
  );
  return `${out.join('\n').trimEnd()}\n`;
}

function verdict({ stage, review, guard }: RenderInput): string[] {
  if (review.noChanges) return ['**Passed.** The change set is empty.'];
  if (!guard.passed) {
    return [
      `**Blocked.** This change set would replace or remove stateful resources that stage ${stage} does not allow; their data would be lost or orphaned:`,
      '',
      ...guard.blocked.map(
        (c) => `- ${code(c.logicalId)} (${c.resourceType}): ${changeLabel(c)}${causes(c)}`,
      ),
      '',
      `If this is an intended migration, allow it in code and have it reviewed: ${OVERRIDE_DOC}. Otherwise change the code so that the logical ID and the replacement-forcing properties stay as they are.`,
    ];
  }
  if (guard.allowed.length > 0) {
    return [
      '**Passed with allowances.** Stateful resources are replaced or removed, as the configuration allows:',
      '',
      ...guard.allowed.map(
        (a) =>
          `- ${code(a.change.logicalId)} (${a.change.resourceType}): ${changeLabel(a.change)}${causes(a.change)}`,
      ),
    ];
  }
  return ['**Passed.** No stateful resource is replaced or removed.'];
}

function allowanceSection({ stage, guard, allowances }: RenderInput): string[] {
  const lines = [`### Stateful-change allowances of stage ${stage} (lib/config/app-config.ts)`, ''];
  if (allowances.length === 0) return [...lines, 'None.'];
  const used = new Set(guard.allowed.map((a) => a.allowance.logicalId));
  for (const a of allowances) {
    const stale = guard.stale.find((s) => s.allowance.logicalId === a.logicalId);
    const state = used.has(a.logicalId) ? 'used' : `**stale**: ${stale?.why ?? 'unused'}; remove it`;
    lines.push(`- ${code(a.logicalId)}: ${cell(a.reason)} (${state})`);
  }
  return lines;
}

function securitySection(changes: readonly ReviewedChange[]): string[] {
  if (changes.length === 0) return ['None.', ''];
  const out: string[] = [];
  for (const c of changes) {
    out.push(`### ${code(c.logicalId)} (${c.resourceType}): ${changeLabel(c)}`, '');
    if (c.details.length > 0) {
      for (const d of c.details) out.push(...detailLines(d, 'full', ''));
    } else {
      const context = c.kind === 'removed' ? c.beforeContext : c.afterContext;
      out.push(
        context === undefined
          ? '- (no property values: CloudFormation returned none for this resource)'
          : `- properties ${c.kind === 'removed' ? 'before' : 'after'}:`,
      );
      if (context !== undefined) out.push(...fenced(context, '  '));
    }
    out.push('');
  }
  return out;
}

/** Why CloudFormation says Conditional: a value it learns at deploy time, or a property that replaces only sometimes. */
function mayBeReplacedWhy(c: ReviewedChange): string[] {
  const lines: string[] = [];
  const dynamic = c.replacementCauses.filter((d) => d.Evaluation === 'Dynamic');
  if (dynamic.length > 0) {
    const from = [...new Set(dynamic.map((d) => d.CausingEntity).filter((e) => e !== undefined))];
    lines.push(
      `- **may be replaced**: a property that requires recreation takes a value CloudFormation only knows at deploy time${
        from.length > 0 ? ` (from ${from.map(code).join(', ')})` : ''
      }; if that value changes, the resource is replaced`,
    );
  }
  if (c.replacementCauses.some((d) => d.Target?.RequiresRecreation === 'Conditionally')) {
    lines.push(
      '- **may be replaced**: a property changes whose update replaces the resource only in some cases; its update behaviour in the CloudFormation resource reference says which',
    );
  }
  return lines.length > 0 ? lines : ['- **may be replaced**: CloudFormation gave no detail saying why'];
}

function changeLabel(c: ReviewedChange): string {
  const label = KIND_LABELS[c.kind];
  return c.kind === 'modified' && c.action !== 'Modify' ? `${label} (${c.action})` : label;
}

function causes(c: ReviewedChange): string {
  const props = [...new Set(c.replacementCauses.map(targetName))];
  return props.length > 0 ? ` because of ${props.map(code).join(', ')}` : '';
}

/** What CloudFormation does with the old physical resource (PolicyAction), in words. */
function policyActionText(c: ReviewedChange): string {
  switch (c.policyAction) {
    case 'Delete':
    case 'ReplaceAndDelete':
      return 'deleted';
    case 'Retain':
      return 'retained, no longer managed by the stack (orphaned)';
    case 'ReplaceAndRetain':
      return 'retained, no longer managed by the stack (orphaned); the new one starts empty';
    case 'Snapshot':
    case 'ReplaceAndSnapshot':
      return 'snapshotted, then deleted';
    default:
      return c.kind === 'modified' || c.kind === 'added'
        ? '-'
        : 'deleted (the default; CloudFormation stated no policy action)';
  }
}

function targetName(d: ResourceChangeDetail): string {
  const t = d.Target;
  if (!t) return '?';
  return t.Attribute === 'Properties' || t.Attribute === undefined ? (t.Name ?? '?') : t.Attribute;
}

/** One detail as a list item: the property, how it changes, why, and its values when CloudFormation gave them. */
function detailLines(d: ResourceChangeDetail, mode: 'compact' | 'full', indent: string): string[] {
  const t = d.Target ?? {};
  const name = targetName(d);
  const path = t.Path && t.Path !== `/Properties/${name}` ? ` at ${code(t.Path)}` : '';
  const change = t.AttributeChangeType ? t.AttributeChangeType.toLowerCase() : 'changes';
  const recreation =
    t.RequiresRecreation && t.RequiresRecreation !== 'Never'
      ? `, requires recreation: ${t.RequiresRecreation}`
      : '';
  const how = [
    d.Evaluation,
    d.ChangeSource,
    d.CausingEntity === undefined ? undefined : `caused by ${code(d.CausingEntity)}`,
  ].filter((p) => p !== undefined);
  const head = `${indent}- ${code(name)}${path}: ${change}${recreation}${how.length > 0 ? ` (${how.join(', ')})` : ''}`;
  const { BeforeValue: before, AfterValue: after } = t;
  if (before === undefined && after === undefined) return [head];
  const limit = mode === 'compact' ? 80 : 4000;
  const short = (v: string | undefined) => v === undefined || (v.length <= 80 && !v.includes('\n'));
  if (mode === 'compact' || (short(before) && short(after))) {
    return [`${head}: ${inlineValue(before, limit)} → ${inlineValue(after, limit)}`];
  }
  return [
    head,
    ...(before === undefined ? [] : [`${indent}  - before:`, ...fenced(before, `${indent}    `)]),
    ...(after === undefined ? [] : [`${indent}  - after:`, ...fenced(after, `${indent}    `)]),
  ];
}

function inlineValue(value: string | undefined, limit: number): string {
  if (value === undefined) return '(none)';
  if (value === KNOWN_AFTER_APPLY) return '(known after deploy)';
  const flat = value.replace(/\s+/g, ' ');
  return flat.length > limit ? `${code(flat.slice(0, limit))}… (${flat.length} characters)` : code(flat);
}

/** A long value as a code block, pretty-printed when it is JSON, cut at 4000 characters. */
function fenced(value: string, indent: string): string[] {
  let text = value === KNOWN_AFTER_APPLY ? '(known after deploy)' : value;
  let language = '';
  try {
    text = JSON.stringify(JSON.parse(value), null, 2);
    language = 'json';
  } catch {
    // Not JSON: shown as CloudFormation returned it.
  }
  if (text.length > 4000)
    text = `${text.slice(0, 4000)}\n… (${text.length - 4000} more characters in change-set.json)`;
  const fence = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  return [
    `${indent}${fence}${language}`,
    ...text.split('\n').map((l) => `${indent}${l}`),
    `${indent}${fence}`,
  ];
}

/** Inline code that survives backticks in the value. */
function code(text: string): string {
  const fence = '`'.repeat(longestRun(text, '`') + 1);
  const padded = text.startsWith('`') || text.endsWith('`') ? ` ${text} ` : text;
  return `${fence}${padded}${fence}`;
}

/** Inline code inside a table cell, where a pipe would end the cell. */
function codeCell(text: string): string {
  return cell(code(text));
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
