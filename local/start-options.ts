import { parseArgs } from 'node:util';

/** Fixed default ports (the emulators' own defaults), so the example commands work without reading the output. */
export const DEFAULT_S3_PORT = 4568;
export const DEFAULT_DYNAMODB_PORT = 4567;
/** The operator tools' API endpoint (SQS, CloudFormation, Lambda, CloudWatch, Logs). */
export const DEFAULT_API_PORT = 4569;

/** Environment variables that override the defaults (flags override them in turn). */
export const START_ENV = {
  stage: 'LOCAL_STAGE',
  s3Port: 'LOCAL_S3_PORT',
  dynamodbPort: 'LOCAL_DYNAMODB_PORT',
  apiPort: 'LOCAL_API_PORT',
  dataDir: 'LOCAL_DATA_DIR',
  /** Directory where each running environment publishes its ready file for `npm run integ -- --target local`. */
  readyDir: 'LOCAL_READY_DIR',
} as const;

export interface StartOptions {
  readonly stage: string;
  readonly s3Port: number;
  readonly dynamodbPort: number;
  readonly apiPort: number;
  readonly dataDir?: string;
  readonly timeScale: number;
  readonly verbose: boolean;
  readonly help: boolean;
}

export const START_USAGE = `Usage: npm start -- [options]

Runs the S3 object processor locally: S3 and DynamoDB emulators on 127.0.0.1, S3 notifications into a local
queue with the stage's batching, visibility timeout and dead-letter settings, and the stage's deployed bundle
under Node 24 with the stage's environment; an API endpoint lets the operator tools (status, redrive,
backfill) work on it as on a stage. Prints one JSON line when ready, then example commands. Stops on Ctrl-C,
SIGTERM or SIGINT, and when the process that started it (npm, a shell, a process manager) ends.

Options:
  --stage <name>          stage whose processor runs (dev, staging, prod)          [env ${START_ENV.stage}, default dev]
  --s3-port <port>        S3 port, 0 for any free port                    [env ${START_ENV.s3Port}, default ${DEFAULT_S3_PORT}]
  --dynamodb-port <port>  DynamoDB port, 0 for any free port        [env ${START_ENV.dynamodbPort}, default ${DEFAULT_DYNAMODB_PORT}]
  --api-port <port>       the operator tools' SQS, CloudFormation, Lambda, CloudWatch and Logs APIs,
                          0 for any free port                            [env ${START_ENV.apiPort}, default ${DEFAULT_API_PORT}]
  --data-dir <dir>        keep objects and items here between runs  [env ${START_ENV.dataDir}, default: temporary]
  --time-scale <factor>   multiply visibility timeout, batching window and function timeout,
                          e.g. 0.01 to watch a redelivery in seconds instead of minutes            [default 1]
  --verbose               print the processor's own log lines (JSON) to stderr
  -h, --help              show this help
Exit codes: 0 stopped; 1 the stop dropped undelivered messages or dead letters (no --data-dir), or shutdown took
too long; 2 usage, or the environment could not start; 130 a second Ctrl-C.`;

/** A command-line mistake; the message names the flag or variable and what is accepted. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseStartOptions(argv: readonly string[], env: NodeJS.ProcessEnv): StartOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        stage: { type: 'string' },
        's3-port': { type: 'string' },
        'dynamodb-port': { type: 'string' },
        'api-port': { type: 'string' },
        'data-dir': { type: 'string' },
        'time-scale': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const text = (flag: string, variable: string) => {
    const fromFlag = values[flag];
    if (typeof fromFlag === 'string') return { value: fromFlag, source: `--${flag}` };
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, source: variable };
  };
  const port = (flag: string, variable: string, fallback: number) => {
    const given = text(flag, variable);
    if (!given) return fallback;
    const n = Number(given.value);
    if (!/^\d+$/.test(given.value) || n > 65535) {
      throw new UsageError(
        `${given.source} is "${given.value}"; expected a port number 0..65535 (0 = any free port)`,
      );
    }
    return n;
  };
  const scale = values['time-scale'];
  const timeScale = scale === undefined ? 1 : Number(scale);
  if (typeof scale === 'string' && !(timeScale > 0 && timeScale <= 1)) {
    throw new UsageError(`--time-scale is "${scale}"; expected a number in (0, 1], e.g. 0.01`);
  }
  const stage = text('stage', START_ENV.stage);
  const dataDir = text('data-dir', START_ENV.dataDir);
  const s3Port = port('s3-port', START_ENV.s3Port, DEFAULT_S3_PORT);
  const dynamodbPort = port('dynamodb-port', START_ENV.dynamodbPort, DEFAULT_DYNAMODB_PORT);
  const apiPort = port('api-port', START_ENV.apiPort, DEFAULT_API_PORT);
  const ports = [
    ['S3', s3Port],
    ['DynamoDB', dynamodbPort],
    ['tool API', apiPort],
  ] as const;
  for (const [i, [a, pa]] of ports.entries()) {
    for (const [b, pb] of ports.slice(i + 1)) {
      if (pa !== 0 && pa === pb)
        throw new UsageError(`the ${a} and ${b} ports are both ${pa}; they must differ`);
    }
  }
  return {
    stage: stage?.value ?? 'dev',
    s3Port,
    dynamodbPort,
    apiPort,
    ...(dataDir && { dataDir: dataDir.value }),
    timeScale,
    verbose: values.verbose === true,
    help: values.help === true,
  };
}
