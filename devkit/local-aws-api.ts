import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsApiError, LocalSqs, type LocalSqsOptions } from './local-sqs.ts';
import type { LocalQueue } from './queue.ts';

/**
 * One loopback endpoint for the AWS APIs the operator tools call besides S3 and DynamoDB, so that `status`,
 * `redrive` and `backfill` run against the local environment exactly as against a stage, given
 * `--endpoint <this url>`:
 *
 * - SQS (JSON protocol): the ingest queue and its dead-letter queue (devkit/local-sqs.ts)
 * - CloudFormation DescribeStacks (query protocol): the stage stack's outputs with the local names, so the tools
 *   find bucket, table, queues and function the way they do in AWS, without name flags
 * - Lambda GetFunctionConfiguration: the deployed function's settings
 * - CloudWatch DescribeAlarms (no alarms run locally: an empty list) and GetMetricData for the queues'
 *   ApproximateAgeOfOldestMessage, computed from the queues
 * - CloudWatch Logs FilterLogEvents on the function's log group: the lines the function wrote, kept in memory
 *
 * The protocols are AWS's JSON RPC (a JSON body, the operation in X-Amz-Target), REST JSON for Lambda's one GET,
 * and the query protocol's XML for DescribeStacks. Hand-written because no npm package serves these APIs over a
 * queue we already have: the SQS emulators on npm (e.g. fauxqs) bring their own queue and event source semantics,
 * which would replace devkit/queue.ts rather than expose it, and none serves CloudFormation, Lambda, CloudWatch
 * or Logs. The SDK clients are the tests' oracle for the wire format (test/devkit/local-aws-api.test.ts).
 */

export interface LocalFunctionConfiguration {
  readonly functionName: string;
  readonly runtime: string;
  readonly handler: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly logGroup: string;
  readonly logFormat: string;
}

export interface LocalAwsApiOptions
  extends Omit<LocalSqsOptions, 'baseUrl' | 'now' | 'queue' | 'region' | 'account'> {
  readonly queue: LocalQueue;
  readonly region: string;
  /** @default '000000000000' */
  readonly account?: string;
  readonly stackName: string;
  /** The stack's outputs as the local environment names them (OUTPUT_KEYS values -> local names). */
  readonly outputs: () => Readonly<Record<string, string>>;
  readonly function: LocalFunctionConfiguration;
  readonly logs: LocalLogGroup;
  readonly now?: () => number;
}

const DEFAULT_ACCOUNT = '000000000000';

export class LocalAwsApi {
  readonly sqs: LocalSqs;
  private readonly options: LocalAwsApiOptions;
  private readonly now: () => number;
  private readonly server: Server;
  private address: AddressInfo | undefined;

  private constructor(options: LocalAwsApiOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.sqs = new LocalSqs({
      ...options,
      account: options.account ?? DEFAULT_ACCOUNT,
      baseUrl: () => this.endpoint,
      now: this.now,
    });
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ __type: 'InternalFailure', message: String(error) }));
      });
    });
  }

  /** Starts listening; a busy port rejects with Node's error (`code` EADDRINUSE), as startLocalAws does. */
  static async start(options: LocalAwsApiOptions & { readonly host: string; readonly port: number }) {
    const api = new LocalAwsApi(options);
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(options.port, options.host, () => {
        api.server.off('error', reject);
        resolve();
      });
    });
    api.address = api.server.address() as AddressInfo;
    return api;
  }

  get endpoint(): string {
    const address = this.address;
    if (!address) return 'http://127.0.0.1:0';
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.sqs.close();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closing;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix, operation = ''] = target.split('.');
    const path = new URL(req.url ?? '/', 'http://local').pathname;

    if (prefix === 'AmazonSQS') {
      return this.json(
        res,
        'application/x-amz-json-1.0',
        () => this.sqs.handle(operation, parseJson(body)),
        true,
      );
    }
    if (prefix === 'GraniteServiceVersion20100801') {
      return this.json(res, 'application/x-amz-json-1.0', () => this.cloudWatch(operation, parseJson(body)));
    }
    if (prefix === 'Logs_20140328') {
      return this.json(res, 'application/x-amz-json-1.1', () =>
        this.cloudWatchLogs(operation, parseJson(body)),
      );
    }
    const lambda = /^\/2015-03-31\/functions\/([^/]+)\/configuration$/.exec(path);
    if (lambda && req.method === 'GET')
      return this.lambdaConfiguration(res, decodeURIComponent(lambda[1] ?? ''));
    if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return this.query(res, new URLSearchParams(body), scopeService(req));
    }
    const service = scopeService(req) ?? 'an unknown service';
    send(res, 400, 'application/json', {
      __type: 'UnknownOperationException',
      message: `the local environment's API endpoint does not implement ${target || `${req.method} ${path}`} (${service}); see docs/local-environment.md`,
    });
  }

  /** A JSON-protocol call: the handler's result, or its error as the protocol encodes errors. */
  private json(res: ServerResponse, type: string, handle: () => unknown, sqs = false): void {
    try {
      send(res, 200, type, handle());
    } catch (error) {
      if (!(error instanceof AwsApiError)) throw error;
      res.setHeader('x-amzn-requestid', randomUUID());
      if (sqs) res.setHeader('x-amzn-query-error', `${error.queryCode};Sender`);
      send(res, error.status, type, {
        __type: sqs ? `com.amazonaws.sqs#${error.code}` : error.code,
        message: error.message,
      });
    }
  }

  private cloudWatch(operation: string, input: Record<string, unknown>): unknown {
    if (operation === 'DescribeAlarms') return { MetricAlarms: [], CompositeAlarms: [] };
    if (operation !== 'GetMetricData') {
      throw new AwsApiError(
        'UnsupportedOperation',
        `the local environment's CloudWatch does not implement ${operation}`,
      );
    }
    const queries = (input.MetricDataQueries ?? []) as Array<{
      Id: string;
      MetricStat?: {
        Metric?: { Namespace?: string; MetricName?: string; Dimensions?: { Name: string; Value: string }[] };
      };
    }>;
    const now = this.now();
    return {
      MetricDataResults: queries.map((q) => {
        const metric = q.MetricStat?.Metric;
        const queue = metric?.Dimensions?.find((d) => d.Name === 'QueueName')?.Value;
        const age =
          metric?.Namespace === 'AWS/SQS' && metric.MetricName === 'ApproximateAgeOfOldestMessage'
            ? this.oldestAgeSeconds(queue, now)
            : undefined;
        return {
          Id: q.Id,
          Label: metric?.MetricName ?? q.Id,
          StatusCode: 'Complete',
          Timestamps: age === undefined ? [] : [Math.floor(now / 1000)],
          Values: age === undefined ? [] : [age],
        };
      }),
      Messages: [],
    };
  }

  private oldestAgeSeconds(queueName: string | undefined, now: number): number | undefined {
    const { queue, ingestQueueName, deadLetterQueueName } = this.options;
    const sent =
      queueName === ingestQueueName
        ? queue.undelivered().map((m) => m.sentTimestamp)
        : queueName === deadLetterQueueName
          ? queue.deadLetters().map((d) => d.sentTimestamp)
          : undefined;
    if (sent === undefined) return undefined;
    // SQS reports 0 for an empty queue.
    return sent.length === 0 ? 0 : Math.max(0, (now - Math.min(...sent)) / 1000);
  }

  private cloudWatchLogs(operation: string, input: Record<string, unknown>): unknown {
    if (operation !== 'FilterLogEvents') {
      throw new AwsApiError(
        'UnsupportedOperation',
        `the local environment's CloudWatch Logs does not implement ${operation}`,
      );
    }
    const group = input.logGroupName;
    if (group !== this.options.function.logGroup) {
      throw new AwsApiError(
        'ResourceNotFoundException',
        `The specified log group does not exist: ${String(group)} (locally there is ${this.options.function.logGroup})`,
      );
    }
    const events = this.options.logs.filter({
      pattern: typeof input.filterPattern === 'string' ? input.filterPattern : '',
      start: Number(input.startTime ?? 0),
      end: Number(input.endTime ?? Number.MAX_SAFE_INTEGER),
      limit: Number(input.limit ?? 10_000),
    });
    return { events, searchedLogStreams: [] };
  }

  private lambdaConfiguration(res: ServerResponse, name: string): void {
    const fn = this.options.function;
    if (name !== fn.functionName && !name.endsWith(`:function:${fn.functionName}`)) {
      res.setHeader('x-amzn-errortype', 'ResourceNotFoundException');
      send(res, 404, 'application/json', {
        Type: 'User',
        message: `Function not found: ${name} (locally there is ${fn.functionName})`,
      });
      return;
    }
    send(res, 200, 'application/json', {
      FunctionName: fn.functionName,
      FunctionArn: `arn:aws:lambda:${this.options.region}:${this.options.account ?? DEFAULT_ACCOUNT}:function:${fn.functionName}`,
      Runtime: fn.runtime,
      Handler: fn.handler,
      MemorySize: fn.memoryMiB,
      Timeout: fn.timeoutSeconds,
      State: 'Active',
      LastUpdateStatus: 'Successful',
      Architectures: ['arm64'],
      LoggingConfig: { LogFormat: fn.logFormat, LogGroup: fn.logGroup },
    });
  }

  /** The query protocol: CloudFormation DescribeStacks; an SQS query request says which protocol to use instead. */
  private query(res: ServerResponse, form: URLSearchParams, service: string | undefined): void {
    const action = form.get('Action') ?? '';
    const requestId = randomUUID();
    if (action === 'DescribeStacks' && service !== 'sqs') {
      const name = form.get('StackName');
      if (name !== null && name !== this.options.stackName && !name.includes(`/${this.options.stackName}/`)) {
        queryError(res, 'ValidationError', `Stack with id ${name} does not exist`, requestId);
        return;
      }
      const outputs = Object.entries(this.options.outputs())
        .map(
          ([key, value]) =>
            `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
        )
        .join('');
      const stackId = `arn:aws:cloudformation:${this.options.region}:${this.options.account ?? DEFAULT_ACCOUNT}:stack/${this.options.stackName}/local`;
      send(
        res,
        200,
        'text/xml',
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${xml(this.options.stackName)}</StackName><StackId>${xml(stackId)}</StackId><CreationTime>${new Date(this.now()).toISOString()}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      );
      return;
    }
    const message =
      service === 'sqs'
        ? "the local environment's SQS speaks SQS's JSON protocol; this client sent the older query protocol: use a current AWS CLI (v1 or v2, releases since 2024) or AWS SDK for JavaScript >= 3.447"
        : `the local environment's API endpoint does not implement ${action || 'this request'}; see docs/local-environment.md`;
    queryError(res, 'InvalidAction', message, requestId);
  }
}

/** The service a SigV4-signed request was signed for (its credential scope): what routes it in AWS too. */
function scopeService(req: IncomingMessage): string | undefined {
  const auth = String(req.headers.authorization ?? '');
  return /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1];
}

function parseJson(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new AwsApiError(
    'SerializationException',
    'the request body is not a JSON object',
    'SerializationException',
  );
}

function send(res: ServerResponse, status: number, type: string, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function queryError(res: ServerResponse, code: string, message: string, requestId: string): void {
  send(
    res,
    400,
    'text/xml',
    `<ErrorResponse><Error><Type>Sender</Type><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  );
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One line the function wrote, as CloudWatch Logs would hold it. */
export interface LogEvent {
  readonly timestamp: number;
  readonly message: string;
}

/**
 * The function's log group, in memory: the latest `capacity` lines, searchable with the subset of CloudWatch
 * Logs filter patterns the tools use: JSON conditions `{ $.a.b = "x" || $.c != "y" && ... }` (no parentheses) and
 * plain terms that must all appear. Any other syntax is refused with a message, not silently matched wrongly.
 */
export class LocalLogGroup {
  private readonly lines: LogEvent[] = [];
  private readonly capacity: number;
  private nextId = 1;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  add(message: string, timestamp = Date.now()): void {
    this.lines.push({ timestamp, message });
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  filter(args: { pattern: string; start: number; end: number; limit: number }) {
    const matches = compileFilterPattern(args.pattern);
    return this.lines
      .filter((e) => e.timestamp >= args.start && e.timestamp <= args.end && matches(e.message))
      .slice(0, args.limit)
      .map((e) => ({
        logStreamName: 'local',
        timestamp: e.timestamp,
        ingestionTime: e.timestamp,
        message: e.message,
        eventId: String(this.nextId++),
      }));
  }
}

export function compileFilterPattern(pattern: string): (message: string) => boolean {
  const trimmed = pattern.trim();
  if (trimmed === '') return () => true;
  const unsupported = () =>
    new AwsApiError(
      'InvalidParameterException',
      `filter pattern ${JSON.stringify(pattern)} is beyond what the local log group supports ({ $.field = "value" || ... } or plain terms); see docs/local-environment.md`,
    );
  if (trimmed.startsWith('{')) {
    if (!trimmed.endsWith('}') || /[()]/.test(trimmed)) throw unsupported();
    const alternatives = trimmed
      .slice(1, -1)
      .split('||')
      .map((alternative) =>
        alternative.split('&&').map((condition) => {
          const m = /^\s*\$\.([\w.]+)\s*(=|!=)\s*(?:"([^"]*)"|([\w.-]+))\s*$/.exec(condition);
          if (!m) throw unsupported();
          const [, path = '', op, quoted, bare] = m;
          const expected = quoted ?? bare ?? '';
          return (event: unknown) => {
            let value: unknown = event;
            for (const part of path.split('.'))
              value = (value as Record<string, unknown> | undefined)?.[part];
            const equal = value !== undefined && String(value) === expected;
            return op === '=' ? equal : !equal;
          };
        }),
      );
    return (message) => {
      let event: unknown;
      try {
        event = JSON.parse(message);
      } catch {
        return false;
      }
      return alternatives.some((conditions) => conditions.every((c) => c(event)));
    };
  }
  const terms = [...trimmed.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
  if (terms.some((t) => /^[-?]/.test(t) || t.includes('%'))) throw unsupported();
  return (message) => terms.every((t) => message.includes(t));
}
