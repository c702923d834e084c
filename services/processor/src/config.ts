import { PROCESSOR_METRICS_NAMESPACE, PROCESSOR_SERVICE_NAME } from './metric-names.ts';

/**
 * The processor's configuration: read from the environment once, at cold start, and validated so that a
 * misconfigured function fails its first invocation with an error naming the variable, instead of mis-processing.
 * The variables are the ones `lib/config/processor-environment.ts` sets on the function.
 */

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
const LOG_LEVELS: ReadonlySet<string> = new Set([
  'TRACE',
  'DEBUG',
  'INFO',
  'WARN',
  'ERROR',
  'CRITICAL',
  'SILENT',
]);

export interface ProcessorConfig {
  /** DynamoDB table holding one item per object key (`TABLE_NAME`). */
  readonly tableName: string;
  /** Objects larger than this many bytes are rejected (`MAX_OBJECT_BYTES`). */
  readonly maxObjectBytes: number;
  /** Lowercase MIME types an object may have (`ALLOWED_CONTENT_TYPES`, comma-separated). */
  readonly allowedContentTypes: ReadonlySet<string>;
  /** At most this many S3 records of one batch are in flight at once (`PROCESSING_CONCURRENCY`). @default 10 */
  readonly processingConcurrency: number;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`). @default 's3-object-processor' */
  readonly serviceName: string;
  /** CloudWatch namespace of the EMF metrics (`POWERTOOLS_METRICS_NAMESPACE`). @default 'S3ObjectProcessor' */
  readonly metricsNamespace: string;
  /** Log level (`POWERTOOLS_LOG_LEVEL`). @default 'INFO' */
  readonly logLevel: LogLevel;
  /** Deployment stage, added to every log line (`STAGE_NAME`). @default undefined (not logged) */
  readonly stageName?: string;
  /** S3-compatible endpoint (the SDK's `AWS_ENDPOINT_URL_S3`); set, it switches S3 to path-style addressing. */
  readonly s3Endpoint?: string;
  /** DynamoDB-compatible endpoint (the SDK's `AWS_ENDPOINT_URL_DYNAMODB`). */
  readonly dynamodbEndpoint?: string;
}

/** Raised at cold start when the environment is invalid; every problem names its variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid processor environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const MIME_RE = /^[a-z]+\/[a-z0-9][a-z0-9.+-]*$/;
const TABLE_NAME_RE = /^[a-zA-Z0-9_.-]{3,255}$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Builds the configuration from an environment (normally `process.env`); throws `ConfigError` listing every problem. */
export function loadConfig(env: Env): ProcessorConfig {
  const problems: string[] = [];
  const bad = (name: string, message: string) => problems.push(`${name} ${message}`);
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (name: string): string => {
    const v = value(name);
    if (v === undefined) bad(name, 'is required but not set');
    return v ?? '';
  };
  const integer = (name: string, raw: string | undefined, min: number, max: number): number => {
    if (raw === undefined) return Number.NaN;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      bad(name, `is "${raw}"; must be an integer in ${min}..${max}`);
    }
    return n;
  };
  const url = (name: string): string | undefined => {
    const v = value(name);
    if (v !== undefined && !/^https?:$/.test(URL.parse(v)?.protocol ?? '')) {
      bad(name, `is "${v}"; must be an http(s) URL like http://127.0.0.1:4569`);
    }
    return v;
  };

  const tableName = required('TABLE_NAME');
  if (tableName !== '' && !TABLE_NAME_RE.test(tableName)) {
    bad('TABLE_NAME', `is "${tableName}"; not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)`);
  }

  const maxRaw = required('MAX_OBJECT_BYTES');
  const maxObjectBytes =
    maxRaw === '' ? Number.NaN : integer('MAX_OBJECT_BYTES', maxRaw, 1, Number.MAX_SAFE_INTEGER);

  const typesRaw = required('ALLOWED_CONTENT_TYPES');
  const allowedContentTypes = new Set(
    typesRaw
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  if (typesRaw !== '' && allowedContentTypes.size === 0) bad('ALLOWED_CONTENT_TYPES', 'lists no MIME type');
  for (const t of allowedContentTypes) {
    if (!MIME_RE.test(t)) bad('ALLOWED_CONTENT_TYPES', `has "${t}"; not a MIME type like image/png`);
  }

  const processingConcurrency = integer(
    'PROCESSING_CONCURRENCY',
    value('PROCESSING_CONCURRENCY') ?? '10',
    1,
    1000,
  );

  const logLevel = (value('POWERTOOLS_LOG_LEVEL') ?? 'INFO').toUpperCase();
  if (!LOG_LEVELS.has(logLevel)) {
    bad('POWERTOOLS_LOG_LEVEL', `is "${logLevel}"; must be one of ${[...LOG_LEVELS].join(', ')}`);
  }

  const stageName = value('STAGE_NAME');
  const s3Endpoint = url('AWS_ENDPOINT_URL_S3');
  const dynamodbEndpoint = url('AWS_ENDPOINT_URL_DYNAMODB');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    tableName,
    maxObjectBytes,
    allowedContentTypes,
    processingConcurrency,
    serviceName: value('POWERTOOLS_SERVICE_NAME') ?? PROCESSOR_SERVICE_NAME,
    metricsNamespace: value('POWERTOOLS_METRICS_NAMESPACE') ?? PROCESSOR_METRICS_NAMESPACE,
    logLevel: logLevel as LogLevel,
    ...(stageName !== undefined && { stageName }),
    ...(s3Endpoint !== undefined && { s3Endpoint }),
    ...(dynamodbEndpoint !== undefined && { dynamodbEndpoint }),
  };
}
