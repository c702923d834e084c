/**
 * What the integration tests run against: the bucket and table of the local environment or of a deployed stage,
 * the region, and how to reach them (endpoints for local, a role to assume for a stage). The tests only ever see
 * an `IntegTarget`; where it came from is decided here and in the runner.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { stageByName } from '../../lib/config/app-config.ts';
import { INTEG_ENV, OUTPUT_KEYS, processorStackName } from '../../lib/config/names.ts';
import { loadProjectConfig } from '../../lib/config/resolve.ts';
import type { ReadyInfo } from '../../local/environment.ts';
import { abandoningHungRequests, type HttpTimeouts } from '../../services/processor/src/clients.ts';

/**
 * Per attempt of the harness's SDK calls: one without a response after 20 s (a dropped connection, a hung endpoint)
 * is abandoned and retried, so that a post-deploy test fails naming the timeout instead of running into CodeBuild's
 * build timeout with nothing printed.
 */
export const INTEG_HTTP_TIMEOUTS: HttpTimeouts = { connectionMs: 5_000, requestMs: 20_000 };

export interface IntegTarget {
  readonly kind: 'local' | 'stage';
  /** For messages: `local environment (stage dev)` or `stage dev`. */
  readonly description: string;
  readonly stage: string;
  readonly bucket: string;
  readonly table: string;
  readonly region: string;
  /** Role the tests assume for every S3 and DynamoDB call (deployed stages). @default the caller's credentials */
  readonly roleArn?: string;
  /** Local S3 endpoint. @default AWS */
  readonly s3Endpoint?: string;
  /** Local DynamoDB endpoint. @default AWS */
  readonly dynamodbEndpoint?: string;
  /** The stage's MAX_OBJECT_BYTES: the oversized object is one byte more. */
  readonly maxObjectBytes: number;
  /** The stage's notification key prefix and suffix ('' when none): test keys must match them to be processed. */
  readonly keyPrefix: string;
  readonly keySuffix: string;
  /** How long a test waits for the item an upload should produce. */
  readonly pollTimeoutMs: number;
}

/** Variables, beyond the pipeline's `INTEG_ENV`, through which the runner hands a target to the test process. */
export const INTEG_RUNNER_ENV = {
  target: 'INTEG_TARGET',
  stage: 'INTEG_STAGE',
  s3Endpoint: 'INTEG_S3_ENDPOINT',
  dynamodbEndpoint: 'INTEG_DYNAMODB_ENDPOINT',
  maxObjectBytes: 'INTEG_MAX_OBJECT_BYTES',
  keyPrefix: 'INTEG_KEY_PREFIX',
  keySuffix: 'INTEG_KEY_SUFFIX',
} as const;

/** Local items appear within about a second (the batching window); deployed ones may wait for a cold start. */
const LOCAL_POLL_TIMEOUT_MS = 30_000;
const STAGE_POLL_TIMEOUT_MS = 180_000;

/** A target that cannot be resolved; the message says which variable, stack or credential is missing. */
export class IntegTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegTargetError';
  }
}

export function localTarget(info: ReadyInfo): IntegTarget {
  return {
    kind: 'local',
    description: `local environment (stage ${info.stage})`,
    stage: info.stage,
    bucket: info.bucket,
    table: info.table,
    region: info.region,
    s3Endpoint: info.s3Endpoint,
    dynamodbEndpoint: info.dynamodbEndpoint,
    maxObjectBytes: info.maxObjectBytes,
    keyPrefix: info.keyPrefix,
    keySuffix: info.keySuffix,
    pollTimeoutMs: LOCAL_POLL_TIMEOUT_MS,
  };
}

/** The target the runner put in the environment, or undefined when none was (then the suite starts a local one). */
export function targetFromEnv(env: NodeJS.ProcessEnv): IntegTarget | undefined {
  const kind = env[INTEG_RUNNER_ENV.target];
  if (kind === undefined || kind === '') return undefined;
  if (kind !== 'local' && kind !== 'stage') {
    throw new IntegTargetError(`${INTEG_RUNNER_ENV.target} is "${kind}"; expected "local" or "stage"`);
  }
  const need = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new IntegTargetError(`${name} is not set`);
    return value;
  };
  const maxObjectBytes = Number(need(INTEG_RUNNER_ENV.maxObjectBytes));
  if (!Number.isSafeInteger(maxObjectBytes) || maxObjectBytes < 1) {
    throw new IntegTargetError(`${INTEG_RUNNER_ENV.maxObjectBytes} must be a positive integer`);
  }
  const stage = need(INTEG_RUNNER_ENV.stage);
  const roleArn = env[INTEG_ENV.roleArn];
  return {
    kind,
    description: kind === 'local' ? `local environment (stage ${stage})` : `stage ${stage}`,
    stage,
    bucket: need(INTEG_ENV.bucketName),
    table: need(INTEG_ENV.tableName),
    region: need(INTEG_ENV.region),
    ...(roleArn ? { roleArn } : {}),
    ...(kind === 'local' && {
      s3Endpoint: need(INTEG_RUNNER_ENV.s3Endpoint),
      dynamodbEndpoint: need(INTEG_RUNNER_ENV.dynamodbEndpoint),
    }),
    maxObjectBytes,
    keyPrefix: env[INTEG_RUNNER_ENV.keyPrefix] ?? '',
    keySuffix: env[INTEG_RUNNER_ENV.keySuffix] ?? '',
    pollTimeoutMs: kind === 'local' ? LOCAL_POLL_TIMEOUT_MS : STAGE_POLL_TIMEOUT_MS,
  };
}

/** The inverse of `targetFromEnv`: what the runner exports for the test process. */
export function targetToEnv(target: IntegTarget): Record<string, string> {
  return {
    [INTEG_RUNNER_ENV.target]: target.kind,
    [INTEG_RUNNER_ENV.stage]: target.stage,
    [INTEG_ENV.bucketName]: target.bucket,
    [INTEG_ENV.tableName]: target.table,
    [INTEG_ENV.region]: target.region,
    [INTEG_RUNNER_ENV.maxObjectBytes]: String(target.maxObjectBytes),
    [INTEG_RUNNER_ENV.keyPrefix]: target.keyPrefix,
    [INTEG_RUNNER_ENV.keySuffix]: target.keySuffix,
    ...(target.roleArn && { [INTEG_ENV.roleArn]: target.roleArn }),
    ...(target.s3Endpoint && { [INTEG_RUNNER_ENV.s3Endpoint]: target.s3Endpoint }),
    ...(target.dynamodbEndpoint && { [INTEG_RUNNER_ENV.dynamodbEndpoint]: target.dynamodbEndpoint }),
  };
}

export interface StageLookupClients {
  readonly cloudFormation: (region: string) => CloudFormationClient;
  readonly sts: (region: string) => STSClient;
}

/** The clients a deployed stage is looked up with (its stack's outputs, the caller's account). */
export function stageLookupClients(timeouts: HttpTimeouts = INTEG_HTTP_TIMEOUTS): StageLookupClients {
  const requestHandler = abandoningHungRequests(timeouts);
  return {
    cloudFormation: (region) => new CloudFormationClient({ region, requestHandler }),
    sts: (region) => new STSClient({ region, requestHandler }),
  };
}

const defaultClients = stageLookupClients();

/**
 * Resolves a deployed stage: bucket, table and role from the pipeline's INTEG_* variables when set, otherwise from
 * the outputs of the stage's CloudFormation stack (read with the caller's credentials, which must then be for the
 * stage's account). Then proves the role can be assumed, so a credentials problem fails here, clearly, once.
 */
export async function resolveStageTarget(
  stageName: string,
  env: NodeJS.ProcessEnv,
  clients: StageLookupClients = defaultClients,
): Promise<IntegTarget> {
  const { config } = loadProjectConfig({ env, sandboxAccount: 'optional' });
  const stage = stageByName(config, stageName);
  const region = env[INTEG_ENV.region] || stage.region;
  let bucket = env[INTEG_ENV.bucketName];
  let table = env[INTEG_ENV.tableName];
  let roleArn = env[INTEG_ENV.roleArn];
  if (!bucket || !table) {
    const stackName = processorStackName(config.project, stage);
    const outputs = await stackOutputs(clients.cloudFormation(region), stackName, region);
    const output = (key: string) => {
      const value = outputs[key];
      if (!value) throw new IntegTargetError(`stack ${stackName} in ${region} has no output ${key}`);
      return value;
    };
    bucket = output(OUTPUT_KEYS.bucketName);
    table = output(OUTPUT_KEYS.tableName);
    roleArn ||= output(OUTPUT_KEYS.integTestRoleArn);
  }
  const target: IntegTarget = {
    kind: 'stage',
    description: `stage ${stageName}`,
    stage: stageName,
    bucket,
    table,
    region,
    ...(roleArn ? { roleArn } : {}),
    maxObjectBytes: stage.objects.maxObjectBytes,
    keyPrefix: stage.objects.keyPrefix ?? '',
    keySuffix: stage.objects.keySuffix ?? '',
    pollTimeoutMs: STAGE_POLL_TIMEOUT_MS,
  };
  if (roleArn) await assumeRole(clients.sts(region), roleArn, 'integ-preflight');
  return target;
}

async function stackOutputs(
  cloudFormation: CloudFormationClient,
  stackName: string,
  region: string,
): Promise<Record<string, string>> {
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries(
      (Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
  } catch (error) {
    const orSetVariables = `or set ${INTEG_ENV.bucketName}, ${INTEG_ENV.tableName} and ${INTEG_ENV.roleArn}`;
    throw explain(
      error,
      `reading the outputs of stack ${stackName} in ${region}`,
      () =>
        (error as Error).message.includes('does not exist')
          ? `stack ${stackName} does not exist in ${region} for these credentials; deploy the stage, use credentials for its account, ${orSetVariables}`
          : undefined,
      `credentials for the stage's account, ${orSetVariables}`,
    );
  } finally {
    cloudFormation.destroy();
  }
}

export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** STS AssumeRole, with errors that say whether credentials are missing or the role refused them. */
export async function assumeRole(
  sts: STSClient,
  roleArn: string,
  sessionName: string,
): Promise<TemporaryCredentials> {
  try {
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: sessionName.slice(0, 64),
        DurationSeconds: 3600,
      }),
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey || !Credentials.SessionToken) {
      throw new IntegTargetError(`AssumeRole of ${roleArn} returned no credentials`);
    }
    return {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      sessionToken: Credentials.SessionToken,
      expiration: Credentials.Expiration ?? new Date(Date.now() + 3_600_000),
    };
  } catch (error) {
    throw explain(error, `assuming ${roleArn}`, () =>
      (error as { name?: string }).name === 'AccessDenied'
        ? `these credentials may not assume ${roleArn}; it trusts only the stage's integTestTrustedAccount`
        : undefined,
    );
  }
}

/**
 * Credentials for the tests' clients: the role's, renewed before they expire. Without a role, undefined (the
 * SDK's default chain).
 */
export function roleCredentials(
  target: IntegTarget,
  sessionName: string,
): (() => Promise<TemporaryCredentials>) | undefined {
  const { roleArn } = target;
  if (!roleArn) return undefined;
  let current: TemporaryCredentials | undefined;
  let sts: STSClient | undefined;
  return async () => {
    if (current && current.expiration.getTime() - Date.now() > 5 * 60_000) return current;
    sts ??= new STSClient({
      region: target.region,
      requestHandler: abandoningHungRequests(INTEG_HTTP_TIMEOUTS),
    });
    current = await assumeRole(sts, roleArn, sessionName);
    return current;
  };
}

function explain(
  error: unknown,
  doing: string,
  specific: () => string | undefined,
  needed = "credentials that may assume the stage's integration-test role",
): Error {
  if (error instanceof IntegTargetError) return error;
  const name = (error as { name?: string }).name ?? '';
  if (
    name === 'CredentialsProviderError' ||
    /could not load credentials/i.test((error as Error).message ?? '')
  ) {
    return new IntegTargetError(
      `no AWS credentials for ${doing}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) to ${needed}; in the pipeline, CodeBuild provides them`,
    );
  }
  return new IntegTargetError(specific() ?? `${doing} failed: ${name}: ${(error as Error).message}`);
}
