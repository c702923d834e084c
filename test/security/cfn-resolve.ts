import { createHash } from 'node:crypto';

/**
 * Resolves the CloudFormation intrinsics of a synthesized template to the literal values AWS would hold after the
 * deploy, so that a policy engine evaluates the policies with real ARNs: `Ref`, `Fn::GetAtt`, `Fn::Join`,
 * `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::If` (with the template's `Conditions`), `Fn::ImportValue` and the
 * pseudo parameters. Names that CloudFormation generates are made up the way CloudFormation makes them (stack name
 * and logical ID), deterministic so that a failing test names the same resource on every run.
 *
 * Hand-written because no maintained offline library resolves intrinsics to plausible physical values (cfn-lint
 * and the CDK assertions read templates, they do not deploy them). It throws on anything it does not know, so a
 * new resource type or intrinsic in the templates fails loudly here instead of resolving to a wrong ARN.
 */

export interface StackEnvironment {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** Values of the template's parameters; a parameter without one takes its `Default`. */
  readonly parameters?: Readonly<Record<string, string | readonly string[]>>;
  /** Exported values `Fn::ImportValue` may read. */
  readonly imports?: Readonly<Record<string, string>>;
}

export interface ResolvedResource {
  readonly logicalId: string;
  readonly type: string;
  /** Properties with every intrinsic resolved (and resources whose `Condition` is false left out). */
  readonly properties: Record<string, unknown>;
  /** What `Ref` returns. */
  readonly ref: string;
  /** What `Fn::GetAtt` returns, by attribute name. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResolvedTemplate {
  readonly env: Required<Pick<StackEnvironment, 'account' | 'region' | 'stackName' | 'partition'>>;
  readonly resources: ReadonlyMap<string, ResolvedResource>;
}

interface CfnTemplate {
  readonly Parameters?: Record<string, { readonly Default?: unknown; readonly Type?: string }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources?: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown>; readonly Condition?: string }
  >;
}

/** A removed value (`AWS::NoValue`, or the false branch of `Fn::If` that holds it). */
const NO_VALUE = Symbol('AWS::NoValue');
export const URL_SUFFIX = 'amazonaws.com';

/** How each resource type is named and addressed once deployed. `name` is its physical name. */
interface Identity {
  readonly nameProperty?: string;
  /** How a generated name is shaped (length limit, lower case, or an ID instead of a name). */
  readonly generatedName?: (raw: string) => string;
  readonly ref: (name: string, a: Arn) => string;
  readonly attributes: (name: string, a: Arn) => Record<string, string>;
}
interface Arn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly properties: Record<string, unknown>;
}

const lambdaArn = (a: Arn, name: string) =>
  `arn:${a.partition}:lambda:${a.region}:${a.account}:function:${name}`;

const IDENTITIES: Record<string, Identity> = {
  'AWS::S3::Bucket': {
    nameProperty: 'BucketName',
    generatedName: (raw) => uniqueName(raw, 63).toLowerCase(),
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:s3:::${name}`,
      DomainName: `${name}.s3.${URL_SUFFIX}`,
      RegionalDomainName: `${name}.s3.${a.region}.${URL_SUFFIX}`,
    }),
  },
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    generatedName: (raw) => uniqueName(raw, 80),
    ref: (name, a) => `https://sqs.${a.region}.${URL_SUFFIX}/${a.account}/${name}`,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:sqs:${a.region}:${a.account}:${name}`,
      QueueName: name,
      QueueUrl: `https://sqs.${a.region}.${URL_SUFFIX}/${a.account}/${name}`,
    }),
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    ref: (name, a) => `arn:${a.partition}:sns:${a.region}:${a.account}:${name}`,
    attributes: (name, a) => ({
      TopicArn: `arn:${a.partition}:sns:${a.region}:${a.account}:${name}`,
      TopicName: name,
    }),
  },
  'AWS::KMS::Key': {
    // Key IDs are UUIDs; derived from the logical ID and account so they are stable and unique per stage.
    generatedName: (raw) => uuidOf(raw),
    ref: (id) => id,
    attributes: (id, a) => ({ Arn: `arn:${a.partition}:kms:${a.region}:${a.account}:key/${id}`, KeyId: id }),
  },
  'AWS::KMS::Alias': {
    nameProperty: 'AliasName',
    ref: (name) => name,
    attributes: () => ({}),
  },
  'AWS::DynamoDB::Table': {
    nameProperty: 'TableName',
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:dynamodb:${a.region}:${a.account}:table/${name}`,
      StreamArn: `arn:${a.partition}:dynamodb:${a.region}:${a.account}:table/${name}/stream/1970-01-01T00:00:00.000`,
    }),
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    generatedName: (raw) => uniqueName(raw, 64),
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:iam::${a.account}:role${String(a.properties.Path ?? '/')}${name}`,
      RoleId: `AROA${uuidOf(name).replaceAll('-', '').slice(0, 17).toUpperCase()}`,
    }),
  },
  'AWS::IAM::ManagedPolicy': {
    nameProperty: 'ManagedPolicyName',
    generatedName: (raw) => uniqueName(raw, 128),
    ref: (name, a) => `arn:${a.partition}:iam::${a.account}:policy${String(a.properties.Path ?? '/')}${name}`,
    attributes: (name, a) => ({
      PolicyArn: `arn:${a.partition}:iam::${a.account}:policy${String(a.properties.Path ?? '/')}${name}`,
    }),
  },
  'AWS::IAM::Policy': { nameProperty: 'PolicyName', ref: (name) => name, attributes: () => ({}) },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:logs:${a.region}:${a.account}:log-group:${name}:*`,
    }),
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    generatedName: (raw) => uniqueName(raw, 64),
    ref: (name) => name,
    attributes: (name, a) => ({ Arn: lambdaArn(a, name) }),
  },
  'AWS::Lambda::Version': {
    // The function's name is not a property of the version; the version is addressed as <function ARN>:<n>.
    ref: (_name, a) => `${lambdaArn(a, String(a.properties.FunctionName))}:1`,
    attributes: (_name, a) => ({
      Version: '1',
      FunctionArn: lambdaArn(a, String(a.properties.FunctionName)),
    }),
  },
  'AWS::Lambda::Alias': {
    ref: (_name, a) => `${lambdaArn(a, String(a.properties.FunctionName))}:${String(a.properties.Name)}`,
    attributes: (_name, a) => ({
      AliasArn: `${lambdaArn(a, String(a.properties.FunctionName))}:${String(a.properties.Name)}`,
    }),
  },
  'AWS::CodeBuild::Project': {
    nameProperty: 'Name',
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:codebuild:${a.region}:${a.account}:project/${name}`,
    }),
  },
  'AWS::CodePipeline::Pipeline': { nameProperty: 'Name', ref: (name) => name, attributes: () => ({}) },
  'AWS::CloudWatch::Alarm': {
    nameProperty: 'AlarmName',
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:cloudwatch:${a.region}:${a.account}:alarm:${name}`,
    }),
  },
  'AWS::CloudWatch::CompositeAlarm': {
    nameProperty: 'AlarmName',
    ref: (name) => name,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:cloudwatch:${a.region}:${a.account}:alarm:${name}`,
    }),
  },
  'AWS::Backup::BackupVault': {
    nameProperty: 'BackupVaultName',
    ref: (name) => name,
    attributes: (name, a) => ({
      BackupVaultName: name,
      BackupVaultArn: `arn:${a.partition}:backup:${a.region}:${a.account}:backup-vault:${name}`,
    }),
  },
  'AWS::Backup::BackupPlan': {
    generatedName: (raw) => uuidOf(raw),
    ref: (id) => id,
    attributes: (id, a) => ({
      BackupPlanId: id,
      BackupPlanArn: `arn:${a.partition}:backup:${a.region}:${a.account}:backup-plan:${id}`,
    }),
  },
  'AWS::StepFunctions::StateMachine': {
    nameProperty: 'StateMachineName',
    ref: (name, a) => `arn:${a.partition}:states:${a.region}:${a.account}:stateMachine:${name}`,
    attributes: (name, a) => ({
      Arn: `arn:${a.partition}:states:${a.region}:${a.account}:stateMachine:${name}`,
      Name: name,
    }),
  },
  'AWS::CodeDeploy::Application': { nameProperty: 'ApplicationName', ref: (n) => n, attributes: () => ({}) },
  'AWS::CodeDeploy::DeploymentConfig': {
    nameProperty: 'DeploymentConfigName',
    ref: (n) => n,
    attributes: () => ({}),
  },
  'AWS::SSM::Parameter': { nameProperty: 'Name', ref: (n) => n, attributes: () => ({}) },
  'AWS::ECR::Repository': {
    nameProperty: 'RepositoryName',
    ref: (n) => n,
    attributes: (name, a) => ({ Arn: `arn:${a.partition}:ecr:${a.region}:${a.account}:repository/${name}` }),
  },
};

/**
 * A generated physical name as CloudFormation makes one: `<stack>-<logical ID>` cut to the limit, then a suffix
 * that keeps two long names with the same beginning apart.
 */
function uniqueName(raw: string, limit: number): string {
  const suffix = createHash('sha256').update(raw).digest('hex').slice(0, 12).toUpperCase();
  return `${raw.slice(0, limit - suffix.length - 1)}-${suffix}`;
}

/** A UUID-shaped, deterministic identifier. */
function uuidOf(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Resolves every resource of `template` as deployed in `environment`. */
export function resolveTemplate(template: unknown, environment: StackEnvironment): ResolvedTemplate {
  const t = template as CfnTemplate;
  const env = { partition: 'aws', ...environment };
  const resources = t.Resources ?? {};
  const pseudo: Record<string, string | typeof NO_VALUE> = {
    'AWS::AccountId': env.account,
    'AWS::Region': env.region,
    'AWS::Partition': env.partition,
    'AWS::URLSuffix': URL_SUFFIX,
    'AWS::StackName': env.stackName,
    'AWS::StackId': `arn:${env.partition}:cloudformation:${env.region}:${env.account}:stack/${env.stackName}/${uuidOf(env.stackName)}`,
    'AWS::NoValue': NO_VALUE,
  };
  const parameter = (name: string): string | readonly string[] | undefined => {
    const declared = t.Parameters?.[name];
    if (!declared) return undefined;
    const given = env.parameters?.[name] ?? declared.Default;
    if (given === undefined)
      throw new Error(`${env.stackName}: parameter ${name} has no value and no Default`);
    if (declared.Type === 'CommaDelimitedList' && typeof given === 'string') {
      return given === '' ? [''] : given.split(',');
    }
    return given as string | readonly string[];
  };

  const conditionCache = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    const cached = conditionCache.get(name);
    if (cached !== undefined) return cached;
    const expression = t.Conditions?.[name];
    if (expression === undefined) throw new Error(`${env.stackName}: unknown condition ${name}`);
    const value = resolveValue(expression);
    if (typeof value !== 'boolean') throw new Error(`${env.stackName}: condition ${name} is not a boolean`);
    conditionCache.set(name, value);
    return value;
  };

  const identities = new Map<string, { ref: string; attributes: Record<string, string> }>();
  const resolving = new Set<string>();
  const identityOf = (logicalId: string) => {
    const known = identities.get(logicalId);
    if (known) return known;
    const resource = resources[logicalId];
    if (!resource) throw new Error(`${env.stackName}: no resource ${logicalId}`);
    const identity = IDENTITIES[resource.Type];
    if (!identity) {
      throw new Error(
        `${env.stackName}: ${logicalId} is a ${resource.Type}, which cfn-resolve.ts cannot address`,
      );
    }
    if (resolving.has(logicalId)) throw new Error(`${env.stackName}: ${logicalId} references itself`);
    resolving.add(logicalId);
    // Only the properties an identity reads are resolved here, so a resource may reference its own attributes.
    const properties: Record<string, unknown> = {};
    for (const key of [identity.nameProperty, 'Path', 'FunctionName', 'Name']) {
      const raw = key === undefined ? undefined : resource.Properties?.[key];
      if (key !== undefined && raw !== undefined) properties[key] = resolveValue(raw);
    }
    resolving.delete(logicalId);
    const explicit = identity.nameProperty === undefined ? undefined : properties[identity.nameProperty];
    // The account is part of the seed: the same stack in two accounts gets two names, as with CloudFormation.
    const seed = `${env.stackName}-${logicalId}-${env.account}`;
    const name =
      typeof explicit === 'string'
        ? explicit
        : (identity.generatedName?.(seed) ?? `${env.stackName}-${logicalId}`);
    const arn: Arn = { partition: env.partition, region: env.region, account: env.account, properties };
    const resolved = { ref: identity.ref(name, arn), attributes: identity.attributes(name, arn) };
    identities.set(logicalId, resolved);
    return resolved;
  };

  const ref = (name: string): unknown => {
    if (name in pseudo) return pseudo[name];
    const p = parameter(name);
    if (p !== undefined) return p;
    return identityOf(name).ref;
  };
  const getAtt = (logicalId: string, attribute: string): string => {
    const value = identityOf(logicalId).attributes[attribute];
    if (value === undefined) {
      throw new Error(
        `${env.stackName}: Fn::GetAtt ${logicalId}.${attribute} is not modelled in cfn-resolve.ts`,
      );
    }
    return value;
  };
  const sub = (text: string, variables: Record<string, unknown>): string =>
    text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (name in variables) return asText(variables[name]);
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) return getAtt(name.slice(0, dot), name.slice(dot + 1));
      return asText(ref(name));
    });
  const asText = (value: unknown): string => {
    if (typeof value === 'string') return value;
    throw new Error(`${env.stackName}: expected a string, got ${JSON.stringify(value)}`);
  };

  function resolveValue(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolveValue).filter((v) => v !== NO_VALUE);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (
      entries.length === 1 &&
      first &&
      (first[0] === 'Ref' || first[0].startsWith('Fn::') || first[0] === 'Condition')
    ) {
      const [fn, arg] = first;
      const args = arg as unknown[];
      switch (fn) {
        case 'Ref':
          return ref(arg as string);
        case 'Condition':
          return condition(arg as string);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = typeof arg === 'string' ? arg.split('.') : (args as string[]);
          return getAtt(String(logicalId), String(attribute));
        }
        case 'Fn::Join': {
          const parts = resolveValue(args[1]) as unknown[];
          return parts.map(asText).join(String(args[0]));
        }
        case 'Fn::Sub': {
          if (typeof arg === 'string') return sub(arg, {});
          const variables = resolveValue(args[1] ?? {}) as Record<string, unknown>;
          return sub(String(args[0]), variables);
        }
        case 'Fn::Select': {
          const list = resolveValue(args[1]) as unknown[];
          return list[Number(resolveValue(args[0]))];
        }
        case 'Fn::Split':
          return asText(resolveValue(args[1])).split(String(args[0]));
        case 'Fn::If':
          return condition(String(args[0])) ? resolveValue(args[1]) : resolveValue(args[2]);
        case 'Fn::Equals':
          return JSON.stringify(resolveValue(args[0])) === JSON.stringify(resolveValue(args[1]));
        case 'Fn::Not':
          return !(resolveValue(args[0]) as boolean);
        case 'Fn::And':
          return args.every((a) => resolveValue(a) === true);
        case 'Fn::Or':
          return args.some((a) => resolveValue(a) === true);
        case 'Fn::ImportValue': {
          const name = asText(resolveValue(arg));
          const imported = env.imports?.[name];
          if (imported === undefined)
            throw new Error(`${env.stackName}: Fn::ImportValue ${name} is not exported`);
          return imported;
        }
        default:
          throw new Error(`${env.stackName}: intrinsic ${fn} is not modelled in cfn-resolve.ts`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const resolved = resolveValue(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  const resolved = new Map<string, ResolvedResource>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Condition !== undefined && !condition(resource.Condition)) continue;
    const identity = IDENTITIES[resource.Type] ? identityOf(logicalId) : { ref: logicalId, attributes: {} };
    resolved.set(logicalId, {
      logicalId,
      type: resource.Type,
      properties: resolveValue(resource.Properties ?? {}) as Record<string, unknown>,
      ...identity,
    });
  }
  return { env, resources: resolved };
}
