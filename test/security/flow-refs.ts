import { BOOTSTRAP_ROLES, type BootstrapRole } from './bootstrap-stack.ts';
import type { RequestPrincipal } from './evaluate.ts';
import {
  type Context,
  type Described,
  type Scope,
  type StageScope,
  stageOf,
  type TemplateIndex,
} from './flow-model.ts';

/**
 * The words a flow row is written in. Each helper returns a `Described` value: the label the document prints and
 * the lookup the evaluation runs, made by the same call, so they cannot disagree. Logical IDs are given without
 * CDK's hash (`ProcessorObjectsBucket`); `{Stage}` / `{TestStep}` / `{Steps}` in a pipeline ID stand for the stage's step
 * names (see flow-model.ts).
 */

const described = <T>(label: string, get: (scope: Scope) => T): Described<T> => ({ label, get });

const stageName = (id: string, scope: Scope) => {
  const stage = stageOf(scope);
  return id
    .replaceAll('{Steps}', stage.steps)
    .replaceAll('{Stage}', stage.id)
    .replaceAll('{TestStep}', stage.testStep);
};

// Principals ------------------------------------------------------------------------------------------------

export const service = (name: string): Described<RequestPrincipal> =>
  described(`\`${name}\``, () => ({ kind: 'service', service: name }));

/** A regional service principal (`logs.<region>.amazonaws.com`). */
export const regionalService = (prefix: string, where: 'stage' | 'pipeline'): Described<RequestPrincipal> =>
  described(`\`${prefix}.<region>.amazonaws.com\``, (s) => ({
    kind: 'service',
    service: `${prefix}.${(where === 'stage' ? stageOf(s).template : s.pipeline).region}.amazonaws.com`,
  }));

const roleIn = (index: TemplateIndex, id: string): RequestPrincipal => ({
  kind: 'role',
  arn: index.arn(id, 'AWS::IAM::Role'),
});

/** A role of the stage's processor stack. */
export const stageRole = (id: string, label: string): Described<RequestPrincipal> =>
  described(`${label} (\`${id}\`)`, (s) => roleIn(stageOf(s).template, id));

/** A role of the pipeline stack (tooling account). */
export const pipelineRole = (id: string, label: string): Described<RequestPrincipal> =>
  described(`${label} (\`${id}\`)`, (s) => roleIn(s.pipeline, id.includes('{') ? stageName(id, s) : id));

/** A CDK bootstrap role of the stage's account, or of the tooling account. */
export const bootstrapRole = (
  role: BootstrapRole,
  account: 'stage' | 'tooling' = 'stage',
): Described<RequestPrincipal> =>
  described(`${account === 'stage' ? 'stage' : 'tooling'} account's bootstrap ${role} role`, (s) =>
    roleIn(account === 'stage' ? stageOf(s).bootstrap : s.toolingBootstrap, BOOTSTRAP_ROLES[role]),
  );

// Resources -------------------------------------------------------------------------------------------------

export interface ResourceOptions {
  /** Appended to the ARN: an object key (`/integ-tests/x`), a log stream. */
  readonly suffix?: string | ((stage: StageScope) => string);
  readonly type?: string;
}

const arnIn = (index: TemplateIndex, id: string, o: ResourceOptions, stage?: StageScope) => {
  const suffix = typeof o.suffix === 'function' ? (stage ? o.suffix(stage) : '') : (o.suffix ?? '');
  return `${index.arn(id, o.type)}${suffix}`;
};

/** A resource of the stage's processor stack. */
export const stageResource = (id: string, label: string, o: ResourceOptions = {}): Described<string[]> =>
  described(label, (s) => [arnIn(stageOf(s).template, id, o, stageOf(s))]);

/** The same resource in every other stage (another account). */
export const otherStagesResource = (
  id: string,
  label: string,
  o: ResourceOptions = {},
): Described<string[]> =>
  described(label, (s) => s.others.map((other) => arnIn(other.template, id, o, other)));

/** A resource of the stage's processor stack and the same resource of every other stage. */
export const resources = (...parts: Described<string[]>[]): Described<string[]> =>
  described(parts.map((p) => p.label).join('; '), (s) => parts.flatMap((p) => p.get(s)));

/** Every resource of a type in the stage's processor stack, or in the pipeline stack. */
export const everyOfType = (
  type: string,
  label: string,
  where: 'stage' | 'pipeline',
  suffix = '',
): Described<string[]> =>
  described(label, (s) => {
    const index = where === 'stage' ? stageOf(s).template : s.pipeline;
    const found = index.all(type).map((r) => `${index.arn(r.logicalId, type)}${suffix}`);
    if (found.length === 0) throw new Error(`${index.label}: no ${type}`);
    return found;
  });

/** A resource of the pipeline stack; `{Stage}` / `{TestStep}` are the flow's stage. */
export const pipelineResource = (id: string, label: string, o: ResourceOptions = {}): Described<string[]> =>
  described(label, (s) => [arnIn(s.pipeline, id.includes('{') ? stageName(id, s) : id, o)]);

/** A role of the stage's (or every other stage's) bootstrap stack, as a resource (to assume, to pass). */
export const bootstrapRoleResource = (
  role: BootstrapRole,
  whose: 'stage' | 'other stages' | 'tooling' = 'stage',
): Described<string[]> =>
  described(
    `${whose === 'stage' ? "the stage account's" : whose === 'tooling' ? "the tooling account's" : "every other stage account's"} bootstrap ${role} role`,
    (s) => {
      const id = BOOTSTRAP_ROLES[role];
      if (whose === 'tooling') return [s.toolingBootstrap.arn(id)];
      return whose === 'stage' ? [stageOf(s).bootstrap.arn(id)] : s.others.map((o) => o.bootstrap.arn(id));
    },
  );

/** A resource of the stage account's bootstrap stack (staging bucket, assets key). */
export const bootstrapResource = (id: string, label: string, o: ResourceOptions = {}): Described<string[]> =>
  described(label, (s) => [arnIn(stageOf(s).bootstrap, id, o, stageOf(s))]);

/** A role of the pipeline stack as the resource of sts:AssumeRole, for each ID. */
export const pipelineRoles = (ids: readonly string[], label: string): Described<string[]> =>
  described(label, (s) => ids.map((id) => s.pipeline.arn(id, 'AWS::IAM::Role')));

/** The stage's processor stack itself (CloudFormation actions). */
export const stageStack = (): Described<string[]> =>
  described("the stage's processor stack", (s) => {
    const { env } = stageOf(s).template.resolved;
    return [`arn:${env.partition}:cloudformation:${env.region}:${env.account}:stack/${env.stackName}/*`];
  });

/** A literal resource. */
export const literal = (label: string, get: (scope: Scope) => string): Described<string[]> =>
  described(label, (s) => [get(s)]);

// Request context -------------------------------------------------------------------------------------------

/** One request context (what the calling service adds). */
export const context = (label: string, get: (scope: Scope) => Context): Described<Context[]> =>
  described(label, (s) => [get(s)]);

/** Several request contexts, each evaluated. */
export const contexts = (label: string, get: (scope: Scope) => Context[]): Described<Context[]> =>
  described(label, get);

/** Every listed context together (their keys merged). */
export const allOf = (...parts: Described<Context[]>[]): Described<Context[]> =>
  described(parts.map((p) => p.label).join(', '), (s) => {
    let merged: Context[] = [{}];
    for (const part of parts) {
      const next = part.get(s);
      merged = merged.flatMap((m) => next.map((n) => ({ ...m, ...n })));
    }
    return merged;
  });

/** kms:ViaService of a KMS call a service makes for the caller. */
export const via = (service: string, where: 'stage' | 'pipeline' = 'stage'): Described<Context[]> =>
  context(`kms:ViaService = ${service}`, (s) => ({
    'kms:ViaService': `${service}.${(where === 'stage' ? stageOf(s).template : s.pipeline).region}.amazonaws.com`,
  }));

/** One request per service, each with that service's kms:ViaService. */
export const viaEach = (
  services: readonly string[],
  where: 'stage' | 'pipeline' = 'stage',
): Described<Context[]> =>
  described(`kms:ViaService = each of ${services.join(', ')}`, (s) =>
    services.flatMap((service) => via(service, where).get(s)),
  );

/** aws:SourceArn / aws:SourceAccount of a service acting for a resource of the stage's stack. */
export const fromStageResource = (id: string, label: string, type?: string): Described<Context[]> =>
  context(`aws:SourceArn = ${label}, aws:SourceAccount = the stage's`, (s) => {
    const stage = stageOf(s);
    return { 'aws:SourceArn': stage.template.arn(id, type), 'aws:SourceAccount': stage.template.account };
  });

/** The same, for that resource in another stage's account (a confused deputy). */
export const fromOtherStageResource = (id: string, label: string, type?: string): Described<Context[]> =>
  contexts(`aws:SourceArn = ${label} of another stage, aws:SourceAccount = that stage's`, (s) =>
    s.others.map((o) => ({
      'aws:SourceArn': o.template.arn(id, type),
      'aws:SourceAccount': o.template.account,
    })),
  );

/** A request without TLS. */
export const withoutTls = (): Described<Context[]> =>
  context('aws:SecureTransport = false', () => ({ 'aws:SecureTransport': 'false' }));

/** kms:GrantIsForAWSResource as KMS sets it: true when an AWS service creates the grant; `undefined`: absent. */
export const grantForAwsResource = (forAws: boolean | undefined): Described<Context[]> =>
  context(
    forAws === undefined ? 'no kms:GrantIsForAWSResource' : `kms:GrantIsForAWSResource = ${forAws}`,
    (): Context => (forAws === undefined ? {} : { 'kms:GrantIsForAWSResource': String(forAws) }),
  );

/** Two alternatives, both evaluated (e.g. a key set to false, and the key missing). */
export const either = (...parts: Described<Context[]>[]): Described<Context[]> =>
  described(parts.map((p) => p.label).join(' or '), (s) => parts.flatMap((p) => p.get(s)));

/** A log stream of a log group of the stage's (or the pipeline's) stack, as logs:PutLogEvents addresses it. */
export const logStreamOf = (
  id: string,
  label: string,
  where: 'stage' | 'pipeline' = 'stage',
): Described<string[]> =>
  described(label, (s) => [
    `${logGroupArn(where === 'stage' ? stageOf(s).template : s.pipeline, id)}:log-stream:flow-evaluation`,
  ]);

/** A log group's ARN without the `:*` CloudFormation appends (what CloudWatch Logs puts in an encryption context). */
export function logGroupArn(index: TemplateIndex, id: string): string {
  return index.arn(id, 'AWS::Logs::LogGroup').replace(/:\*$/, '');
}
