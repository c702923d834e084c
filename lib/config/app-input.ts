/**
 * Where deployment settings come from: CDK context (cdk.json "context" or `-c key=value`) and environment
 * variables, the environment winning. This file names the settings; lib/config/resolve.ts resolves them, from the
 * CDK app's context in bin/ and from cdk.json for local/, tools/, bench/ and the docs, and everything else
 * receives typed, validated configuration.
 *
 * The pipeline's own synth step sees only what is committed, so real accounts belong in cdk.json; environment
 * variables are for a one-off synth, a developer sandbox or CI experiments.
 */
import {
  type AppConfigInput,
  ConfigError,
  type KnownStage,
  STAGE_NAMES,
  type StageOverrides,
} from './app-config.ts';
import type { PipelineConfig } from './stage-config.ts';

type Writable<T> = { -readonly [K in keyof T]?: T[K] };

/** One deployment setting: its context key, its environment variable, and where it lands in `AppConfigInput`. */
export interface Setting {
  readonly context: string;
  readonly env: string;
  readonly description: string;
  readonly kind: 'string' | 'integer' | 'boolean';
  /** How `loadAppConfig` names the field in its problems, so a problem can say where the bad value came from. */
  readonly problemPrefix: string;
  readonly apply: (input: MutableInput, value: string | number | boolean) => void;
}

export interface MutableInput {
  project?: string;
  pipeline: Writable<PipelineConfig>;
  stages: Partial<Record<KnownStage, Writable<StageOverrides>>>;
}

function pipelineSetting(
  context: string,
  env: string,
  field: keyof PipelineConfig,
  description: string,
  kind: Setting['kind'] = 'string',
): Setting {
  return {
    context,
    env,
    description,
    kind,
    problemPrefix: `pipeline: ${field} `,
    apply: (input, value) => {
      (input.pipeline as Record<string, unknown>)[field] = value;
    },
  };
}

function stageSettings(stage: KnownStage): Setting[] {
  const ENV = stage.toUpperCase();
  const setting = (
    suffix: string,
    field: keyof StageOverrides,
    problemField: string,
    description: string,
  ): Setting => ({
    context: `${stage}${suffix}`,
    env: `${ENV}_${suffix.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
    description,
    kind: 'string',
    problemPrefix: `stage "${stage}": ${problemField} `,
    apply: (input, value) => {
      const overrides = input.stages[stage] ?? {};
      overrides[field] = String(value);
      input.stages[stage] = overrides;
    },
  });
  return [
    setting('Account', 'account', 'account', `AWS account of the ${stage} stage`),
    setting('Region', 'region', 'region', `Region of the ${stage} stage (default: toolingRegion)`),
    setting('AlarmEmail', 'alarmEmail', 'alarms.email', `Address subscribed to the ${stage} stage's alarms`),
    setting(
      'IntegTestTrustedAccount',
      'integTestTrustedAccount',
      'integTestTrustedAccount',
      `Account allowed to assume the ${stage} integration-test role (default: toolingAccount)`,
    ),
  ];
}

/** Every setting bin/ reads, in the order the README documents them. */
export const SETTINGS: readonly Setting[] = [
  {
    context: 'project',
    env: 'PROJECT_NAME',
    description: 'Project name: prefix of stack names, the pipeline name and the `project` cost tag',
    kind: 'string',
    problemPrefix: 'project ',
    apply: (input, value) => {
      input.project = String(value);
    },
  },
  pipelineSetting('toolingAccount', 'TOOLING_ACCOUNT', 'account', 'AWS account that hosts the pipeline'),
  pipelineSetting(
    'toolingRegion',
    'TOOLING_REGION',
    'region',
    "Region of the pipeline, and every stage's default region",
  ),
  pipelineSetting('repository', 'PIPELINE_REPOSITORY', 'repository', 'GitHub repository, `owner/name`'),
  pipelineSetting('branch', 'PIPELINE_BRANCH', 'branch', 'Branch whose pushes start the pipeline'),
  pipelineSetting(
    'connectionArn',
    'PIPELINE_CONNECTION_ARN',
    'connectionArn',
    'ARN of the CodeConnections GitHub connection',
  ),
  pipelineSetting(
    'notificationEmail',
    'PIPELINE_NOTIFICATION_EMAIL',
    'notificationEmail',
    'Address told about failed executions and pending approvals',
  ),
  pipelineSetting(
    'prodBakeMinutes',
    'PROD_BAKE_MINUTES',
    'prodBakeMinutes',
    "Minutes staging's health alarm is watched after it passes, before prod can be entered (0 = one check)",
    'integer',
  ),
  pipelineSetting(
    'alarmGates',
    'ALARM_GATES',
    'alarmGates',
    "Gate stage entry and bake time on the stages' health alarms (CodePipeline stage conditions); `false` keeps only rollback on failure",
    'boolean',
  ),
  ...STAGE_NAMES.flatMap(stageSettings),
];

/** Deploy one stage directly into the caller's own account instead of synthesizing the pipeline. */
export const SANDBOX_SETTING = { context: 'sandbox', env: 'SANDBOX_STAGE' } as const;

export type ContextReader = (key: string) => unknown;
export type Environment = Readonly<Record<string, string | undefined>>;

/** Where a value came from, for error messages. */
interface Provenance {
  readonly setting: Setting;
  readonly origin: string;
}

export interface ResolvedInput {
  readonly input: AppConfigInput;
  /** Stage to deploy as a sandbox, if asked for. */
  readonly sandboxStage?: string;
  /** Re-throws a `ConfigError` from `loadAppConfig` with each problem saying which setting supplied the value. */
  readonly explain: (error: unknown) => unknown;
}

/** Reads every setting from context and environment (environment wins). Malformed types fail here. */
export function resolveInput(context: ContextReader, env: Environment): ResolvedInput {
  const input: MutableInput = { pipeline: {}, stages: {} };
  const problems: string[] = [];
  const provenance: Provenance[] = [];

  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    const fromContext = context(setting.context);
    let raw: unknown;
    let origin: string;
    if (fromEnv !== undefined) {
      raw = fromEnv;
      origin = `environment variable ${setting.env}=${JSON.stringify(fromEnv)}`;
    } else if (fromContext !== undefined) {
      raw = fromContext;
      origin = `context key ${setting.context}=${JSON.stringify(fromContext)}`;
    } else {
      continue;
    }
    const value = coerce(setting, raw);
    if (value === undefined) {
      problems.push(`${setting.problemPrefix}must be ${KIND_NAMES[setting.kind]} (from ${origin})`);
      continue;
    }
    setting.apply(input, value);
    provenance.push({ setting, origin });
  }

  if (input.project !== undefined && !/^[a-z][a-z0-9-]{1,39}$/.test(input.project)) {
    const origin = provenance.find((p) => p.setting.context === 'project')?.origin;
    problems.push(
      `project is "${input.project}"; must be 2-40 lowercase letters, digits or '-', starting with a letter (it prefixes stack names) (from ${origin})`,
    );
  }

  const sandboxRaw = env[SANDBOX_SETTING.env] ?? context(SANDBOX_SETTING.context);
  if (sandboxRaw !== undefined && typeof sandboxRaw !== 'string') {
    problems.push(`sandbox must be a stage name (from context key ${SANDBOX_SETTING.context})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const explain = (error: unknown): unknown => {
    if (!(error instanceof ConfigError)) return error;
    return new ConfigError(
      error.problems.map((problem) => {
        const source = provenance.find((p) => problem.startsWith(p.setting.problemPrefix));
        return source ? `${problem} (from ${source.origin})` : problem;
      }),
    );
  };
  return {
    input: input as AppConfigInput,
    ...(typeof sandboxRaw === 'string' ? { sandboxStage: sandboxRaw } : {}),
    explain,
  };
}

const KIND_NAMES: Record<Setting['kind'], string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'true or false',
};

function coerce(setting: Setting, raw: unknown): string | number | boolean | undefined {
  if (setting.kind === 'string') return typeof raw === 'string' ? raw : undefined;
  if (setting.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return undefined;
  }
  if (typeof raw === 'number') return raw;
  // Non-numeric text becomes NaN, which validation then reports with the field's allowed range.
  if (typeof raw === 'string') return raw.trim() === '' ? Number.NaN : Number(raw);
  return undefined;
}
