/**
 * The one resolver of the app configuration. `bin/` (through the CDK CLI), the local environment, the operator
 * tools, the benchmarks and the docs generator all call it with the same inputs, cdk.json context and the
 * environment, so they agree on project, accounts, regions and stack names (test/config/entry-points.test.ts
 * changes cdk.json in a copy of the repository and checks that they do).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadAppConfig, STAGE_NAMES, stageByName } from './app-config.ts';
import { type ContextReader, type Environment, resolveInput, SANDBOX_SETTING } from './app-input.ts';
import type { AppConfig, StageConfig } from './stage-config.ts';

/** The repository root (where cdk.json is): relative to this file, so no entry point depends on its cwd. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ResolvedApp {
  /** The validated configuration; for a sandbox, the sandbox stage already points at the caller's account. */
  readonly config: AppConfig;
  /** The stage deployed directly as a sandbox (`-c sandbox=<stage>` / SANDBOX_STAGE), if asked for. */
  readonly sandboxStage?: string;
}

export interface ResolveOptions {
  /**
   * `required` (bin/): a sandbox needs the caller's account, which the CDK CLI supplies as CDK_DEFAULT_ACCOUNT.
   * `optional` (tools): they address a stage by stack name and region only, so the configured account may stand.
   * @default 'required'
   */
  readonly sandboxAccount?: 'required' | 'optional';
}

/**
 * Resolves and validates the configuration from CDK context and environment variables (the environment wins),
 * exactly as `cdk synth` does. Problems are one `ConfigError` whose lines name the stage, the field and the
 * setting that supplied the bad value.
 */
export function resolveAppConfig(
  context: ContextReader,
  env: Environment,
  options: ResolveOptions = {},
): ResolvedApp {
  const resolved = resolveInput(context, env);
  try {
    const sandboxStage = resolved.sandboxStage;
    if (sandboxStage === undefined) return { config: loadAppConfig(resolved.input) };
    if (!(STAGE_NAMES as readonly string[]).includes(sandboxStage)) {
      throw new ConfigError([
        `sandbox is "${sandboxStage}"; known stages: ${STAGE_NAMES.join(', ')} (from ${SANDBOX_SETTING.env} or context key ${SANDBOX_SETTING.context})`,
      ]);
    }
    // The CDK CLI sets these from the caller's credentials and profile; a sandbox goes where they point.
    const account = env.CDK_DEFAULT_ACCOUNT;
    if (account === undefined && (options.sandboxAccount ?? 'required') === 'required') {
      throw new ConfigError([
        `stage "${sandboxStage}": account unknown for a sandbox; run through the CDK CLI with AWS credentials (it sets CDK_DEFAULT_ACCOUNT)`,
      ]);
    }
    const region = env.CDK_DEFAULT_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const config = loadAppConfig(resolved.input, (stage) =>
      stage.stageName === sandboxStage ? asSandbox(stage, account, region) : stage,
    );
    return { config, sandboxStage };
  } catch (error) {
    throw resolved.explain(error);
  }
}

/** A stage deployed directly into the caller's account: it trusts itself for the integration-test role. */
function asSandbox(stage: StageConfig, account: string | undefined, region: string | undefined): StageConfig {
  const inAccount = account ?? stage.account;
  return { ...stage, account: inAccount, region: region ?? stage.region, integTestTrustedAccount: inAccount };
}

/**
 * cdk.json's `context` (settings and feature flags), which the CDK CLI hands to the app: every entry point that
 * does not run through the CLI reads it here. A missing cdk.json is an empty context (the documented defaults).
 */
export function cdkJsonContext(root: string = PROJECT_ROOT): Record<string, unknown> {
  const { file, parsed } = readCdkJson(root);
  const context = (parsed as { context?: unknown } | null)?.context ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new ConfigError([`${file}: "context" must be an object`]);
  }
  return context as Record<string, unknown>;
}

/** cdk.json's `app`: the command the CDK CLI runs to synthesize (`node bin/app.ts`), if cdk.json sets one. */
export function cdkAppCommand(root: string = PROJECT_ROOT): string | undefined {
  const app = (readCdkJson(root).parsed as { app?: unknown } | null)?.app;
  return typeof app === 'string' ? app : undefined;
}

function readCdkJson(root: string): { file: string; parsed: unknown } {
  const file = `${root.replace(/\/$/, '')}/cdk.json`;
  if (!existsSync(file)) return { file, parsed: {} };
  try {
    return { file, parsed: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (error) {
    throw new ConfigError([`${file} is not valid JSON: ${(error as Error).message}`]);
  }
}

export interface ProjectConfigOptions extends ResolveOptions {
  /** Environment variables, as bin/ reads them. @default process.env */
  readonly env?: Environment;
  /** Repository root whose cdk.json is read. @default PROJECT_ROOT */
  readonly root?: string;
}

/** The configuration of this checkout: its cdk.json context and the environment, resolved like `cdk synth`. */
export function loadProjectConfig(options: ProjectConfigOptions = {}): ResolvedApp {
  const context = cdkJsonContext(options.root);
  return resolveAppConfig((key) => context[key], options.env ?? process.env, options);
}

/** One stage of this checkout's configuration, with an error listing the stages there are. */
export function projectStage(name: string, options: ProjectConfigOptions = {}): StageConfig {
  return stageByName(loadProjectConfig(options).config, name);
}
