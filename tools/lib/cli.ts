import { parseArgs } from 'node:util';

/** An error the operator can act on: printed as one line, without a stack trace. */
export class ToolError extends Error {
  /** Process exit code: 2 for usage mistakes, 1 for everything else. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'ToolError';
    this.exitCode = exitCode;
  }
}

/** Where a tool writes: results to `out` (stdout), progress and warnings to `progress` (stderr). */
export interface Io {
  readonly out: (line: string) => void;
  readonly progress: (line: string) => void;
}

export const consoleIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  progress: (line) => process.stderr.write(`${line}\n`),
};

/** Time as the tools see it, injectable so that tests drive waits and rate limits without real time passing. */
export interface Clock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

/** Options every tool accepts. */
export const COMMON_OPTIONS = {
  stage: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

export const COMMON_HELP = `Common options:
  --stage <name>            stage (dev, staging, prod), resolved from cdk.json and the environment exactly as
                            \`cdk synth\` resolves it; names come from its stack's outputs
  --region <region>         AWS region (default: the stage's region as cdk synth resolves it)
  --endpoint <svc>=<url>    send one service's calls elsewhere, e.g. --endpoint s3=http://127.0.0.1:4569
                            (services: s3, sqs, dynamodb, cloudformation, cloudwatch, logs, lambda, sts,
                            codepipeline); repeatable
  --dry-run                 show what would happen; change nothing
  -h, --help                this text
Credentials come from the usual AWS chain (AWS_PROFILE, SSO, environment, instance role).`;

/** Parses argv strictly: an unknown flag or a stray argument is a usage error naming it. */
export function parseToolArgs<const T extends Record<string, OptionSpec>>(
  argv: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...argv], options: { ...COMMON_OPTIONS, ...options }, strict: true }).values;
  } catch (error) {
    throw new ToolError(`${(error as Error).message}; see --help`, 2);
  }
}

/** A positive number from a flag, or a usage error naming the flag. */
export function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ToolError(`--${name} is "${raw}"; must be a positive number`, 2);
  }
  return value;
}

/** Node's socket errors: the endpoint is unreachable, which the operator fixes, not the code. */
const NETWORK_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * Turns the AWS SDK's failures that have an operator-side fix into one actionable line; anything else is rethrown
 * untouched so that a bug still shows its stack.
 */
export function explainAwsError(error: unknown): ToolError | undefined {
  if (error instanceof ToolError) return error;
  if (!(error instanceof Error)) return undefined;
  const name = error.name;
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(error.message)) {
    return new ToolError(
      'no AWS credentials found: set AWS_PROFILE (and run `aws sso login --profile <profile>`), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the stage account',
    );
  }
  if (['ExpiredToken', 'ExpiredTokenException', 'RequestExpired'].includes(name)) {
    return new ToolError(`AWS credentials have expired (${name}): log in again, e.g. \`aws sso login\``);
  }
  if (['InvalidClientTokenId', 'UnrecognizedClientException', 'InvalidSignatureException'].includes(name)) {
    return new ToolError(`AWS rejected the credentials (${name}): are they for the stage's account?`);
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new ToolError(`access denied: ${error.message}`);
  }
  const network = error as Error & { code?: string; hostname?: string; address?: string; port?: number };
  if (network.code !== undefined && NETWORK_ERRORS.has(network.code)) {
    const host = network.hostname ?? [network.address, network.port].filter((p) => p !== undefined).join(':');
    return new ToolError(
      `could not reach ${host || 'the AWS endpoint'} (${network.code}): check the network, the region and any --endpoint`,
    );
  }
  return undefined;
}

/** Runs a tool's main function as a process: exit code from its result, operator errors as one line. */
export async function runTool(
  main: (argv: readonly string[], io: Io) => Promise<number>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  try {
    process.exitCode = await main(argv, consoleIo);
  } catch (error) {
    const explained = explainAwsError(error);
    if (!explained) throw error;
    process.stderr.write(`error: ${explained.message}\n`);
    process.exitCode = explained.exitCode;
  }
}
