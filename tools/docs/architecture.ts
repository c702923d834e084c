/**
 * The README's architecture picture, derived from a synthesized ProcessorStack: nodes are the resources that
 * matter to a reader (stores, queues, function, keys, monitoring, backup), edges come from the references between
 * them in the CloudFormation template (notification configuration, redrive policy, event source mapping, IAM
 * statements, encryption keys, alarm actions). Change the stack and the picture changes with it.
 */
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { ProcessorStack } from '../../lib/app-stack/processor-stack.ts';
import { SCHEMA_VALIDATION_CONTEXT } from '../../lib/config/names.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';

type Json = unknown;
interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly UpdatePolicy?: Record<string, Json>;
}
export interface SynthesizedStack {
  readonly resources: Readonly<Record<string, Resource>>;
  /** Construct path of each resource below the stack, e.g. `Processor/ObjectsBucket`. */
  readonly paths: ReadonlyMap<string, string>;
}

/**
 * Synthesizes one stage's ProcessorStack in-process. Bundling is skipped (`aws:cdk:bundling-stacks`): the picture
 * needs the template's shape, not the function's code, and skipping keeps it fast and free of esbuild output.
 */
export function synthesizeStage(config: AppConfig, stage: StageConfig): SynthesizedStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], [SCHEMA_VALIDATION_CONTEXT]: false } });
  const stack = new ProcessorStack(app, 'Processor', {
    config: stage,
    project: config.project,
    env: { account: stage.account, region: stage.region },
  });
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
  };
  const paths = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (!(construct instanceof CfnResource)) continue;
    const logicalId = Stack.of(construct).resolve(construct.logicalId) as string;
    const relative = construct.node.path
      .slice(stack.node.path.length + 1)
      .replace(/\/(Resource|Default)$/, '');
    paths.set(logicalId, relative);
  }
  return { resources: template.Resources, paths };
}

/** Resource types drawn as nodes, with the words a reader knows them by. */
const NODE_TYPES: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 'S3 bucket',
  'AWS::SQS::Queue': 'SQS queue',
  'AWS::Lambda::Function': 'Lambda function',
  'AWS::Lambda::Alias': 'Lambda alias',
  'AWS::DynamoDB::Table': 'DynamoDB table',
  'AWS::Logs::LogGroup': 'log group',
  'AWS::KMS::Key': 'KMS key',
  'AWS::SNS::Topic': 'SNS topic',
  'AWS::CloudWatch::Dashboard': 'CloudWatch dashboard',
  'AWS::Budgets::Budget': 'AWS Budgets',
  'AWS::CodeDeploy::DeploymentGroup': 'CodeDeploy canary',
  'AWS::Backup::BackupPlan': 'AWS Backup plan',
  'AWS::Backup::BackupVault': 'backup vault',
  'AWS::EC2::VPC': 'VPC',
  'AWS::EC2::VPCEndpoint': 'VPC endpoint',
  'AWS::IAM::Role': 'IAM role',
};
const ALARMS_NODE = 'Alarms';
const UPLOADERS_NODE = 'Uploaders';
const TRUSTED_ACCOUNT_NODE = 'TrustedAccount';

/** Logical IDs referenced anywhere inside a template value (Ref and Fn::GetAtt). */
export function referencesIn(value: Json): Set<string> {
  const found = new Set<string>();
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, Json>;
      if (typeof o.Ref === 'string' && !o.Ref.startsWith('AWS::')) found.add(o.Ref);
      const getAtt = o['Fn::GetAtt'];
      if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') found.add(getAtt[0]);
      if (typeof getAtt === 'string') found.add(getAtt.split('.')[0] as string);
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return found;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly dotted?: boolean;
}

/** The picture as data: node id -> label and group, and labelled edges. */
export interface Diagram {
  readonly nodes: ReadonlyMap<string, { readonly label: string; readonly group: string | undefined }>;
  readonly edges: readonly Edge[];
}

export function buildDiagram(stack: SynthesizedStack): Diagram {
  const { resources, paths } = stack;
  const entries = Object.entries(resources);
  const typeOf = (id: string) => resources[id]?.Type;
  const nodeId = (logicalId: string) => (paths.get(logicalId) ?? logicalId).replaceAll(/[^A-Za-z0-9]/g, '_');

  const isAccountRole = (r: Resource) =>
    JSON.stringify(r.Properties?.AssumeRolePolicyDocument ?? {}).includes('"AWS"');
  // CDK's singleton helpers (custom resource providers) live at the stack root; our constructs are nested.
  const isOurs = (id: string) => (paths.get(id) ?? '').includes('/');
  const drawn = new Set(
    entries
      .filter(
        ([id, r]) => NODE_TYPES[r.Type] && isOurs(id) && (r.Type !== 'AWS::IAM::Role' || isAccountRole(r)),
      )
      .map(([id]) => id),
  );
  const alarms = entries.filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm').map(([id]) => id);
  const target = (id: string) => (alarms.includes(id) ? ALARMS_NODE : drawn.has(id) ? nodeId(id) : undefined);

  const edges: Edge[] = [];
  const add = (from: string | undefined, to: string | undefined, label: string, dotted = false) => {
    if (from && to && from !== to && !edges.some((e) => e.from === from && e.to === to)) {
      edges.push({ from, to, label, dotted });
    }
  };
  const shortActions = (actions: Json) =>
    [...new Set([actions].flat().map((a) => String(a).split(':')[1] ?? String(a)))].sort().join(', ');

  for (const [id, r] of entries) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'Custom::S3BucketNotifications': {
        const bucket = [...referencesIn(p.BucketName)][0];
        const configs = ((p.NotificationConfiguration as Record<string, Json>)?.QueueConfigurations ??
          []) as {
          Events: string[];
          QueueArn: Json;
        }[];
        for (const queue of new Set(configs.flatMap((c) => [...referencesIn(c.QueueArn)]))) {
          const events = configs
            .filter((c) => referencesIn(c.QueueArn).has(queue))
            .flatMap((c) => c.Events.map((e) => e.replace(/^s3:/, '')));
          add(bucket && target(bucket), target(queue), events.join(', '));
          add(UPLOADERS_NODE, bucket && target(bucket), 'put / delete objects');
        }
        break;
      }
      case 'AWS::SQS::Queue': {
        const redrive = p.RedrivePolicy as
          | { deadLetterTargetArn?: Json; maxReceiveCount?: number }
          | undefined;
        const dlq = redrive && [...referencesIn(redrive.deadLetterTargetArn)][0];
        if (dlq) add(target(id), target(dlq), `after ${redrive?.maxReceiveCount} receives`);
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const source = [...referencesIn(p.EventSourceArn)][0];
        const fn = [...referencesIn(p.FunctionName)][0];
        add(source && target(source), fn && target(fn), `batches of ${p.BatchSize}`);
        break;
      }
      case 'AWS::Lambda::Alias': {
        for (const fn of referencesIn(p.FunctionName)) add(target(id), target(fn), 'published version');
        for (const group of referencesIn(r.UpdatePolicy)) add(target(group), target(id), 'shifts traffic');
        break;
      }
      case 'AWS::Lambda::Function': {
        const logging = p.LoggingConfig as { LogGroup?: Json } | undefined;
        for (const group of referencesIn(logging?.LogGroup)) add(target(id), target(group), 'JSON logs');
        break;
      }
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::IAM::Policy': {
        const policyDoc = (p.PolicyDocument ?? {}) as { Statement?: { Action: Json; Resource: Json }[] };
        for (const role of referencesIn(p.Roles)) {
          // The function acts through its role; an account-assumable role is drawn itself.
          const actors = drawn.has(role)
            ? [role]
            : entries
                .filter(
                  ([, f]) => f.Type === 'AWS::Lambda::Function' && referencesIn(f.Properties?.Role).has(role),
                )
                .map(([fid]) => fid);
          for (const actor of actors) {
            for (const statement of policyDoc.Statement ?? []) {
              for (const res of referencesIn(statement.Resource)) {
                const kind = typeOf(res);
                if (kind === 'AWS::KMS::Key' || kind === 'AWS::SQS::Queue' || kind === 'AWS::Logs::LogGroup')
                  continue;
                add(target(actor), target(res), shortActions(statement.Action));
              }
            }
          }
        }
        break;
      }
      case 'AWS::CloudWatch::Alarm': {
        for (const topic of referencesIn(p.AlarmActions)) add(ALARMS_NODE, target(topic), 'alarm / OK');
        for (const watched of referencesIn(p.Dimensions ?? p.Metrics))
          add(target(watched), ALARMS_NODE, 'metrics', true);
        break;
      }
      case 'AWS::Budgets::Budget': {
        for (const topic of referencesIn(p.NotificationsWithSubscribers))
          add(target(id), target(topic), 'actual / forecast');
        break;
      }
      case 'AWS::CodeDeploy::DeploymentGroup': {
        if (referencesIn(p.AlarmConfiguration).size > 0) add(ALARMS_NODE, target(id), 'roll back', true);
        break;
      }
      case 'AWS::Backup::BackupSelection': {
        const plan = [...referencesIn(p.BackupPlanId)][0];
        const selection = p.BackupSelection as { Resources?: Json } | undefined;
        for (const res of referencesIn(selection?.Resources))
          add(plan && target(plan), target(res), 'daily backup');
        break;
      }
      case 'AWS::Backup::BackupPlan': {
        for (const vault of referencesIn(p.BackupPlan)) add(target(id), target(vault), 'recovery points');
        break;
      }
      case 'AWS::S3::Bucket': {
        const logging = p.LoggingConfiguration as { DestinationBucketName?: Json } | undefined;
        for (const logs of referencesIn(logging?.DestinationBucketName))
          add(target(id), target(logs), 'access logs');
        break;
      }
      case 'AWS::IAM::Role': {
        if (drawn.has(id)) add(TRUSTED_ACCOUNT_NODE, target(id), 'assumes');
        break;
      }
    }
    // Encryption: a drawn resource that names a drawn key is encrypted with it.
    if (drawn.has(id) && r.Type !== 'AWS::KMS::Key') {
      for (const key of referencesIn(p)) {
        if (typeOf(key) === 'AWS::KMS::Key') add(target(key), target(id), 'encrypts', true);
      }
    }
  }

  // A log group is drawn only when something drawn writes to it (CDK helpers' log groups are not).
  const linked = new Set(edges.flatMap((e) => [e.from, e.to]));
  const nodes = new Map<string, { label: string; group: string | undefined }>();
  for (const id of drawn) {
    const r = resources[id] as Resource;
    if (r.Type === 'AWS::Logs::LogGroup' && !edges.some((e) => e.to === nodeId(id) && e.label !== 'encrypts'))
      continue;
    const path = paths.get(id) ?? id;
    const [group] = path.split('/');
    nodes.set(nodeId(id), { label: `${path.split('/').at(-1)}<br/>${NODE_TYPES[r.Type]}`, group });
  }
  if (alarms.length > 0)
    nodes.set(ALARMS_NODE, { label: `${alarms.length} CloudWatch alarms`, group: 'Monitoring' });
  if (linked.has(UPLOADERS_NODE)) nodes.set(UPLOADERS_NODE, { label: 'Uploaders', group: undefined });
  if (linked.has(TRUSTED_ACCOUNT_NODE)) {
    nodes.set(TRUSTED_ACCOUNT_NODE, { label: 'Trusted account<br/>(integration tests)', group: undefined });
  }
  return { nodes, edges: edges.filter((e) => nodes.has(e.from) && nodes.has(e.to)) };
}

/** Mermaid flowchart text: one subgraph per top-level construct, nodes and edges in template order. */
export function renderMermaid(diagram: Diagram, title: string): string {
  const lines = ['```mermaid', '---', `title: ${JSON.stringify(title)}`, '---', 'flowchart LR'];
  const groups = [...new Set([...diagram.nodes.values()].map((n) => n.group))];
  for (const group of groups) {
    const members = [...diagram.nodes].filter(([, n]) => n.group === group);
    const indent = group ? '    ' : '  ';
    if (group) lines.push(`  subgraph ${group}`);
    for (const [id, n] of members) {
      const external = id === UPLOADERS_NODE || id === TRUSTED_ACCOUNT_NODE;
      lines.push(`${indent}${id}${external ? `(["${n.label}"])` : `["${n.label}"]`}`);
    }
    if (group) lines.push('  end');
  }
  for (const e of diagram.edges) {
    lines.push(`  ${e.from} ${e.dotted ? '-.->' : '-->'}|"${e.label}"| ${e.to}`);
  }
  lines.push('```');
  return lines.join('\n');
}
