import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { ARTIFACT_RETENTION_DAYS } from '../../lib/pipeline/artifact-retention.ts';
import { bootstrapTemplate } from './bootstrap-stack.ts';
import { type DeployedApp, synthesizeDeployedApp } from './deployed-templates.ts';
import {
  buildFlowModel,
  evaluateFlow,
  expectedDecision,
  type Flow,
  type FlowModel,
  type FlowOutcome,
  scopesOf,
  type TemplateMutation,
} from './flow-model.ts';
import { FLOW_DOC, flowCounts, renderFlowDoc } from './flow-table.ts';
import { FLOWS, NOT_MODELLED } from './flows.ts';
import {
  bySid,
  changeStatement,
  isTlsDeny,
  principalMentions,
  removeStatements,
  resourceNamed,
} from './template-mutations.ts';

/**
 * The flow table (flows.ts, rendered in docs/security.md), evaluated by @cloud-copilot/iam-simulate against the
 * synthesized templates of every stage and the pipeline, with the CDK bootstrap roles of every account. The app is
 * synthesized once; the non-vacuity tests mutate copies of its templates and re-evaluate (the evaluation cache
 * re-runs only the requests whose policies changed).
 */

let app: DeployedApp;
let model: FlowModel;
let outcomes: FlowOutcome[];

async function evaluateAll(m: FlowModel): Promise<FlowOutcome[]> {
  const all: FlowOutcome[] = [];
  for (const flow of FLOWS) {
    for (const { name, scope } of scopesOf(flow, m)) all.push(...(await evaluateFlow(flow, name, scope)));
  }
  return all;
}

beforeAll(async () => {
  app = synthesizeDeployedApp();
  model = buildFlowModel(app);
  outcomes = await evaluateAll(model);
});

const describeOutcome = (o: FlowOutcome) =>
  `${o.scope}: ${o.request.action} on ${o.request.resource} ${JSON.stringify(o.request.context ?? {})} -> ${o.decision}` +
  ` (decided by ${o.verdict.decisive.join(', ') || 'nothing'}${o.handChecked ? `; ${o.handChecked}` : ''})`;

/**
 * What is wrong with a row in one scope. Every request must give the expected result. `decidedBy` is checked
 * over the row's requests together: for an allowed or explicitly denied row, the policies whose statements
 * decided any of its requests are exactly the ones it names, and each named statement decided at least one; for
 * an implicitly denied row, each named policy was consulted (and grants nothing, or the request would be allowed).
 */
function problemsOf(rowOutcomes: readonly FlowOutcome[]): string[] {
  const problems: string[] = [];
  for (const o of rowOutcomes) {
    if (o.decision !== expectedDecision[o.flow.expect])
      problems.push(`${describeOutcome(o)}: expected ${o.flow.expect}`);
    const supplied = Object.keys(o.request.context ?? {});
    const ignored = o.verdict.ignoredContextKeys.filter(
      (k) => supplied.includes(k) && k !== o.flow.unevaluable?.key,
    );
    if (ignored.length > 0)
      problems.push(
        `${describeOutcome(o)}: the engine ignored ${ignored.join(', ')} (not a key of this action)`,
      );
  }
  const [first] = rowOutcomes;
  if (!first || problems.length > 0) return problems;
  const declared = new Set(rowOutcomes.flatMap((o) => o.declared));
  const policy = (label: string) => label.split('#')[0] ?? label;
  const declaredPolicies = new Set([...declared].map(policy));
  const where = `${first.scope}: ${first.flow.id}`;
  if (first.flow.expect === 'implicitly denied') {
    const consulted = new Set(rowOutcomes.flatMap((o) => o.consulted));
    for (const p of declaredPolicies)
      if (!consulted.has(p)) problems.push(`${where}: ${p} was not consulted`);
    if ([...declared].some((d) => d.includes('#')))
      problems.push(`${where}: an implicitly denied row names no statement`);
    return problems;
  }
  const decisive = new Set(rowOutcomes.flatMap((o) => o.verdict.decisive));
  const decisivePolicies = new Set([...decisive].map(policy));
  const missing = [...decisivePolicies].filter((p) => !declaredPolicies.has(p));
  const extra = [...declaredPolicies].filter((p) => !decisivePolicies.has(p));
  if (missing.length > 0) problems.push(`${where}: decidedBy misses ${missing.join(', ')}`);
  if (extra.length > 0) problems.push(`${where}: decidedBy names ${extra.join(', ')}, which decided nothing`);
  for (const d of declared)
    if (d.includes('#') && !decisive.has(d)) problems.push(`${where}: ${d} decided nothing`);
  return problems;
}

describe('flow table, evaluated against dev, staging, prod and the pipeline', () => {
  it.each(FLOWS.map((f) => [f.id, f] as const))('%s', (_id, flow: Flow) => {
    const mine = outcomes.filter((o) => o.flow === flow);
    const scopes = scopesOf(flow, model);
    expect(mine.length > 0, `${flow.id} was evaluated nowhere`).toBe(scopes.length > 0);
    expect(scopes.flatMap(({ name }) => problemsOf(mine.filter((o) => o.scope === name)))).toEqual([]);
  });

  it('has unique row IDs and evaluates rows in every template', () => {
    expect(new Set(FLOWS.map((f) => f.id)).size).toBe(FLOWS.length);
    const scopes = new Set(outcomes.map((o) => o.scope));
    expect([...scopes].sort()).toEqual([...app.stages.keys(), 'pipeline'].sort());
    for (const [name, allowed, denied] of flowCounts(app.config)) {
      const rows = new Set(outcomes.filter((o) => o.scope === name).map((o) => o.flow.id));
      expect(rows.size, name).toBe(allowed + denied);
      expect(allowed, `${name}: allowed rows`).toBeGreaterThan(0);
      expect(denied, `${name}: denied rows`).toBeGreaterThan(0);
    }
  });

  it('touches every role, resource policy and key policy of the templates, or says why not', () => {
    const touched = new Set(outcomes.flatMap((o) => o.touched));
    const ours = (template: string) => template === 'pipeline' || app.stages.has(template);
    const exempt = (template: string, logicalId: string) =>
      NOT_MODELLED.find(
        (n) =>
          (n.template === 'pipeline' ? template === 'pipeline' : template !== 'pipeline') &&
          logicalId.replace(/[0-9A-F]{8}$/, '') === n.id,
      );
    const all = [
      ...model.world.allRoles().map((r) => ({ template: r.template, logicalId: r.logicalId, kind: 'role' })),
      ...model.world
        .allResourcePolicies()
        .map((p) => ({ template: p.template, logicalId: p.logicalId, kind: p.kind })),
    ].filter((x) => ours(x.template));
    const untouched = all
      .filter((x) => !touched.has(`${x.template}/${x.logicalId}`) && !exempt(x.template, x.logicalId))
      .map((x) => `${x.template}: ${x.kind} ${x.logicalId}`);
    expect(untouched).toEqual([]);
    const stale = NOT_MODELLED.filter(
      (n) =>
        !all.some(
          (x) => exempt(x.template, x.logicalId) === n && !touched.has(`${x.template}/${x.logicalId}`),
        ),
    );
    expect(stale.map((n) => `${n.id}: no longer in the templates, or now touched by a row`)).toEqual([]);
    expect(all.length).toBeGreaterThan(40);
  });
});

describe('conditions the engine cannot evaluate', () => {
  it('kms:EncryptionContext:* is dropped by the engine and asserted by hand instead', () => {
    const handChecked = outcomes.filter((o) => o.flow.unevaluable);
    expect(handChecked.length).toBeGreaterThan(0);
    for (const o of handChecked) {
      const key = o.flow.unevaluable?.key ?? '';
      // The claim that the engine cannot evaluate it is itself checked: it did drop the key.
      expect(o.verdict.ignoredContextKeys, describeOutcome(o)).toContain(key);
      expect(o.handChecked, describeOutcome(o)).toMatch(
        /checked by hand against .+#\w+: (holds|does not hold)$/,
      );
    }
    const own = handChecked.filter((o) => o.flow.expect === 'allowed');
    const foreign = handChecked.filter((o) => o.flow.expect !== 'allowed');
    expect(own.every((o) => o.handChecked?.endsWith(': holds'))).toBe(true);
    expect(foreign.length).toBeGreaterThan(0);
    // Another account's log group is refused by the hand check alone: the engine, without the key, allowed it.
    expect(foreign.every((o) => o.verdict.decision === 'Allowed' && o.decision === 'ImplicitlyDenied')).toBe(
      true,
    );
  });
});

/** Rows (scope:id) whose result changed between two evaluations. */
function flipped(before: readonly FlowOutcome[], after: readonly FlowOutcome[]): string[] {
  const key = (o: FlowOutcome) =>
    `${o.scope}|${o.flow.id}|${o.request.action}|${o.request.resource}|${JSON.stringify(o.request.context)}`;
  const was = new Map(before.map((o) => [key(o), o.decision]));
  const changed = after.filter((o) => was.get(key(o)) !== o.decision).map((o) => `${o.scope}:${o.flow.id}`);
  return [...new Set(changed)].sort();
}

const inTemplate =
  (label: string, change: (template: Record<string, unknown>) => void): TemplateMutation =>
  (l, template) => {
    if (l === label) change(template);
  };

const MUTATIONS: ReadonlyArray<{ name: string; mutate: TemplateMutation; flips: string[] }> = [
  {
    name: 'the alarm topic policy without AllowAlarmsOfThisAccount (issue 11: no alarm could notify)',
    mutate: (label, t) => {
      if (label !== 'pipeline')
        removeStatements(resourceNamed(t, 'MonitoringAlarmTopicPolicy'), bySid('AllowAlarmsOfThisAccount'));
    },
    flips: [
      'dev:alarms-publish-to-alarm-topic',
      'prod:alarms-publish-to-alarm-topic',
      'staging:alarms-publish-to-alarm-topic',
    ],
  },
  {
    name: 'the alarm topic key without AllowNotifyingServices (alarms and budgets could not encrypt a message)',
    mutate: inTemplate('staging', (t) =>
      removeStatements(resourceNamed(t, 'MonitoringAlarmTopicKey'), bySid('AllowNotifyingServices')),
    ),
    flips: ['staging:alarms-use-alarm-topic-key', 'staging:budgets-use-alarm-topic-key'],
  },
  {
    name: "the integration-test role's prefix widened to the whole bucket",
    mutate: inTemplate('dev', (t) =>
      changeStatement(resourceNamed(t, 'IntegTestRolePolicy'), bySid('WriteTestObjects'), (s) => {
        s.Resource = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [objectsBucketId(t), 'Arn'] }, '/*']] };
      }),
    ),
    flips: ['dev:integ-tests-outside-own-prefix'],
  },
  {
    name: 'the objects bucket policy without the TLS-only deny',
    mutate: inTemplate('staging', (t) =>
      removeStatements(resourceNamed(t, 'ProcessorObjectsBucketPolicy'), isTlsDeny),
    ),
    flips: ['staging:no-tls-to-stage-buckets'],
  },
  {
    name: 'the table key without the CreateGrant restriction (CT.KMS.PR.3)',
    mutate: inTemplate('prod', (t) =>
      removeStatements(resourceNamed(t, 'ProcessorTableKey'), bySid('GrantsOnlyForAwsResources')),
    ),
    flips: ['prod:roles-create-grants-directly'],
  },
  {
    name: "dev's post-deploy test role allowed to assume every stage's integration-test role",
    mutate: inTemplate('pipeline', (t) =>
      changeStatement(
        resourceNamed(t, 'PipelineDevIntegrationTestsRoleDefaultPolicy'),
        bySid('AssumeStageIntegTestRole'),
        (s) => {
          s.Resource = 'arn:aws:iam::*:role/*-integ-test';
        },
      ),
    ),
    flips: ['dev:post-deploy-tests-assume-other-roles'],
  },
  {
    name: "the artifact key without the staging account's deploy role (cross-account decrypt)",
    mutate: inTemplate('pipeline', (t) =>
      removeStatements(
        resourceNamed(t, 'PipelineArtifactsBucketEncryptionKey'),
        principalMentions(`deploy-role-${stagingAccount()}`),
      ),
    ),
    flips: ['staging:deploy-role-decrypts-artifacts'],
  },
  {
    name: 'the ingest queue policy without its aws:SourceArn condition (any bucket could inject)',
    mutate: inTemplate('dev', (t) =>
      changeStatement(
        resourceNamed(t, 'ProcessorIngestQueuePolicy'),
        bySid('AllowObjectsBucketNotifications'),
        (s) => {
          if (s.Condition) delete s.Condition.ArnLike;
        },
      ),
    ),
    flips: ['dev:other-bucket-notifies-ingest-queue'],
  },
  {
    name: 'the logs key without its encryption-context condition (hand-checked statement)',
    mutate: inTemplate('dev', (t) =>
      changeStatement(
        resourceNamed(t, 'ProcessorLogsKey'),
        bySid('AllowCloudWatchLogsOfThisAccount'),
        (s) => {
          delete s.Condition;
        },
      ),
    ),
    flips: ['dev:logs-service-uses-logs-key-for-another-account'],
  },
];

function objectsBucketId(template: Record<string, unknown>): string {
  const id = Object.keys(template.Resources as object).find((k) =>
    /^ProcessorObjectsBucket[0-9A-F]{8}$/.test(k),
  );
  if (!id) throw new Error('no objects bucket');
  return id;
}
const stagingAccount = () => app.stages.get('staging')?.account ?? 'no staging stage';

describe('non-vacuity: a damaged policy flips exactly the rows it decides', () => {
  it.each(MUTATIONS.map((m) => [m.name, m] as const))('%s', async (_name, mutation) => {
    const after = await evaluateAll(buildFlowModel(app, mutation.mutate));
    expect(flipped(outcomes, after)).toEqual(mutation.flips);
  });
});

describe('docs/security.md', () => {
  it('shows exactly the rows the test evaluates (run `npm run docs:flows` when this fails)', () => {
    const onDisk = readFileSync(join(PROJECT_ROOT, FLOW_DOC), 'utf8');
    expect(onDisk).toBe(renderFlowDoc(onDisk, app.config));
  });
});

describe('flows no IAM policy decides', () => {
  it('SQS redrives to the dead-letter queue itself: the redrive policy names it, and both queues share one key', () => {
    for (const scope of model.stageScopes) {
      const stage = scope.stage;
      if (!stage) throw new Error('stage scope without a stage');
      const ingest = stage.template.find('ProcessorIngestQueue', 'AWS::SQS::Queue');
      const dlq = stage.template.find('ProcessorDeadLetterQueue', 'AWS::SQS::Queue');
      expect(ingest.properties.RedrivePolicy, stage.name).toEqual({
        deadLetterTargetArn: dlq.attributes.Arn,
        maxReceiveCount: stage.config.ingestQueue.maxReceiveCount,
      });
      // No RedriveAllowPolicy on the DLQ: SQS's default lets any queue of the account use it as its DLQ.
      expect(dlq.properties.RedriveAllowPolicy, stage.name).toBeUndefined();
      expect(dlq.properties.KmsMasterKeyId).toBe(ingest.properties.KmsMasterKeyId);
    }
  });
});

/** Days after which the pipeline artifact bucket expires objects, if a rule does (CT.S3.PR.6). */
function artifactExpiryDays(template: Record<string, unknown>): number | undefined {
  const bucket = resourceNamed(template, 'PipelineArtifactsBucket');
  const rules = (
    bucket.Properties.LifecycleConfiguration as { Rules?: Array<Record<string, unknown>> } | undefined
  )?.Rules;
  const days = (rules ?? []).filter((r) => r.Status === 'Enabled').map((r) => Number(r.ExpirationInDays));
  return days.length > 0 ? Math.min(...days) : undefined;
}

describe('Control Tower proactive controls', () => {
  it('CT.S3.PR.6: the pipeline artifact bucket expires artifacts (and the check sees a bucket without a rule)', () => {
    expect(artifactExpiryDays(app.pipeline.template)).toBe(ARTIFACT_RETENTION_DAYS);
    const broken = structuredClone(app.pipeline.template);
    delete resourceNamed(broken, 'PipelineArtifactsBucket').Properties.LifecycleConfiguration;
    expect(artifactExpiryDays(broken)).toBeUndefined();
  });
});

describe("the engine's licence (AGPL-3.0): a test tool only", () => {
  it('is a devDependency that nothing outside test/ imports', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.devDependencies)).toContain('@cloud-copilot/iam-simulate');
    expect(Object.keys(pkg.dependencies)).not.toContain('@cloud-copilot/iam-simulate');
    const shipped = ['bin', 'lib', 'services', 'tools', 'local', 'integ', 'bench', 'reliability'];
    const importers = shipped.flatMap((dir) =>
      readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.includes('node_modules'))
        .map((f) => join(dir, f))
        .filter((f) => readFileSync(join(PROJECT_ROOT, f), 'utf8').includes('@cloud-copilot/')),
    );
    expect(importers).toEqual([]);
  });
});

describe('CDK bootstrap stacks', () => {
  it("come from the installed CLI's template, recent enough for the synthesized stacks", () => {
    const version = Number(
      (bootstrapTemplate().Outputs as Record<string, { Value: unknown }>).BootstrapVersion?.Value,
    );
    expect(version).toBeGreaterThanOrEqual(6);
    const rule = JSON.stringify((app.pipeline.template.Rules as object | undefined) ?? {});
    expect(rule).toContain('BootstrapVersion');
    for (const scope of model.stageScopes) {
      const deploy = scope.stage?.bootstrap.find('DeploymentActionRole');
      expect(JSON.stringify(deploy?.properties.AssumeRolePolicyDocument)).toContain(
        app.config.pipeline.account,
      );
    }
  });
});
