import { parseArgs } from 'node:util';

/**
 * Exit codes of every tool, one per kind of failure, so that a script can tell "fix the flags" from "start the
 * endpoint" from "create the table". 1 is also what a tool returns for its own negative result (status: needs
 * attention; redrive: the move did not complete).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  /** A flag or argument is wrong: the message names it. */
  usage: 2,
  /** Credentials missing, expired, rejected, or not allowed to do this. */
  credentials: 3,
  /** Nothing answered at the endpoint's address (connection refused, reset, timed out, unreachable). */
  unreachable: 4,
  /** The endpoint's host name does not resolve. */
  unknownHost: 5,
  /** A table, queue, bucket, stack or log group the tool addresses does not exist. */
  notFound: 6,
  /** The endpoint does not implement an operation the tool calls (an emulator, usually). */
  unsupported: 7,
  /** A bug in the tool: anything not explained above. */
  internal: 70,
} as const;

/** An error the operator can act on: printed as one line, without a stack trace. */
export class ToolError extends Error {
  /** Process exit code, one of `EXIT`. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
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
  --endpoint <svc>=<url>    send one service's calls elsewhere, e.g. --endpoint s3=http://127.0.0.1:4568
                            (services: s3, sqs, dynamodb, cloudformation, cloudwatch, logs, lambda, sts,
                            codepipeline); repeatable
  --endpoint <url>          every service not named in another --endpoint (the local environment: see
                            the commands \`npm start\` prints)
  --dry-run                 show what would happen; change nothing
  -h, --help                this text
Credentials come from the usual AWS chain (AWS_PROFILE, SSO, environment, instance role); loopback endpoints
get throwaway ones. Exit codes: 0 done, 1 failed or needs attention, 2 usage, 3 credentials, 4 endpoint
unreachable, 5 unknown host, 6 resource not found, 7 operation not supported by the endpoint, 70 a bug.`;

/** Parses argv strictly: an unknown flag or a stray argument is a usage error naming it. */
export function parseToolArgs<const T extends Record<string, OptionSpec>>(
  argv: readonly string[],
  options: T,
) {
  return parseCommandArgs(argv, { ...COMMON_OPTIONS, ...options });
}

/**
 * Parses argv strictly for a command that addresses no stage (a benchmark, a generator): its own options and
 * -h/--help, none of COMMON_OPTIONS; an unknown flag or a stray argument is a usage error naming it.
 */
export function parseCommandArgs<const T extends Record<string, OptionSpec>>(
  argv: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: COMMON_OPTIONS.help }, strict: true })
      .values;
  } catch (error) {
    throw new ToolError(`${(error as Error).message}; see --help`, EXIT.usage);
  }
}

/**
 * The arguments of a command whose work runs at module top level instead of in a `runTool` main (bench/run.ts),
 * read before that work starts: `read` parses and checks them, throwing ToolError for a wrong one. On 'help' it
 * prints `usage` and exits 0; on a ToolError, one line on stderr and its exit code; so neither does any work.
 */
export function argsOrExit<T>(
  read: () => T | 'help',
  usage: string,
  exit: (code: number) => never = process.exit,
  io: Io = consoleIo,
): T {
  let args: T | 'help';
  try {
    args = read();
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    io.progress(`error: ${error.message}`);
    return exit(error.exitCode);
  }
  if (args === 'help') {
    io.out(usage);
    return exit(EXIT.ok);
  }
  return args;
}

/** A positive number from a flag, or a usage error naming the flag. */
export function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ToolError(`--${name} is "${raw}"; must be a positive number`, EXIT.usage);
  }
  return value;
}

/**
 * A positive whole number from a flag (a count, a page size, a rate), at most `max`; a fraction is a usage error,
 * never rounded: `--page-size 0.5` must not quietly become a page of 0 keys.
 */
export function integerOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (raw === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'a whole number >= 1' : `a whole number in 1..${max}`;
    throw new ToolError(`--${name} is "${raw}"; must be ${range}`, EXIT.usage);
  }
  return value;
}

/** Node's socket errors when nothing answers at an address the operator chose. */
const UNREACHABLE: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
/** Name resolution failed: the host does not exist (or DNS is down). */
const UNKNOWN_HOST: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME']);

/** AWS error names (and codes) that say the addressed resource does not exist. */
const NOT_FOUND: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'NoSuchBucket',
  'NoSuchKey',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'TableNotFoundException',
  'ResourceNotFound',
]);

/** AWS error names an endpoint answers with for an operation it does not implement. */
const UNSUPPORTED: ReadonlySet<string> = new Set([
  'NotImplemented',
  'UnsupportedOperation',
  'UnknownOperationException',
  'InvalidAction',
  'UnrecognizedClientException.UnknownOperation',
  'AWS.SimpleQueueService.UnsupportedOperation',
]);

type SdkError = Error & {
  code?: string;
  errno?: number;
  hostname?: string;
  address?: string;
  port?: number;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
};

/** The socket error behind an SDK failure: Node reports several addresses tried at once as an AggregateError. */
function socketCode(error: SdkError): { code: string; where: string } | undefined {
  const candidates = [error, ...(Array.isArray(error.errors) ? (error.errors as SdkError[]) : [])];
  if (error.cause instanceof Error) candidates.push(error.cause as SdkError);
  for (const candidate of candidates) {
    const code = candidate?.code;
    if (typeof code !== 'string' || !(UNREACHABLE.has(code) || UNKNOWN_HOST.has(code))) continue;
    const where =
      candidate.hostname ?? [candidate.address, candidate.port].filter((p) => p !== undefined).join(':');
    return { code, where: where || 'the AWS endpoint' };
  }
  return undefined;
}

/**
 * Turns a failure into one actionable line with its exit code (`EXIT`): credentials, unreachable or unknown
 * endpoints, missing resources, unsupported operations and any other AWS error. Returns undefined only for what is
 * not an AWS or socket error at all (a bug), which `runTool` reports as such.
 */
export function explainAwsError(error: unknown): ToolError | undefined {
  if (error instanceof ToolError) return error;
  if (!(error instanceof Error)) return undefined;
  const e = error as SdkError;
  const name = error.name;
  const message = oneLine(error.message);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(error.message)) {
    return new ToolError(
      'no AWS credentials found: set AWS_PROFILE (and run `aws sso login --profile <profile>`), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the stage account',
      EXIT.credentials,
    );
  }
  if (['ExpiredToken', 'ExpiredTokenException', 'RequestExpired'].includes(name)) {
    return new ToolError(
      `AWS credentials have expired (${name}): log in again, e.g. \`aws sso login\``,
      EXIT.credentials,
    );
  }
  if (['InvalidClientTokenId', 'UnrecognizedClientException', 'InvalidSignatureException'].includes(name)) {
    return new ToolError(
      `AWS rejected the credentials (${name}): are they for the stage's account?`,
      EXIT.credentials,
    );
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new ToolError(`access denied: ${message}`, EXIT.credentials);
  }
  const socket = socketCode(e);
  if (socket && UNKNOWN_HOST.has(socket.code)) {
    return new ToolError(
      `unknown host ${socket.where} (${socket.code}): check the host name in --endpoint, or the network's DNS`,
      EXIT.unknownHost,
    );
  }
  if (socket && name === 'TimeoutError') {
    const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return new ToolError(
      `no answer from ${socket.where} in time${attempts ? ` on any of ${attempts} attempts` : ''} (${message.replace(/^@smithy\/node-http-handler - \[ERROR\] /, '')}): check the network, the region and any --endpoint`,
      EXIT.unreachable,
    );
  }
  if (socket) {
    return new ToolError(
      `could not reach ${socket.where} (${socket.code}): check the network, the region and any --endpoint (is \`npm start\` running, for the local environment?)`,
      EXIT.unreachable,
    );
  }
  if (NOT_FOUND.has(name) || NOT_FOUND.has(e.code ?? '')) {
    return new ToolError(
      `not found (${name}): ${message}; check --stage, --region and any name given on the command line`,
      EXIT.notFound,
    );
  }
  if (UNSUPPORTED.has(name) || e.$metadata?.httpStatusCode === 501) {
    return new ToolError(
      `the endpoint does not support this operation (${name}): ${message}; against an emulator, see docs/local-environment.md for what it implements`,
      EXIT.unsupported,
    );
  }
  if (e.$metadata !== undefined || e.$fault !== undefined) {
    // Any other answer from an AWS endpoint: its name and message are what the operator can search for.
    return new ToolError(`AWS error ${name}: ${message}`, EXIT.failed);
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Output piped to a reader that stopped (`| head`): the rest of the output has no reader, so the tool ends quietly
 * and successfully, as `ls | head` does, instead of dying on an unhandled EPIPE.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream, exit: (code: number) => void): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') exit(0);
    else throw error;
  });
}

/**
 * Runs a tool's main function as a process: exit code from its result, every failure as one line on stderr with
 * its exit code. A failure that is not an operator's to fix (a bug) still prints one line; DEBUG=1 adds the stack.
 */
export async function runTool(
  main: (argv: readonly string[], io: Io) => Promise<number>,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  exitQuietlyOnClosedPipe(process.stdout, (code) => process.exit(code));
  exitQuietlyOnClosedPipe(process.stderr, (code) => process.exit(code));
  try {
    process.exitCode = await main(argv, consoleIo);
  } catch (error) {
    const explained = explainAwsError(error);
    if (explained) {
      process.stderr.write(`error: ${explained.message}\n`);
      process.exitCode = explained.exitCode;
      return;
    }
    const what = error instanceof Error ? `${error.name}: ${oneLine(error.message)}` : String(error);
    process.stderr.write(
      `error: unexpected ${what} (a bug in the tool; run again with DEBUG=1 for the stack trace)\n`,
    );
    if (env.DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exitCode = EXIT.internal;
  }
}
