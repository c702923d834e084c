/**
 * What a CloudFormation change set would do, classified for a person deciding whether to approve it, and the
 * stateful-replacement guard. Pure functions over DescribeChangeSet responses (every page), so the same code
 * reviews a live change set and a recorded one (change-set.json); rendering is in change-set-render.ts.
 *
 * Hand-written on purpose: the CDK's own diff (@aws-cdk/cloudformation-diff) compares templates and only borrows
 * replacement hints from a change set, and is not a dependency of this project; what the approver must see is what
 * CloudFormation itself says it will do, field by field, which is a small mapping over the API's own shapes.
 */
import type {
  DescribeChangeSetOutput,
  ResourceChange,
  ResourceChangeDetail,
} from '@aws-sdk/client-cloudformation';
import type { StatefulChangeAllowance } from '../../lib/config/stage-config.ts';

/** How a resource is affected, from ResourceChange.Action and, for Modify, ResourceChange.Replacement. */
export type ChangeKind =
  | 'added'
  | 'modified'
  /** Replacement True: a new physical resource, the old one deleted (or retained, per its policy). */
  | 'replaced'
  /** Replacement Conditional: replaced if a value known only at deploy time changes. */
  | 'may-be-replaced'
  | 'removed'
  /** Action Dynamic: CloudFormation cannot tell the action before it executes. */
  | 'undetermined';

export const KIND_LABELS: Record<ChangeKind, string> = {
  added: 'added',
  modified: 'modified',
  replaced: 'replaced',
  'may-be-replaced': 'may be replaced',
  removed: 'removed',
  undetermined: 'action known only at deploy',
};

/**
 * Resource types that hold data (or, for keys, the only way to read it) which a replacement or removal loses or
 * orphans: the table's items, the buckets' objects, the queues' messages, the keys that encrypt them, the log
 * groups' history, the backup vaults' recovery points.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::S3::Bucket',
  'AWS::SQS::Queue',
  'AWS::KMS::Key',
  'AWS::Logs::LogGroup',
  'AWS::Backup::BackupVault',
  // Not in this stack today; the ones a team that extends it is most likely to add.
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::EFS::FileSystem',
  'AWS::Kinesis::Stream',
]);

/** Resources that are nothing but a grant of access: every change to them is an IAM change. */
const POLICY_TYPES: ReadonlySet<string> = new Set([
  'AWS::Lambda::Permission',
  'AWS::Lambda::LayerVersionPermission',
  'AWS::S3::BucketPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SQS::QueueInlinePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SNS::TopicInlinePolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::Events::EventBusPolicy',
  'AWS::SecretsManager::ResourcePolicy',
]);

/** Properties of other resources that grant access (resource policies, an execution role). */
const ACCESS_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::Backup::BackupVault': ['AccessPolicy'],
  'AWS::DynamoDB::Table': ['ResourcePolicy'],
  'AWS::Lambda::Function': ['Role'],
  'AWS::S3::AccessPoint': ['Policy'],
  'AWS::ECR::Repository': ['RepositoryPolicyText'],
  'AWS::EC2::VPCEndpoint': ['PolicyDocument'],
};

/**
 * Network access (VPC mode): a security group's rules, as standalone rule resources or as the group's own rule
 * properties. What CDK Pipelines' ConfirmPermissionsBroadening called out besides IAM, which this review replaced.
 */
const SECURITY_GROUP_RULE_TYPES: ReadonlySet<string> = new Set([
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
]);
const SECURITY_GROUP_TYPE = 'AWS::EC2::SecurityGroup';
const SECURITY_GROUP_RULES = ['SecurityGroupIngress', 'SecurityGroupEgress'];

const KEY_TYPE = 'AWS::KMS::Key';
const KEY_POLICY = 'KeyPolicy';

/** One resource of the change set, classified. */
export interface ReviewedChange {
  readonly logicalId: string;
  readonly resourceType: string;
  readonly physicalId?: string;
  /** ResourceChange.Action as CloudFormation gave it (Add, Modify, Remove, Import, Dynamic, SyncWithActual). */
  readonly action: string;
  readonly kind: ChangeKind;
  /** What happens to the old physical resource (Delete, Retain, Snapshot, ReplaceAndRetain...), when given. */
  readonly policyAction?: string;
  /** ResourceChange.Details without exact duplicates, in CloudFormation's order. */
  readonly details: readonly ResourceChangeDetail[];
  /** The details whose target requires recreation (Always or Conditionally): why it is (or may be) replaced. */
  readonly replacementCauses: readonly ResourceChangeDetail[];
  readonly stateful: boolean;
  /** An IAM resource, a resource policy, a permission, or a property that grants access. */
  readonly accessChange: boolean;
  /** A KMS key added, removed, replaced, or whose KeyPolicy changes. */
  readonly keyPolicyChange: boolean;
  /** A security-group rule added, removed or changed, or a security group added, removed or replaced. */
  readonly securityGroupChange: boolean;
  /** Resource properties before/after (IncludePropertyValues), as CloudFormation encoded them. */
  readonly beforeContext?: string;
  readonly afterContext?: string;
  /** For a nested stack, the change set CloudFormation made for it (not read by this review). */
  readonly nestedChangeSetId?: string;
}

export interface ChangeSetReview {
  readonly stackName: string;
  readonly changeSetName: string;
  readonly changeSetId?: string;
  /** The stack's ARN: names the account the change set is in. */
  readonly stackId?: string;
  readonly status?: string;
  readonly executionStatus?: string;
  readonly statusReason?: string;
  readonly creationTime?: Date;
  /** The change set is empty: CloudFormation failed it with "didn't contain changes"; nothing will be deployed. */
  readonly noChanges: boolean;
  readonly changes: readonly ReviewedChange[];
  /** Pages the change set came in (DescribeChangeSet NextToken). */
  readonly pages: number;
}

/** CloudFormation's two wordings for a change set that would change nothing. */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;

export function isNoChangesReason(reason: string | undefined): boolean {
  return reason !== undefined && NO_CHANGES.test(reason);
}

/** Classifies every resource change of a change set; `pages` are its DescribeChangeSet responses in order. */
export function reviewChangeSet(pages: readonly DescribeChangeSetOutput[]): ChangeSetReview {
  const first = pages[0];
  if (!first) throw new Error('reviewChangeSet needs at least one DescribeChangeSet page');
  const changes = pages
    .flatMap((page) => page.Changes ?? [])
    .map((change) => change.ResourceChange)
    .filter((rc): rc is ResourceChange => rc !== undefined)
    .map(classify);
  return {
    stackName: first.StackName ?? '?',
    changeSetName: first.ChangeSetName ?? '?',
    ...(first.ChangeSetId === undefined ? {} : { changeSetId: first.ChangeSetId }),
    ...(first.StackId === undefined ? {} : { stackId: first.StackId }),
    ...(first.Status === undefined ? {} : { status: first.Status }),
    ...(first.ExecutionStatus === undefined ? {} : { executionStatus: first.ExecutionStatus }),
    ...(first.StatusReason === undefined ? {} : { statusReason: first.StatusReason }),
    ...(first.CreationTime === undefined ? {} : { creationTime: first.CreationTime }),
    noChanges: first.Status === 'FAILED' && isNoChangesReason(first.StatusReason),
    changes: changes.sort(byKindThenId),
    pages: pages.length,
  };
}

const KIND_ORDER: readonly ChangeKind[] = [
  'removed',
  'replaced',
  'may-be-replaced',
  'undetermined',
  'modified',
  'added',
];

function byKindThenId(a: ReviewedChange, b: ReviewedChange): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.logicalId.localeCompare(b.logicalId);
}

function kindOf(rc: ResourceChange): ChangeKind {
  switch (rc.Action) {
    case 'Add':
    case 'Import':
      return 'added';
    case 'Remove':
      return 'removed';
    case 'Dynamic':
      return 'undetermined';
    case 'Modify':
      if (rc.Replacement === 'True') return 'replaced';
      if (rc.Replacement === 'Conditional') return 'may-be-replaced';
      return 'modified';
    default:
      // SyncWithActual (drift-aware change sets) changes CloudFormation's record, not the resource.
      return 'modified';
  }
}

function classify(rc: ResourceChange): ReviewedChange {
  const resourceType = rc.ResourceType ?? '?';
  const kind = kindOf(rc);
  const details = dedupe(rc.Details ?? []);
  const changedProperties = new Set(details.map((d) => d.Target?.Name).filter((n) => n !== undefined));
  // An added or removed resource has no details; its properties are in the context CloudFormation encoded.
  for (const name of contextProperties(rc.AfterContext ?? rc.BeforeContext)) {
    if (kind === 'added' || kind === 'removed') changedProperties.add(name);
  }
  const accessProperties = ACCESS_PROPERTIES[resourceType] ?? [];
  const accessChange =
    resourceType.startsWith('AWS::IAM::') ||
    POLICY_TYPES.has(resourceType) ||
    accessProperties.some((p) => changedProperties.has(p));
  const keyPolicyChange =
    resourceType === KEY_TYPE && (kind !== 'modified' || changedProperties.has(KEY_POLICY));
  const securityGroupChange =
    SECURITY_GROUP_RULE_TYPES.has(resourceType) ||
    (resourceType === SECURITY_GROUP_TYPE &&
      (kind !== 'modified' || SECURITY_GROUP_RULES.some((p) => changedProperties.has(p))));
  return {
    logicalId: rc.LogicalResourceId ?? '?',
    resourceType,
    ...(rc.PhysicalResourceId ? { physicalId: rc.PhysicalResourceId } : {}),
    action: rc.Action ?? '?',
    kind,
    ...(rc.PolicyAction === undefined ? {} : { policyAction: rc.PolicyAction }),
    details,
    replacementCauses: details.filter(
      (d) => d.Target?.RequiresRecreation === 'Always' || d.Target?.RequiresRecreation === 'Conditionally',
    ),
    stateful: STATEFUL_TYPES.has(resourceType),
    accessChange,
    keyPolicyChange,
    securityGroupChange,
    ...(rc.BeforeContext === undefined ? {} : { beforeContext: rc.BeforeContext }),
    ...(rc.AfterContext === undefined ? {} : { afterContext: rc.AfterContext }),
    ...(rc.ChangeSetId === undefined ? {} : { nestedChangeSetId: rc.ChangeSetId }),
  };
}

/** CloudFormation repeats a detail when a property is both edited and depends on another change. */
function dedupe(details: readonly ResourceChangeDetail[]): ResourceChangeDetail[] {
  const seen = new Set<string>();
  return details.filter((d) => {
    const key = JSON.stringify(d);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Top-level property names of a Before/AfterContext (`{"Properties": {...}}`), or none if it is not JSON. */
function contextProperties(context: string | undefined): string[] {
  if (context === undefined) return [];
  try {
    const parsed = JSON.parse(context) as { Properties?: unknown } | null;
    const properties = parsed?.Properties;
    return properties !== null && typeof properties === 'object' ? Object.keys(properties) : [];
  } catch {
    return [];
  }
}

/** The kinds of change to a stateful resource that lose or orphan its data: the guard stops them. */
const DESTRUCTIVE: ReadonlySet<ChangeKind> = new Set([
  'replaced',
  'may-be-replaced',
  'removed',
  'undetermined',
]);

export function isDestructive(change: ReviewedChange): boolean {
  return change.stateful && DESTRUCTIVE.has(change.kind);
}

export interface AllowedChange {
  readonly change: ReviewedChange;
  readonly allowance: StatefulChangeAllowance;
}

export interface StaleAllowance {
  readonly allowance: StatefulChangeAllowance;
  /** Why it matched nothing, for the warning line. */
  readonly why: string;
}

export interface GuardResult {
  /** Stateful resources replaced (or possibly), removed, or with an undetermined action, and not allowed. */
  readonly blocked: readonly ReviewedChange[];
  readonly allowed: readonly AllowedChange[];
  /** Allowances that match no replacement or removal of a stateful resource in this change set. */
  readonly stale: readonly StaleAllowance[];
  readonly passed: boolean;
}

/**
 * The stateful-replacement guard: every destructive change to a stateful resource needs an allowance for its
 * logical ID in the stage's `changeReview.allowStatefulChanges`; an allowance that matches none is stale.
 */
export function applyStatefulGuard(
  review: ChangeSetReview,
  allowances: readonly StatefulChangeAllowance[],
): GuardResult {
  const byId = new Map(allowances.map((a) => [a.logicalId, a]));
  const destructive = review.changes.filter(isDestructive);
  const blocked: ReviewedChange[] = [];
  const allowed: AllowedChange[] = [];
  for (const change of destructive) {
    const allowance = byId.get(change.logicalId);
    if (allowance) allowed.push({ change, allowance });
    else blocked.push(change);
  }
  const used = new Set(allowed.map((a) => a.allowance.logicalId));
  const stale = allowances
    .filter((a) => !used.has(a.logicalId))
    .map((allowance) => ({ allowance, why: staleReason(review, allowance.logicalId) }));
  return { blocked, allowed, stale, passed: blocked.length === 0 };
}

function staleReason(review: ChangeSetReview, logicalId: string): string {
  if (review.noChanges) return 'the change set is empty';
  const change = review.changes.find((c) => c.logicalId === logicalId);
  if (!change) return 'matches no change in this change set';
  if (!change.stateful) {
    return `${change.resourceType} is not a stateful type; the guard never needs an allowance for it`;
  }
  return `is only ${KIND_LABELS[change.kind]} here, not replaced or removed`;
}
