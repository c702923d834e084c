import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { NamedPolicy, PolicyDocument, PolicyWorld, Statement } from './policy-world.ts';
import { statementsOf } from './policy-world.ts';

/**
 * One request, evaluated by @cloud-copilot/iam-simulate (identity, resource, key and trust policies, same- and
 * cross-account, service principals) against the policies a PolicyWorld holds.
 *
 * The engine only knows the request context it is given. The keys AWS sets on every request of this kind are
 * filled in here, once (`requestContext`): principal ARN, account and type, TLS, the resource's account for S3,
 * the caller's account for KMS, the tags of a role being assumed. Everything a service adds on behalf of a caller (aws:SourceArn, kms:ViaService,
 * kms:GrantIsForAWSResource, ...) is the flow's to state, because that is what the flow claims happens.
 */

export type RequestPrincipal =
  | { readonly kind: 'role'; readonly arn: string }
  | { readonly kind: 'service'; readonly service: string };

export interface PolicyRequest {
  readonly principal: RequestPrincipal;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * Condition keys the engine cannot evaluate: they are removed from the policies before evaluation. The caller
   * must assert the statements that use them by other means (see `statementsWithConditionKey`).
   */
  readonly unevaluableKeys?: readonly string[];
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface Verdict {
  readonly decision: Decision;
  /** Statements that decided: the allows of an allowed request, the denies of a denied one (`Policy#Sid|#n`). */
  readonly decisive: readonly string[];
  /** Context keys the engine dropped because they do not apply to the action (a wrong key in a flow). */
  readonly ignoredContextKeys: readonly string[];
}

/** The account of the request's resource; `*` (actions without resource-level permissions) is the caller's. */
function resourceAccountOf(world: PolicyWorld, request: PolicyRequest): string {
  if (request.resource !== '*') return world.accountOf(request.resource);
  if (request.principal.kind !== 'role') throw new Error(`${request.action} on * needs a role as principal`);
  return world.role(request.principal.arn).account;
}

/** The request context AWS sets by itself for this principal, action and resource. */
export function requestContext(
  world: PolicyWorld,
  request: PolicyRequest,
): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = { 'aws:SecureTransport': 'true' };
  const resourceAccount = resourceAccountOf(world, request);
  const service = request.action.split(':')[0]?.toLowerCase();
  if (request.principal.kind === 'role') {
    const role = world.role(request.principal.arn);
    context['aws:PrincipalArn'] = role.arn;
    context['aws:PrincipalAccount'] = role.account;
    context['aws:PrincipalType'] = 'AssumedRole';
    context['aws:PrincipalIsAWSService'] = 'false';
    if (service === 'kms') context['kms:CallerAccount'] = role.account;
  } else {
    context['aws:PrincipalIsAWSService'] = 'true';
    context['aws:PrincipalServiceName'] = request.principal.service;
  }
  if (service === 's3') context['s3:ResourceAccount'] = resourceAccount;
  if (service === 'sts') {
    for (const [key, value] of Object.entries(world.role(request.resource).tags)) {
      context[`iam:ResourceTag/${key}`] = value;
      context[`aws:ResourceTag/${key}`] = value;
    }
  }
  context['aws:ResourceAccount'] = resourceAccount;
  return { ...context, ...(request.context as Record<string, string | string[]>) };
}

/** A role's session as the engine sees the caller of a request. */
const sessionOf = (roleArn: string) => {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!m) throw new Error(`not a role ARN: ${roleArn}`);
  return `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/flow-evaluation`;
};

export async function evaluate(world: PolicyWorld, request: PolicyRequest): Promise<Verdict> {
  const strip = (p: NamedPolicy): NamedPolicy => ({
    name: p.name,
    policy: withoutConditionKeys(p.policy, request.unevaluableKeys ?? []),
  });
  const identity =
    request.principal.kind === 'role' ? world.role(request.principal.arn).identityPolicies.map(strip) : [];
  const resourcePolicy =
    request.resource === '*' ? undefined : world.resourcePolicyFor(request.resource, request.action);
  const resource = resourcePolicy ? strip(resourcePolicy) : undefined;
  const result = await runSimulation(
    {
      request: {
        principal:
          request.principal.kind === 'role' ? sessionOf(request.principal.arn) : request.principal.service,
        action: request.action,
        resource: { resource: request.resource, accountId: resourceAccountOf(world, request) },
        contextVariables: requestContext(world, request),
      },
      identityPolicies: identity.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resource ? { resourcePolicy: resource.policy } : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(
      `the engine refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`,
    );
  }
  const single = result.resultType === 'single' ? result.result : result.results[0];
  if (!single) throw new Error(`the engine returned no result for ${request.action} on ${request.resource}`);
  const analysis = single.analysis;
  const label = (policyName: string, s: { sid(): string | undefined; index(): number }) =>
    `${policyName}#${s.sid() ?? s.index()}`;
  const fromIdentity = (kind: 'allowStatements' | 'denyStatements') =>
    (analysis.identityAnalysis?.[kind] ?? []).map((s) => label(s.policyId, s.statement));
  const fromResource = (kind: 'allowStatements' | 'denyStatements') =>
    (analysis.resourceAnalysis?.[kind] ?? []).map((s) => label(resource?.name ?? 'resource', s.statement));
  const decision = result.overallResult;
  const decisive =
    decision === 'Allowed'
      ? [...fromIdentity('allowStatements'), ...fromResource('allowStatements')]
      : decision === 'ExplicitlyDenied'
        ? [...fromIdentity('denyStatements'), ...fromResource('denyStatements')]
        : [];
  return {
    decision,
    decisive: [...new Set(decisive)].sort(),
    ignoredContextKeys: single.ignoredContextKeys ?? [],
  };
}

/** The statements of `policy` whose conditions use `key`. */
export function statementsWithConditionKey(policy: PolicyDocument, key: string): Statement[] {
  return statementsOf(policy).filter((s) =>
    Object.values(s.Condition ?? {}).some((byKey) => Object.keys(byKey).includes(key)),
  );
}

function withoutConditionKeys(policy: PolicyDocument, keys: readonly string[]): PolicyDocument {
  if (keys.length === 0) return policy;
  return {
    ...policy,
    Statement: statementsOf(policy).map((s) => {
      if (!s.Condition) return s;
      const condition = Object.fromEntries(
        Object.entries(s.Condition)
          .map(([op, byKey]) => [
            op,
            Object.fromEntries(Object.entries(byKey).filter(([k]) => !keys.includes(k))),
          ])
          .filter(([, byKey]) => Object.keys(byKey as object).length > 0),
      );
      const { Condition: _, ...rest } = s;
      return Object.keys(condition).length > 0 ? { ...rest, Condition: condition } : rest;
    }),
  };
}
