import { processorStackName, stageId } from '../../lib/config/names.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';
import { bootstrapStack } from './bootstrap-stack.ts';
import { type ResolvedResource, type ResolvedTemplate, resolveTemplate } from './cfn-resolve.ts';
import type { DeployedApp } from './deployed-templates.ts';
import {
  type Decision,
  evaluate,
  type PolicyRequest,
  type RequestPrincipal,
  type Verdict,
} from './evaluate.ts';
import { type LabelledTemplate, type PolicyDocument, PolicyWorld, statementsOf } from './policy-world.ts';

/**
 * The flow table's vocabulary: a flow is one row of docs/security.md, one principal doing one or more actions on
 * one or more resources, with the policies that decide it and the result AWS must give. Rows are data
 * (test/security/flows.ts); every field that appears in the document is produced by the same object that the
 * evaluation uses (a `Described` value carries its label and how to find it in the templates), so the document
 * cannot say something the test does not evaluate.
 */

export type Expected = 'allowed' | 'implicitly denied' | 'explicitly denied';

/**
 * Where a flow is evaluated: `stage` once per stage against its processor stack (and its account's bootstrap
 * stack); `pipeline-to-stage` once per stage, from the pipeline (tooling account) into that stage's account;
 * `pipeline` once, inside the tooling account.
 */
export type FlowScope = 'stage' | 'pipeline-to-stage' | 'pipeline';

export type Context = Readonly<Record<string, string | readonly string[]>>;

/** A value found in the templates of a scope, with the words the document uses for it. */
export interface Described<T> {
  readonly label: string;
  readonly get: (scope: Scope) => T;
}

/** A condition key the engine cannot evaluate; the flow is asserted by hand for it (see `evaluateFlow`). */
export interface Unevaluable {
  readonly key: string;
  readonly reason: string;
}

export interface Flow {
  /** Stable, unique, kebab-case: the row's name in the document and in test output. */
  readonly id: string;
  readonly phase: 'run time' | 'deploy time';
  readonly scope: FlowScope;
  /** Only in stages whose configuration has this (AWS Backup, canary, ...). @default every stage */
  readonly when?: { readonly label: string; readonly test: (stage: StageConfig) => boolean };
  readonly principal: Described<RequestPrincipal>;
  readonly actions: readonly string[];
  readonly resource: Described<readonly string[]>;
  /** What the calling service adds to the request (aws:SourceArn, kms:ViaService, ...): one request per entry. */
  readonly context?: Described<readonly Context[]>;
  /**
   * The policies that decide, by readable name (logical ID without CDK's hash; `Role (trust)`, `Role/Inline`,
   * `aws:ManagedPolicy`), optionally `#Sid`. `{Stage}` stands for the stage's construct ID (`Dev`), `{TestStep}`
   * for its post-deploy step (`IntegrationTests`, `SmokeTest`). Checked against the engine: an allowed or
   * explicitly denied flow lists exactly the policies whose statements decided; an implicitly denied one lists
   * the policies consulted that grant nothing.
   */
  readonly decidedBy: readonly string[];
  readonly expect: Expected;
  readonly unevaluable?: Unevaluable;
}

/** Lookup of resources in one resolved template by the beginning of their logical ID. */
export class TemplateIndex {
  readonly label: string;
  readonly resolved: ResolvedTemplate;
  constructor(label: string, resolved: ResolvedTemplate) {
    this.label = label;
    this.resolved = resolved;
  }
  get account(): string {
    return this.resolved.env.account;
  }
  get region(): string {
    return this.resolved.env.region;
  }
  /** The one resource whose logical ID starts with `prefix` (and is of `type`, if given). */
  find(prefix: string, type?: string): ResolvedResource {
    const found = [...this.resolved.resources.values()].filter(
      (r) =>
        (r.logicalId === prefix || r.logicalId.startsWith(prefix)) && (type === undefined || r.type === type),
    );
    const exact = found.filter((r) => r.logicalId.replace(/[0-9A-F]{8}$/, '') === prefix);
    const match = exact.length === 1 ? exact : found;
    if (match.length !== 1 || !match[0]) {
      throw new Error(
        `${this.label}: expected one ${type ?? 'resource'} named ${prefix}*, found ${match.length}`,
      );
    }
    return match[0];
  }
  arn(prefix: string, type?: string): string {
    const r = this.find(prefix, type);
    const arn =
      r.attributes.Arn ?? r.attributes.TopicArn ?? r.attributes.AliasArn ?? r.attributes.BackupVaultArn;
    return arn ?? r.ref;
  }
  all(type: string): ResolvedResource[] {
    return [...this.resolved.resources.values()].filter((r) => r.type === type);
  }
}

export interface StageScope {
  readonly name: string;
  /** Construct ID of the stage (`Dev`): how the pipeline names its per-stage steps. */
  readonly id: string;
  /** The post-deploy step's ID: `SmokeTest` in production, `IntegrationTests` elsewhere. */
  readonly testStep: string;
  /**
   * How the pipeline names the constructs of steps that run before the stage's deploy (`{Steps}`): the stage ID,
   * plus the stack name's letters and digits in a stage with a change-set review, whose steps run between the
   * stack's change set and its execution (`ProdS3objectprocessorprodprocessor`... as CDK writes it).
   */
  readonly steps: string;
  readonly config: StageConfig;
  readonly template: TemplateIndex;
  readonly bootstrap: TemplateIndex;
}

export interface Scope {
  readonly config: AppConfig;
  readonly world: PolicyWorld;
  readonly pipeline: TemplateIndex;
  /** The tooling account's own bootstrap stack (`cdk bootstrap` without --trust). */
  readonly toolingBootstrap: TemplateIndex;
  /** The stage of a `stage` or `pipeline-to-stage` flow. */
  readonly stage?: StageScope;
  /** Every other stage. */
  readonly others: readonly StageScope[];
}

export function stageOf(scope: Scope): StageScope {
  if (!scope.stage) throw new Error('this flow needs a stage: give it scope "stage" or "pipeline-to-stage"');
  return scope.stage;
}

/** Everything the flows are evaluated against: the world and one scope per stage plus the pipeline's. */
export interface FlowModel {
  readonly world: PolicyWorld;
  readonly stageScopes: readonly Scope[];
  readonly pipelineScope: Scope;
}

/** Raw templates by label (`pipeline`, `dev`, ...): what a non-vacuity test mutates before the model is built. */
export type TemplateMutation = (label: string, template: Record<string, unknown>) => void;

/**
 * Resolves the app's templates (and the bootstrap stacks of every account, as README "Deploy" bootstraps them)
 * into one PolicyWorld. `mutate` sees a deep copy of each synthesized template first.
 */
export function buildFlowModel(app: DeployedApp, mutate?: TemplateMutation): FlowModel {
  const copy = (label: string, template: Record<string, unknown>) => {
    if (!mutate) return template;
    const clone = structuredClone(template);
    mutate(label, clone);
    return clone;
  };
  const pipeline = new TemplateIndex(
    'pipeline',
    resolveTemplate(copy('pipeline', app.pipeline.template), app.pipeline),
  );
  const tooling = app.config.pipeline.account;
  const toolingBootstrap = new TemplateIndex(
    `bootstrap:${tooling}`,
    bootstrapStack({ account: tooling, region: app.config.pipeline.region, trustedAccounts: [] }),
  );
  const stages: StageScope[] = [...app.stages.values()].map((s) => ({
    name: s.config.stageName,
    id: stageId(s.config.stageName),
    testStep: s.config.isProduction ? 'SmokeTest' : 'IntegrationTests',
    steps: s.config.changeReview.enabled
      ? `${stageId(s.config.stageName)}${processorStackName(app.config.project, s.config).replace(/[^A-Za-z0-9]/g, '')}`
      : stageId(s.config.stageName),
    config: s.config,
    template: new TemplateIndex(s.config.stageName, resolveTemplate(copy(s.config.stageName, s.template), s)),
    bootstrap: new TemplateIndex(
      `bootstrap:${s.account}`,
      bootstrapStack({ account: s.account, region: s.region, trustedAccounts: [tooling] }),
    ),
  }));
  const templates: LabelledTemplate[] = [
    pipeline,
    toolingBootstrap,
    ...stages.flatMap((s) => [s.template, s.bootstrap]),
  ];
  const world = new PolicyWorld(uniqueByLabel(templates));
  const scope = (stage?: StageScope): Scope => ({
    config: app.config,
    world,
    pipeline,
    toolingBootstrap,
    stage,
    others: stages.filter((s) => s !== stage),
  });
  return { world, stageScopes: stages.map(scope), pipelineScope: scope() };
}

/** Two stages in one account share its bootstrap stack. */
function uniqueByLabel(templates: readonly LabelledTemplate[]): LabelledTemplate[] {
  return [...new Map(templates.map((t) => [t.label, t])).values()];
}

/** One evaluated request of a flow. */
export interface FlowOutcome {
  readonly flow: Flow;
  /** `dev`, `staging`, `prod` or `pipeline`. */
  readonly scope: string;
  readonly request: PolicyRequest;
  readonly decision: Decision;
  readonly verdict: Verdict;
  /** Policies the evaluation consulted (identity policies of the principal, the resource's policy). */
  readonly consulted: readonly string[];
  /** The resource policy consulted, if any (what `{ResourcePolicy}` in `decidedBy` stands for). */
  readonly resourcePolicy?: string;
  /** The flow's `decidedBy` with its placeholders filled in for this scope and request. */
  readonly declared: readonly string[];
  /** `template/logicalId` of the principal's role and of the resource's policy (or the assumed role). */
  readonly touched: readonly string[];
  /** What the hand assertion of an unevaluable condition found, if the flow has one. */
  readonly handChecked?: string;
}

export const expectedDecision: Record<Expected, Decision> = {
  allowed: 'Allowed',
  'implicitly denied': 'ImplicitlyDenied',
  'explicitly denied': 'ExplicitlyDenied',
};

/** The scopes a flow is evaluated in, named. */
export function scopesOf(flow: Flow, model: FlowModel): Array<{ name: string; scope: Scope }> {
  if (flow.scope === 'pipeline') return [{ name: 'pipeline', scope: model.pipelineScope }];
  return model.stageScopes
    .filter((s) => flow.when === undefined || flow.when.test(stageOf(s).config))
    .map((s) => ({ name: stageOf(s).name, scope: s }));
}

/** `{Stage}` and `{TestStep}` in a policy name, for this scope. */
export function policyNameIn(name: string, scope: Scope): string {
  if (!name.includes('{')) return name;
  const stage = stageOf(scope);
  return name
    .replaceAll('{Steps}', stage.steps)
    .replaceAll('{Stage}', stage.id)
    .replaceAll('{TestStep}', stage.testStep);
}

const cache = new Map<string, Verdict>();

/**
 * Evaluates every request of a flow in one scope. Verdicts are cached by the request and the exact policies it
 * consults, so a non-vacuity test that mutates one policy re-evaluates only the requests that policy decides.
 */
export async function evaluateFlow(flow: Flow, name: string, scope: Scope): Promise<FlowOutcome[]> {
  const principal = flow.principal.get(scope);
  const contexts = flow.context?.get(scope) ?? [{}];
  const outcomes: FlowOutcome[] = [];
  for (const resource of flow.resource.get(scope)) {
    for (const action of flow.actions) {
      for (const context of contexts) {
        const request: PolicyRequest = {
          principal,
          action,
          resource,
          context,
          ...(flow.unevaluable ? { unevaluableKeys: [flow.unevaluable.key] } : {}),
        };
        const role = principal.kind === 'role' ? scope.world.role(principal.arn) : undefined;
        const identity = role?.identityPolicies ?? [];
        const resourcePolicy = resource === '*' ? undefined : scope.world.resourcePolicyFor(resource, action);
        const consulted = [...identity, ...(resourcePolicy ? [resourcePolicy] : [])];
        const key = JSON.stringify([request, consulted.map((p) => p.policy)]);
        let verdict = cache.get(key);
        if (!verdict) {
          verdict = await evaluate(scope.world, request);
          cache.set(key, verdict);
        }
        let decision = verdict.decision;
        let handChecked: string | undefined;
        if (flow.unevaluable) {
          const checked = checkByHand(flow.unevaluable, request, consulted, verdict);
          decision = checked.decision;
          handChecked = checked.note;
        }
        const declared = flow.decidedBy.map((d) =>
          policyNameIn(
            d.replaceAll('{ResourcePolicy}', resourcePolicy?.name ?? '(no resource policy)'),
            scope,
          ),
        );
        outcomes.push({
          flow,
          scope: name,
          request,
          decision,
          verdict,
          consulted: consulted.map((p) => p.name),
          ...(resourcePolicy ? { resourcePolicy: resourcePolicy.name } : {}),
          declared,
          touched: [
            ...(role ? [`${role.template}/${role.logicalId}`] : []),
            ...(resourcePolicy ? [`${resourcePolicy.template}/${resourcePolicy.logicalId}`] : []),
          ],
          ...(handChecked ? { handChecked } : {}),
        });
      }
    }
  }
  return outcomes;
}

/**
 * The engine drops condition keys it does not know for an action (kms:EncryptionContext:* among them): it would
 * evaluate such a statement as if its condition were unmet. The flow's request is therefore evaluated by the
 * engine with that key removed from every policy, and the statements that carry it are checked here, by the
 * operator and value the statement states against the value the flow supplies. An allow that rests only on such
 * statements stands only if their condition holds.
 */
function checkByHand(
  unevaluable: Unevaluable,
  request: PolicyRequest,
  consulted: ReadonlyArray<{ name: string; policy: PolicyDocument }>,
  verdict: Verdict,
): { decision: Decision; note: string } {
  const value = request.context?.[unevaluable.key];
  if (typeof value !== 'string')
    throw new Error(`the flow must supply ${unevaluable.key} for the hand check`);
  const carrying = consulted.flatMap((p) =>
    statementsOf(p.policy)
      .filter((s) => Object.values(s.Condition ?? {}).some((byKey) => unevaluable.key in byKey))
      .map((s) => ({ policy: p.name, statement: s })),
  );
  if (carrying.length === 0) {
    return { decision: verdict.decision, note: `no consulted statement uses ${unevaluable.key}` };
  }
  for (const { policy, statement } of carrying) {
    if (statement.Effect !== 'Allow')
      throw new Error(`${policy}: a Deny on ${unevaluable.key} is not hand-checked`);
    if (!statement.Sid)
      throw new Error(`${policy}: a statement on ${unevaluable.key} needs a Sid to be hand-checked`);
  }
  const holds = (s: (typeof carrying)[number]) =>
    Object.entries(s.statement.Condition ?? {}).every(([operator, byKey]) =>
      unevaluable.key in byKey ? conditionHolds(operator, byKey[unevaluable.key], value) : true,
    );
  const labels = new Set(carrying.map((c) => `${c.policy}#${c.statement.Sid}`));
  const restsOnCarrying = verdict.decision === 'Allowed' && verdict.decisive.every((d) => labels.has(d));
  const anyHolds = carrying.some(holds);
  const decision: Decision = restsOnCarrying && !anyHolds ? 'ImplicitlyDenied' : verdict.decision;
  return {
    decision,
    note: `${unevaluable.key} = ${value} checked by hand against ${[...labels].join(', ')}: ${anyHolds ? 'holds' : 'does not hold'}`,
  };
}

/** The condition operators the hand check understands (string and ARN matching with `*` and `?`). */
function conditionHolds(operator: string, expected: unknown, actual: string): boolean {
  const values = (Array.isArray(expected) ? expected : [expected]).map(String);
  switch (operator) {
    case 'StringEquals':
    case 'ArnEquals':
      return values.includes(actual);
    case 'StringLike':
    case 'ArnLike':
      return values.some((pattern) => globMatches(pattern, actual));
    default:
      throw new Error(`the hand check does not know condition operator ${operator}`);
  }
}

export function globMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${regex}$`).test(value);
}
