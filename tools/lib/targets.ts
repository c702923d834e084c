import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ConfigError, stageByName } from '../../lib/config/app-config.ts';
import { OUTPUT_KEYS, type OutputName, pipelineName, processorStackName } from '../../lib/config/names.ts';
import { loadProjectConfig } from '../../lib/config/resolve.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';
import { abandoningHungRequests, type HttpTimeouts } from '../../services/processor/src/clients.ts';
import { EXIT, ToolError } from './cli.ts';

export const SERVICES = [
  's3',
  'sqs',
  'dynamodb',
  'cloudformation',
  'cloudwatch',
  'logs',
  'lambda',
  'sts',
  'codepipeline',
] as const;
export type Service = (typeof SERVICES)[number];

/** Region and endpoints the tool's SDK clients use. */
export interface AwsTarget {
  readonly region: string;
  readonly endpoints: Partial<Record<Service, string>>;
}

/**
 * Parses repeated `--endpoint svc=url` flags, and `--endpoint url` (no service) for every service not named on
 * its own, as the AWS CLI's --endpoint-url does for one service; a typo in the service or URL is a usage error.
 */
export function parseEndpoints(raw: readonly string[] | undefined): Partial<Record<Service, string>> {
  const endpoints: Partial<Record<Service, string>> = {};
  let fallback: string | undefined;
  for (const entry of raw ?? []) {
    if (URL.canParse(entry) && /^https?:\/\//.test(entry)) {
      if (fallback !== undefined) {
        throw new ToolError(`--endpoint "${entry}": only one --endpoint may omit the service`, EXIT.usage);
      }
      fallback = entry;
      continue;
    }
    const at = entry.indexOf('=');
    const service = entry.slice(0, at) as Service;
    const url = entry.slice(at + 1);
    if (at < 0 || !SERVICES.includes(service)) {
      throw new ToolError(
        `--endpoint "${entry}": expected <service>=<url> with service one of ${SERVICES.join(', ')}, or one http(s) URL for every service`,
        EXIT.usage,
      );
    }
    if (!URL.canParse(url)) throw new ToolError(`--endpoint "${entry}": "${url}" is not a URL`, EXIT.usage);
    endpoints[service] = url;
  }
  if (fallback !== undefined) for (const service of SERVICES) endpoints[service] ??= fallback;
  return endpoints;
}

/** Sent to loopback endpoints instead of the operator's own credentials: they open nothing. */
export const LOOPBACK_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Per attempt: an operator's call (a page of a listing, a batch of 100 keys, a change set) answers in well under a
 * second; one still without a response after 20 s is on a dropped connection or a hung endpoint, and is abandoned
 * so that the SDK retries it (its default attempts: 3, and 4 for DynamoDB). Without a limit a tool would wait forever and print nothing.
 */
export const TOOL_HTTP_TIMEOUTS: HttpTimeouts = { connectionMs: 5_000, requestMs: 20_000 };

/**
 * SDK client settings for one service. A loopback endpoint (the local environment's emulators) gets throwaway
 * credentials so that the tools run there without an AWS profile; real endpoints use the normal credential chain.
 */
export function clientConfig(
  target: AwsTarget,
  service: Service,
  timeouts: HttpTimeouts = TOOL_HTTP_TIMEOUTS,
) {
  const endpoint = target.endpoints[service];
  const local =
    endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(endpoint);
  return {
    region: target.region,
    requestHandler: abandoningHungRequests(timeouts),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(service === 's3' && endpoint !== undefined ? { forcePathStyle: true } : {}),
    // The local environment accepts any credentials; these keep a developer's real ones off loopback.
    ...(local ? { credentials: LOOPBACK_CREDENTIALS } : {}),
  };
}

/** The configuration as `cdk synth` resolves it; a bad setting is a usage error naming it. */
function toolConfig(args: {
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly root?: string | undefined;
}): AppConfig {
  return asUsageError(
    () =>
      loadProjectConfig({
        env: args.env ?? process.env,
        sandboxAccount: 'optional',
        ...(args.root === undefined ? {} : { root: args.root }),
      }).config,
  );
}

/** Runs `resolve`, turning a ConfigError into a one-line usage error (exit code 2). */
function asUsageError<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ToolError(error.problems.join('; '), EXIT.usage);
  }
}

/** The stage a tool acts on: its reviewed configuration, the region to call and the stack that holds its names. */
export interface StageContext {
  readonly stage: StageConfig;
  readonly target: AwsTarget;
  readonly stackName: string;
}

/**
 * Resolves `--stage` with the configuration resolver `cdk synth` uses (cdk.json context and the environment), so a
 * tool addresses the stack and region the pipeline deployed. The region is `--region`, else the stage's resolved
 * region; the shell's AWS_REGION is not consulted for a pipeline stage, because it says nothing about where the
 * pipeline put the stage (for a sandbox the resolver takes the caller's region, as `cdk deploy` did).
 */
export function stageContext(args: {
  readonly stage?: string | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: readonly string[] | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Repository whose cdk.json is read. @default this checkout */
  readonly root?: string | undefined;
}): StageContext {
  if (!args.stage)
    throw new ToolError('--stage is required (one of the configured stages); see --help', EXIT.usage);
  const name = args.stage;
  const config = toolConfig(args);
  const stage = asUsageError(() => stageByName(config, name));
  return {
    stage,
    target: { region: args.region ?? stage.region, endpoints: parseEndpoints(args.endpoint) },
    stackName: processorStackName(config.project, stage),
  };
}

/** The delivery pipeline a tool reads: the configuration it was synthesized from, its name and where it runs. */
export interface PipelineContext {
  readonly config: AppConfig;
  readonly pipelineName: string;
  readonly target: AwsTarget;
}

/** CodePipeline's pattern for pipeline names. */
const PIPELINE_NAME = /^[A-Za-z0-9.@\-_]{1,100}$/;

/**
 * Resolves the delivery pipeline with the configuration resolver `cdk synth` uses: its name from the project
 * (`pipelineName`), its region from the pipeline (tooling) configuration. `--pipeline` and `--region` override
 * them, for a pipeline deployed under another name or elsewhere.
 */
export function pipelineContext(args: {
  readonly pipeline?: string | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: readonly string[] | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Repository whose cdk.json is read. @default this checkout */
  readonly root?: string | undefined;
}): PipelineContext {
  const config = toolConfig(args);
  const name = args.pipeline ?? pipelineName(config.project);
  if (!PIPELINE_NAME.test(name)) {
    throw new ToolError(
      `--pipeline is "${name}"; a pipeline name is 1-100 of A-Z a-z 0-9 . @ - _`,
      EXIT.usage,
    );
  }
  return {
    config,
    pipelineName: name,
    target: { region: args.region ?? config.pipeline.region, endpoints: parseEndpoints(args.endpoint) },
  };
}

export type StageOutputs = Partial<Record<OutputName, string>>;

/**
 * The names a tool needs. Explicit flags win (and, when they cover everything, CloudFormation is never called,
 * which is how the tools run against the local environment); the rest come from the stage stack's outputs.
 */
export async function resolveOutputs<const N extends OutputName>(
  context: StageContext,
  needed: readonly N[],
  explicit: StageOutputs,
  cloudFormation: CloudFormationClient = new CloudFormationClient(
    clientConfig(context.target, 'cloudformation'),
  ),
): Promise<Record<N, string>> {
  const missing = needed.filter((name) => !explicit[name]);
  let fromStack: StageOutputs = {};
  if (missing.length > 0) fromStack = await readStackOutputs(context, cloudFormation);
  const resolved = {} as Record<N, string>;
  for (const name of needed) {
    const value = explicit[name] ?? fromStack[name];
    if (!value) {
      throw new ToolError(
        `stack ${context.stackName} has no output "${OUTPUT_KEYS[name]}"; is the deployed stack older than this tool?`,
        EXIT.notFound,
      );
    }
    resolved[name] = value;
  }
  return resolved;
}

async function readStackOutputs(
  context: StageContext,
  cloudFormation: CloudFormationClient,
): Promise<StageOutputs> {
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const response = await cloudFormation.send(new DescribeStacksCommand({ StackName: context.stackName }));
    outputs = response.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if (error instanceof Error && /does not exist/.test(error.message)) {
      throw new ToolError(
        `stack ${context.stackName} not found in ${context.target.region}: is stage "${context.stage.stageName}" deployed there, and are the credentials for its account? (--region overrides the region)`,
        EXIT.notFound,
      );
    }
    throw error;
  }
  const byKey = new Map(outputs.map((o) => [o.OutputKey, o.OutputValue]));
  const result: Record<string, string> = {};
  for (const [name, key] of Object.entries(OUTPUT_KEYS)) {
    const value = byKey.get(key);
    if (value) result[name] = value;
  }
  return result as StageOutputs;
}
