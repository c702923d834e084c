/**
 * Security policy over a synthesized CloudFormation template. Independent of cdk-nag on purpose: it reads the
 * template CloudFormation deploys (after every CDK default, escape hatch and custom-resource provider), and it
 * encodes this project's own rules, some of which cdk-nag only warns about or does not check at all:
 *
 * - no IAM policy (identity or resource) allows a service-wide wildcard action (`*`, `s3:*`) or uses `NotAction`
 *   in an Allow, and no role carries an AWS managed policy that does (`...FullAccess`, `AdministratorAccess`);
 * - no policy allows CloudWatch Logs actions on `*` (or on every log group), including through the
 *   `AWSLambdaBasicExecutionRole` managed policy that CDK attaches to Lambda roles by default;
 * - every bucket, queue and topic is encrypted, and has a resource policy denying requests without TLS
 *   (`aws:SecureTransport` = false) for all its actions; every table is encrypted with KMS.
 *
 * One exemption, by design of KMS: a key policy statement allowing `kms:*` to the key's own account root. That is
 * the default key policy; it grants nothing by itself, it only lets IAM policies of that account grant key use.
 */

/** One broken rule in one resource. */
export interface SecurityViolation {
  readonly logicalId: string;
  readonly type: string;
  readonly rule: SecurityRule;
  readonly detail: string;
}

export type SecurityRule =
  | 'wildcard-action'
  | 'allow-not-action'
  | 'broad-managed-policy'
  | 'logs-on-star'
  | 'unencrypted'
  | 'no-tls-only-policy';

/** What the policy looked at, so a test can prove it did not pass vacuously. */
export interface SecurityCoverage {
  readonly policyDocuments: number;
  readonly buckets: number;
  readonly queues: number;
  readonly topics: number;
  readonly tables: number;
}

export interface SecurityReport {
  readonly violations: readonly SecurityViolation[];
  readonly coverage: SecurityCoverage;
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

interface Statement {
  readonly Effect?: string;
  readonly Action?: unknown;
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** AWS managed policies that grant logs on `*` (`logs-on-star`) or whole services (`broad-managed-policy`). */
const LOGS_ON_STAR_MANAGED =
  /(AWSLambdaBasicExecutionRole|AWSLambdaVPCAccessExecutionRole|CloudWatchLogsFullAccess)$/;
const BROAD_MANAGED = /(AdministratorAccess|PowerUserAccess|FullAccess)$/;
const SERVICE_WIDE = /^[A-Za-z0-9-]+:\*$/;
/** The account root of the stack's own account, as CDK renders it (env-agnostic or with a literal account). */
const OWN_ACCOUNT_ROOT = /^arn:[^:]+:iam::(\$\{AWS\.AccountId\}|\d{12}):root$/;

/** Checks every resource of a template (the object `Template.fromStack(stack).toJSON()` returns). */
export function checkTemplateSecurity(template: {
  readonly Resources?: Record<string, unknown>;
}): SecurityReport {
  const resources = Object.entries((template.Resources ?? {}) as Record<string, CfnResource>);
  const violations: SecurityViolation[] = [];
  const coverage = { policyDocuments: 0, buckets: 0, queues: 0, topics: 0, tables: 0 };
  const add = (logicalId: string, type: string, rule: SecurityRule, detail: string) =>
    violations.push({ logicalId, type, rule, detail });

  for (const [logicalId, resource] of resources) {
    for (const { document, where } of policyDocuments(resource)) {
      coverage.policyDocuments++;
      for (const statement of statementsOf(document)) {
        checkStatement(statement, resource, (rule, detail) =>
          add(logicalId, resource.Type, rule, `${where}: ${detail}`),
        );
      }
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const arn of asArray(resource.Properties?.ManagedPolicyArns).map(text)) {
        if (LOGS_ON_STAR_MANAGED.test(arn)) {
          add(logicalId, resource.Type, 'logs-on-star', `managed policy ${arn} allows logs:* actions on *`);
        } else if (BROAD_MANAGED.test(arn)) {
          add(
            logicalId,
            resource.Type,
            'broad-managed-policy',
            `managed policy ${arn} allows whole services`,
          );
        }
      }
    }
  }

  const protectedBy = (policyType: string, targetsKey: string, serviceActions: readonly string[]) => {
    const covered = new Set<string>();
    for (const [, resource] of resources) {
      if (resource.Type !== policyType) continue;
      const denies = statementsOf(resource.Properties?.PolicyDocument).some((s) =>
        isTlsDeny(s, serviceActions),
      );
      if (!denies) continue;
      for (const target of asArray(resource.Properties?.[targetsKey])) {
        const ref = refOf(target);
        if (ref) covered.add(ref);
      }
    }
    return covered;
  };
  const tlsBuckets = protectedBy('AWS::S3::BucketPolicy', 'Bucket', ['s3:*']);
  const tlsQueues = protectedBy('AWS::SQS::QueuePolicy', 'Queues', ['sqs:*']);
  const tlsTopics = protectedBy('AWS::SNS::TopicPolicy', 'Topics', ['sns:*', 'sns:Publish']);

  for (const [logicalId, resource] of resources) {
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::S3::Bucket': {
        coverage.buckets++;
        const rules = asArray(
          (p.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown })
            ?.ServerSideEncryptionConfiguration,
        );
        if (rules.length === 0)
          add(logicalId, resource.Type, 'unencrypted', 'no BucketEncryption configuration');
        if (!tlsBuckets.has(logicalId)) {
          add(
            logicalId,
            resource.Type,
            'no-tls-only-policy',
            'no bucket policy denies s3:* when aws:SecureTransport is false',
          );
        }
        break;
      }
      case 'AWS::SQS::Queue':
        coverage.queues++;
        if (p.KmsMasterKeyId === undefined && p.SqsManagedSseEnabled !== true) {
          add(logicalId, resource.Type, 'unencrypted', 'neither KmsMasterKeyId nor SqsManagedSseEnabled');
        }
        if (!tlsQueues.has(logicalId)) {
          add(
            logicalId,
            resource.Type,
            'no-tls-only-policy',
            'no queue policy denies sqs:* when aws:SecureTransport is false',
          );
        }
        break;
      case 'AWS::SNS::Topic':
        coverage.topics++;
        if (p.KmsMasterKeyId === undefined) add(logicalId, resource.Type, 'unencrypted', 'no KmsMasterKeyId');
        if (!tlsTopics.has(logicalId)) {
          add(
            logicalId,
            resource.Type,
            'no-tls-only-policy',
            'no topic policy denies publishing when aws:SecureTransport is false',
          );
        }
        break;
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': {
        coverage.tables++;
        const sse = p.SSESpecification as { SSEEnabled?: unknown } | undefined;
        if (sse?.SSEEnabled !== true)
          add(logicalId, resource.Type, 'unencrypted', 'SSESpecification.SSEEnabled is not true (KMS)');
        break;
      }
    }
  }
  return { violations, coverage };
}

/** One line per violation, for test failure messages. */
export function formatViolations(violations: readonly SecurityViolation[]): string[] {
  return violations.map((v) => `${v.logicalId} (${v.type}) ${v.rule}: ${v.detail}`);
}

function policyDocuments(resource: CfnResource): Array<{ document: unknown; where: string }> {
  const p = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::IAM::Policy':
    case 'AWS::IAM::ManagedPolicy':
    case 'AWS::S3::BucketPolicy':
    case 'AWS::SQS::QueuePolicy':
    case 'AWS::SNS::TopicPolicy':
      return [{ document: p.PolicyDocument, where: 'PolicyDocument' }];
    case 'AWS::KMS::Key':
      return [{ document: p.KeyPolicy, where: 'KeyPolicy' }];
    case 'AWS::IAM::Role':
    case 'AWS::IAM::User':
    case 'AWS::IAM::Group':
      return asArray(p.Policies).map((inline, i) => ({
        document: (inline as { PolicyDocument?: unknown }).PolicyDocument,
        where: `Policies[${i}] ${String((inline as { PolicyName?: unknown }).PolicyName ?? '')}`.trim(),
      }));
    default:
      return [];
  }
}

function checkStatement(
  statement: Statement,
  resource: CfnResource,
  report: (rule: SecurityRule, detail: string) => void,
): void {
  if (statement.Effect !== 'Allow') return;
  if (statement.NotAction !== undefined) {
    report(
      'allow-not-action',
      `Allow with NotAction ${JSON.stringify(statement.NotAction)} allows everything else`,
    );
    return;
  }
  const actions = asArray(statement.Action).map(text);
  if (resource.Type === 'AWS::KMS::Key' && isKeyAdministrationDelegatedToAccount(statement, actions)) return;
  for (const action of actions) {
    if (action === '*' || SERVICE_WIDE.test(action)) report('wildcard-action', `allows ${action}`);
  }
  const logsActions = actions.filter((a) => a === '*' || a.toLowerCase().startsWith('logs:'));
  if (logsActions.length > 0) {
    const broad = asArray(statement.Resource).map(text).filter(isEveryLogGroup);
    if (broad.length > 0) report('logs-on-star', `allows ${logsActions.join(', ')} on ${broad.join(', ')}`);
  }
}

/** The default key policy statement: kms:* for the account root, on the key itself (Resource "*"). */
function isKeyAdministrationDelegatedToAccount(statement: Statement, actions: readonly string[]): boolean {
  if (actions.length !== 1 || actions[0] !== 'kms:*') return false;
  const principal = statement.Principal as { AWS?: unknown } | undefined;
  const principals = asArray(principal?.AWS).map(text);
  return principals.length > 0 && principals.every((p) => OWN_ACCOUNT_ROOT.test(p));
}

/** `*`, or a logs ARN whose log group (or everything after the account) is a wildcard. */
function isEveryLogGroup(resource: string): boolean {
  if (resource === '*') return true;
  if (!/^arn:[^:]*:logs:/.test(resource)) return false;
  return /:log-group:\*(:.*)?$/.test(resource) || /^arn:[^:]*:logs:[^:]*:[^:]*:\*$/.test(resource);
}

function isTlsDeny(statement: Statement, serviceActions: readonly string[]): boolean {
  if (statement.Effect !== 'Deny') return false;
  const actions = asArray(statement.Action).map(text);
  if (!actions.some((a) => a === '*' || serviceActions.includes(a))) return false;
  const principal = statement.Principal;
  const everyone =
    principal === '*' || asArray((principal as { AWS?: unknown } | undefined)?.AWS).some((p) => p === '*');
  if (!everyone) return false;
  const bool = statement.Condition?.Bool ?? {};
  return String(bool['aws:SecureTransport']) === 'false';
}

function statementsOf(document: unknown): Statement[] {
  return asArray((document as { Statement?: unknown } | undefined)?.Statement) as Statement[];
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The logical ID a `{ Ref }` points at. */
function refOf(value: unknown): string | undefined {
  const ref = (value as { Ref?: unknown } | null)?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * A template value as text, intrinsics rendered as `${...}` placeholders, so ARNs built with Fn::Join / Fn::Sub
 * can be matched by pattern (`arn:${AWS.Partition}:iam::aws:policy/...`).
 */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  const v = value as Record<string, unknown>;
  // Placeholders carry no ':' (AWS::AccountId -> AWS.AccountId) so ARN patterns can split on colons.
  if (typeof v.Ref === 'string') return `\${${v.Ref.replaceAll('::', '.')}}`;
  if (Array.isArray(v['Fn::GetAtt'])) return `\${${(v['Fn::GetAtt'] as unknown[]).map(text).join('.')}}`;
  if (v['Fn::Sub'] !== undefined) {
    const template = text(Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub']);
    return template.replace(/\$\{([^}]*)\}/g, (_, name: string) => `\${${name.replaceAll('::', '.')}}`);
  }
  const join = v['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string') return asArray(join[1]).map(text).join(join[0]);
  return JSON.stringify(value);
}
