/**
 * A fault-injecting, latency-adding, request-counting HTTP proxy in front of ONE local AWS-compatible endpoint
 * (s3rver for S3, dynalite for DynamoDB). Point an SDK client (or the processor, through
 * `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB`) at `proxy.endpoint` instead of the server.
 *
 * The one such proxy of the repository: used by the reliability suites (faults), the processor's integration test
 * (DynamoDB faults on chosen items) and the benchmark (fixed added latency, request counts).
 *
 * ```ts
 * const ddb = await startAwsProxy({
 *   service: 'dynamodb',
 *   upstream: 'http://127.0.0.1:4567',
 *   faults: [{ operations: ['UpdateItem', 'PutItem'], share: 0.2, fault: 'dynamodb-throttling' }],
 *   seed: 42,
 *   latencyMs: 0,
 * });
 * process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.endpoint;
 * // ... run the workload ...
 * ddb.counts();        // { UpdateItem: 260, DescribeTable: 1 }   requests received, faulted ones included
 * ddb.faultCounts();   // { 'UpdateItem dynamodb-throttling': 52 }
 * ddb.requests();      // one entry per request: operation, SDK attempt number, fault, status
 * ddb.reset();         // counts, log and rule state back to zero (rules and latency are kept)
 * await ddb.stop();
 * ```
 *
 * Record and replay: with `record: true` the proxy keeps the first response the server gave to each request shape
 * (`replayShape`: method, operation and S3 Range, never the key or the item), and `setReplay(proxy.recordings())`
 * makes it answer every later request of a recorded shape itself, after the configured latency, without asking
 * the server. The benchmark uses this to take the emulators' CPU out of the latency figures (devkit/aws-stand-in.ts).
 *
 * Reproducibility: whether a rule fires is decided by hashing (seed, rule index, request identity, how many times
 * that identical request was seen before), not by a shared random stream. Concurrent requests arriving in a
 * different order therefore get the same decisions on every run, and the SDK's retries of one request (identical
 * bytes) are independent draws. Identity: S3 = method + URL + Range; DynamoDB = X-Amz-Target + a hash of the body.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The AWS API a proxy fronts; it decides how requests are classified and how faults are shaped. */
export type AwsProxyService = 's3' | 'dynamodb';

/**
 * Faults a rule can inject. Error faults answer with the exact status and body the real service sends, so the SDK
 * classifies them as it would in AWS (throttling and 5xx are retried by the SDK's standard retry strategy).
 */
export type AwsFault =
  /** DynamoDB HTTP 400 `ProvisionedThroughputExceededException` (SDK: throttling error, retried). */
  | 'dynamodb-provisioned-throughput-exceeded'
  /** DynamoDB HTTP 400 `ThrottlingException` (SDK: throttling error, retried). */
  | 'dynamodb-throttling'
  /** DynamoDB HTTP 500 `InternalServerError` (SDK: transient error, retried). */
  | 'dynamodb-internal-server-error'
  /** S3 HTTP 503 `SlowDown` (SDK: throttling error, retried). */
  | 's3-slow-down'
  /** S3 HTTP 500 `InternalError` (SDK: transient error, retried). */
  | 's3-internal-error'
  /** S3 HTTP 404 `NoSuchKey` (an object deleted meanwhile; not retried). HEAD gets a body-less 404. */
  | 's3-no-such-key'
  /** Never answers: holds the socket until the client gives up, `holdMs` passes, or the proxy stops. */
  | 'timeout'
  /** Destroys the connection without a response (SDK sees ECONNRESET / socket hang up). */
  | 'connection-reset'
  /**
   * Forwards the request (the server applies it) and then destroys the connection instead of answering: the
   * client sees a network error for a write that did happen, and its retry meets the already-applied state.
   */
  | 'response-lost';

/** What a rule's `match` predicate and the request log see of one request. */
export interface AwsProxyRequestInfo {
  readonly service: AwsProxyService;
  /**
   * DynamoDB: the X-Amz-Target operation (`PutItem`, `UpdateItem`, ...). S3: `GetObjectRange` (a GET with a Range
   * header), `GetObject`, `HeadObject`, `PutObject`, `CopyObject`, `DeleteObject`, `DeleteObjects`, `ListObjects`,
   * `CreateBucket`, `HeadBucket`, `DeleteBucket`, `ListBuckets`, or `<Method>Bucket`/`<Method>Object` otherwise.
   */
  readonly operation: string;
  readonly method: string;
  /** Request target as received (path and query). */
  readonly url: string;
  /** S3 only: bucket from the path-style URL. */
  readonly bucket?: string;
  /** S3 only: object key, percent-decoded from the path-style URL. */
  readonly key?: string;
  /** S3 only: the Range header. */
  readonly range?: string;
  /** The SDK's attempt number of this request (from the `amz-sdk-request` header), when sent. */
  readonly sdkAttempt?: number;
  /** The SDK's configured maximum attempts (from the `amz-sdk-request` header), when sent. */
  readonly sdkMaxAttempts?: number;
  /** Shared by every attempt of one SDK operation (`amz-sdk-invocation-id`): group by it to count retries. */
  readonly sdkInvocationId?: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One fault rule. Rules are checked in order; the first that fires answers the request. */
export interface AwsFaultRule {
  /** Operations this rule applies to (see `AwsProxyRequestInfo.operation`), or `'*'` for all. */
  readonly operations: readonly string[] | '*';
  readonly fault: AwsFault;
  /** Share (0..1) of matching requests that get the fault. @default 1 */
  readonly share?: number;
  /**
   * Apply only to the first N times an identical request is seen (e.g. `1`: each request fails once, then its
   * retry passes). Makes request counts exact, for assertions. @default every time
   */
  readonly firstAttempts?: number;
  /** Fire at most this many times in total (until `reset`). @default unlimited */
  readonly limit?: number;
  /** Further narrowing, e.g. by S3 key or DynamoDB body. @default every matching request */
  readonly match?: (request: AwsProxyRequestInfo) => boolean;
  /** For `timeout`: destroy the held socket after this long. @default held until the client or `stop` ends it */
  readonly holdMs?: number;
}

/** Options of `startAwsProxy`. */
export interface AwsProxyOptions {
  readonly service: AwsProxyService;
  /** The real local endpoint, e.g. `http://127.0.0.1:4567`. */
  readonly upstream: string;
  /** Fixed latency added to every request before it is answered or forwarded, in ms. @default 0 */
  readonly latencyMs?: number;
  /** Fault rules. @default none (a transparent, counting proxy) */
  readonly faults?: readonly AwsFaultRule[];
  /** Seed of the fault decisions. @default 1 */
  readonly seed?: number;
  /** Port on 127.0.0.1. @default 0 (ephemeral) */
  readonly port?: number;
  /**
   * What makes two requests "the same request" for fault decisions and `firstAttempts`. Return e.g. the DynamoDB
   * item key to make decisions independent of volatile body fields (timestamps). @default see the module doc
   */
  readonly identity?: (request: AwsProxyRequestInfo) => string;
  /** Keep the first response to each request shape (see `recordings`). @default false */
  readonly record?: boolean;
}

/** A response as the server sent it, kept to be replayed. */
export interface RecordedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The body, base64 (recordings cross process boundaries as JSON). */
  readonly bodyBase64: string;
  /**
   * Set when requests of this shape got different answers while recording (another status or body): replaying one
   * of them would be a guess, so a replaying proxy answers 501 instead.
   */
  readonly ambiguous?: true;
}

/** Recorded responses by request shape (`replayShape`). */
export type AwsRecording = Readonly<Record<string, RecordedResponse>>;

/** One request as the proxy handled it. */
export interface AwsProxyLogEntry {
  readonly operation: string;
  readonly method: string;
  readonly url: string;
  readonly key?: string;
  readonly sdkAttempt?: number;
  readonly sdkMaxAttempts?: number;
  readonly sdkInvocationId?: string;
  /** The fault injected, or undefined when the request was forwarded. */
  readonly fault?: AwsFault;
  /** Status sent to the client; undefined for `timeout` / `connection-reset` / `response-lost` (no response). */
  readonly status?: number;
  /** For `response-lost`: the status the server answered (and the client never saw). */
  readonly upstreamStatus?: number;
  /** Ordinal (0-based) of this identical request among those seen: 0 = first try, 1 = its first repeat. */
  readonly occurrence: number;
  /** What `options.identity` returned for this request (only when that option is set), e.g. an item key. */
  readonly identity?: string;
}

/** A running proxy. */
export interface AwsProxy {
  /** `http://127.0.0.1:<port>`: give this to the SDK / the processor as the endpoint. */
  readonly endpoint: string;
  readonly port: number;
  readonly service: AwsProxyService;
  /** Requests received per operation since start or `reset`, faulted ones included. */
  counts(): Record<string, number>;
  /** Faults injected, keyed `'<operation> <fault>'`. */
  faultCounts(): Record<string, number>;
  /** Every request since start or `reset`, in arrival order. */
  requests(): readonly AwsProxyLogEntry[];
  /** Requests currently held by a `timeout` fault. */
  heldRequests(): number;
  /** Zeroes counts, the log, repeat tracking and rule `limit`s; keeps rules, seed and latency. */
  reset(): void;
  /** Replaces the fault rules (e.g. `[]` to let a run drain without faults). */
  setFaults(rules: readonly AwsFaultRule[]): void;
  setLatency(latencyMs: number): void;
  /** What `record: true` has kept so far, by request shape. */
  recordings(): AwsRecording;
  /**
   * From now on answer requests from `recording` instead of the server (a shape it lacks, or an ambiguous one, gets
   * a 501 naming it, so a benchmark cannot silently measure error paths); `undefined` forwards again.
   */
  setReplay(recording: AwsRecording | undefined): void;
  /** Closes the listener and every connection, held ones included. */
  stop(): Promise<void>;
}

const DYNAMODB_ERRORS = {
  'dynamodb-provisioned-throughput-exceeded': {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  'dynamodb-throttling': {
    status: 400,
    type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
  'dynamodb-internal-server-error': {
    status: 500,
    type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
    message: 'Internal server error',
  },
} as const;

const S3_ERRORS = {
  's3-slow-down': { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  's3-internal-error': {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  's3-no-such-key': { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' },
} as const;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'expect', 'upgrade', 'te']);

/** Starts a proxy on 127.0.0.1 in front of `options.upstream`. */
export async function startAwsProxy(options: AwsProxyOptions): Promise<AwsProxy> {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== 'http:')
    throw new Error(`aws-proxy: upstream must be http://, got ${options.upstream}`);
  const seed = options.seed ?? 1;
  let rules: readonly AwsFaultRule[] = validateRules(options.service, options.faults ?? []);
  let latencyMs = validateLatency(options.latencyMs ?? 0);
  let counts = new Map<string, number>();
  let faults = new Map<string, number>();
  let log: AwsProxyLogEntry[] = [];
  let seen = new Map<string, number>();
  let fired = new Map<number, number>();
  const recorded = new Map<string, RecordedResponse>();
  let replay: ReadonlyMap<string, ReplayedResponse> | undefined;
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  // A keep-alive pool so a load run of thousands of requests does not exhaust loopback ports.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`aws-proxy: ${String(error)}`);
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      held.delete(socket);
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const info = describe(options.service, req, body);
    counts.set(info.operation, (counts.get(info.operation) ?? 0) + 1);
    const callerIdentity = options.identity?.(info);
    const identity =
      callerIdentity === undefined ? requestIdentity(info) : `${info.operation} ${callerIdentity}`;
    const occurrence = seen.get(identity) ?? 0;
    seen.set(identity, occurrence + 1);
    const ruleIndex = rules.findIndex((rule, index) => fires(rule, index, info, identity, occurrence));
    const rule = ruleIndex >= 0 ? rules[ruleIndex] : undefined;
    if (rule) fired.set(ruleIndex, (fired.get(ruleIndex) ?? 0) + 1);
    const entry = {
      operation: info.operation,
      method: info.method,
      url: info.url,
      occurrence,
      ...(callerIdentity === undefined ? {} : { identity: callerIdentity }),
      ...(info.key === undefined ? {} : { key: info.key }),
      ...(info.sdkAttempt === undefined ? {} : { sdkAttempt: info.sdkAttempt }),
      ...(info.sdkMaxAttempts === undefined ? {} : { sdkMaxAttempts: info.sdkMaxAttempts }),
      ...(info.sdkInvocationId === undefined ? {} : { sdkInvocationId: info.sdkInvocationId }),
    };
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    if (rule) {
      const faultKey = `${info.operation} ${rule.fault}`;
      faults.set(faultKey, (faults.get(faultKey) ?? 0) + 1);
      if (rule.fault === 'timeout') {
        log.push({ ...entry, fault: rule.fault });
        held.add(req.socket);
        if (rule.holdMs !== undefined) {
          const socket = req.socket;
          setTimeout(() => socket.destroy(), rule.holdMs).unref();
        }
        return;
      }
      if (rule.fault === 'connection-reset') {
        log.push({ ...entry, fault: rule.fault });
        req.socket.destroy();
        return;
      }
      if (rule.fault === 'response-lost') {
        const upstreamStatus = await forward(req, undefined, body);
        log.push({ ...entry, fault: rule.fault, upstreamStatus });
        req.socket.destroy();
        return;
      }
      const status = sendError(rule.fault, info, res);
      log.push({ ...entry, fault: rule.fault, status });
      return;
    }

    const status = replay ? answerFromRecording(replay, info, res) : await forward(req, res, body, info);
    log.push({ ...entry, status });
  }

  function keep(info: AwsProxyRequestInfo, response: Omit<RecordedResponse, 'ambiguous'>): void {
    const shape = replayShape(info);
    const first = recorded.get(shape);
    if (first === undefined) recorded.set(shape, response);
    else if (first.status !== response.status || first.bodyBase64 !== response.bodyBase64) {
      recorded.set(shape, { ...first, ambiguous: true });
    }
  }

  function fires(
    rule: AwsFaultRule,
    index: number,
    info: AwsProxyRequestInfo,
    identity: string,
    occurrence: number,
  ): boolean {
    if (rule.operations !== '*' && !rule.operations.includes(info.operation)) return false;
    if (rule.firstAttempts !== undefined && occurrence >= rule.firstAttempts) return false;
    if (rule.limit !== undefined && (fired.get(index) ?? 0) >= rule.limit) return false;
    if (rule.match && !rule.match(info)) return false;
    const share = rule.share ?? 1;
    return share >= 1 || draw(seed, index, identity, occurrence) < share;
  }

  /** Sends the request upstream; relays the response to `res`, or reads and drops it when `res` is undefined. */
  function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse | undefined,
    body: Buffer,
    info?: AwsProxyRequestInfo,
  ): Promise<number> {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // The Host header is kept as received: the client signed it (SigV4) and the upstream verifies it.
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['content-length'] = body.length;
    return new Promise((resolve, reject) => {
      const upstreamReq = http.request(
        {
          agent,
          protocol: 'http:',
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
        },
        (upstreamRes) => {
          const status = upstreamRes.statusCode ?? 502;
          const responseHeaders: http.OutgoingHttpHeaders = {};
          for (const [name, value] of Object.entries(upstreamRes.headers)) {
            if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
          }
          const chunks: Buffer[] | undefined = options.record && info ? [] : undefined;
          if (chunks) upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
          if (res) {
            res.writeHead(status, responseHeaders);
            upstreamRes.pipe(res);
          } else {
            upstreamRes.resume();
          }
          upstreamRes.on('end', () => {
            if (chunks && info) {
              const headers = responseHeaders as Record<string, string | string[]>;
              keep(info, { status, headers, bodyBase64: Buffer.concat(chunks).toString('base64') });
            }
            resolve(status);
          });
          upstreamRes.on('error', reject);
        },
      );
      upstreamReq.on('error', reject);
      upstreamReq.end(body);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    service: options.service,
    counts: () => Object.fromEntries(counts),
    faultCounts: () => Object.fromEntries(faults),
    requests: () => [...log],
    heldRequests: () => held.size,
    reset() {
      counts = new Map();
      faults = new Map();
      log = [];
      seen = new Map();
      fired = new Map();
    },
    setFaults(next) {
      rules = validateRules(options.service, next);
      fired = new Map();
    },
    setLatency(next) {
      latencyMs = validateLatency(next);
    },
    recordings: () => Object.fromEntries(recorded),
    setReplay(next) {
      // Decoded once here, not per request: a replaying proxy should cost next to nothing per answer.
      replay =
        next === undefined
          ? undefined
          : new Map(
              Object.entries(next).map(([shape, r]) => [
                shape,
                { ...r, body: Buffer.from(r.bodyBase64, 'base64') },
              ]),
            );
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function validateRules(service: AwsProxyService, rules: readonly AwsFaultRule[]): readonly AwsFaultRule[] {
  rules.forEach((rule, i) => {
    const foreign = service === 's3' ? rule.fault in DYNAMODB_ERRORS : rule.fault in S3_ERRORS;
    if (foreign)
      throw new Error(`aws-proxy: faults[${i}].fault ${rule.fault} cannot be sent by a ${service} proxy`);
    const share = rule.share ?? 1;
    if (!(share >= 0 && share <= 1))
      throw new Error(`aws-proxy: faults[${i}].share is ${share}; must be 0..1`);
    if (
      rule.firstAttempts !== undefined &&
      !(Number.isInteger(rule.firstAttempts) && rule.firstAttempts >= 1)
    ) {
      throw new Error(
        `aws-proxy: faults[${i}].firstAttempts is ${rule.firstAttempts}; must be an integer >= 1`,
      );
    }
    if (rule.limit !== undefined && !(Number.isInteger(rule.limit) && rule.limit >= 0)) {
      throw new Error(`aws-proxy: faults[${i}].limit is ${rule.limit}; must be an integer >= 0`);
    }
  });
  return [...rules];
}

function validateLatency(latencyMs: number): number {
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw new Error(`aws-proxy: latencyMs is ${latencyMs}; must be a finite number >= 0`);
  }
  return latencyMs;
}

/**
 * What decides a recorded response's reuse: the method, the operation and, for S3, the Range. Never the key, the
 * item or a timestamp: the benchmark's objects share one content, and its writes all succeed, so requests of one
 * shape get the same answer (a shape that did not while recording is marked ambiguous).
 */
export function replayShape(info: Pick<AwsProxyRequestInfo, 'method' | 'operation' | 'range'>): string {
  return `${info.method} ${info.operation}${info.range === undefined ? '' : ` ${info.range}`}`;
}

type ReplayedResponse = RecordedResponse & { readonly body: Buffer };

/** Answers from a recording; returns the status sent. */
function answerFromRecording(
  recording: ReadonlyMap<string, ReplayedResponse>,
  info: AwsProxyRequestInfo,
  res: http.ServerResponse,
): number {
  const shape = replayShape(info);
  const recorded = recording.get(shape);
  if (recorded === undefined || recorded.ambiguous) {
    const message = `aws-proxy: ${recorded ? 'ambiguous recording' : 'nothing recorded'} for ${shape}`;
    res.writeHead(501, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(message) });
    res.end(message);
    return 501;
  }
  res.writeHead(recorded.status, recorded.headers as http.OutgoingHttpHeaders);
  res.end(recorded.body);
  return recorded.status;
}

/** A uniform number in [0, 1) that depends only on its inputs. */
function draw(seed: number, ruleIndex: number, identity: string, occurrence: number): number {
  const digest = createHash('sha256')
    .update(`${seed}\u0000${ruleIndex}\u0000${identity}\u0000${occurrence}`)
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

function requestIdentity(info: AwsProxyRequestInfo): string {
  if (info.service === 's3') return `${info.method} ${info.url} ${info.range ?? ''}`;
  return `${info.operation} ${createHash('sha256').update(info.body).digest('hex')}`;
}

function describe(service: AwsProxyService, req: http.IncomingMessage, body: Buffer): AwsProxyRequestInfo {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const attemptHeader = /attempt=(\d+); *max=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''));
  const invocationId = req.headers['amz-sdk-invocation-id'];
  const common = {
    service,
    method,
    url,
    headers: req.headers,
    body,
    ...(typeof invocationId === 'string' ? { sdkInvocationId: invocationId } : {}),
    ...(attemptHeader
      ? { sdkAttempt: Number(attemptHeader[1]), sdkMaxAttempts: Number(attemptHeader[2]) }
      : {}),
  };
  if (service === 'dynamodb') {
    const target = String(req.headers['x-amz-target'] ?? '');
    return { ...common, operation: target.slice(target.indexOf('.') + 1) || 'Unknown' };
  }
  const parsed = new URL(url, 'http://proxy.invalid');
  const [, bucketPart = '', ...keyParts] = parsed.pathname.split('/');
  const bucket = decodeURIComponent(bucketPart);
  const rawKey = keyParts.join('/');
  const range = req.headers.range;
  const query = parsed.searchParams;
  const s3 = {
    ...common,
    ...(bucket === '' ? {} : { bucket }),
    ...(rawKey === '' ? {} : { key: decodeURIComponent(rawKey) }),
    ...(range === undefined ? {} : { range }),
  };
  return { ...s3, operation: s3Operation(method, bucket, rawKey, query, req.headers) };
}

function s3Operation(
  method: string,
  bucket: string,
  rawKey: string,
  query: URLSearchParams,
  headers: http.IncomingHttpHeaders,
): string {
  if (bucket === '') return method === 'GET' ? 'ListBuckets' : `${titleCase(method)}Service`;
  if (rawKey === '') {
    if (method === 'GET' && [...query.keys()].every((k) => LIST_PARAMS.has(k))) return 'ListObjects';
    if (method === 'POST' && query.has('delete')) return 'DeleteObjects';
    if (query.size === 0) {
      const bucketOps: Record<string, string> = {
        PUT: 'CreateBucket',
        HEAD: 'HeadBucket',
        DELETE: 'DeleteBucket',
      };
      const op = bucketOps[method];
      if (op) return op;
    }
    return `${titleCase(method)}Bucket`;
  }
  if (query.has('uploads') || query.has('uploadId') || query.has('tagging') || query.has('acl')) {
    return `${titleCase(method)}Object`;
  }
  switch (method) {
    case 'GET':
      return headers.range === undefined ? 'GetObject' : 'GetObjectRange';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      return headers['x-amz-copy-source'] === undefined ? 'PutObject' : 'CopyObject';
    case 'DELETE':
      return 'DeleteObject';
    default:
      return `${titleCase(method)}Object`;
  }
}

const LIST_PARAMS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'marker',
  'continuation-token',
  'start-after',
  'encoding-type',
  'fetch-owner',
  'x-id',
]);

function titleCase(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

function sendError(fault: AwsFault, info: AwsProxyRequestInfo, res: http.ServerResponse): number {
  const requestId = createHash('sha256')
    .update(`${info.url}${Date.now()}${Math.random()}`)
    .digest('hex')
    .slice(0, 16);
  if (fault in DYNAMODB_ERRORS) {
    const error = DYNAMODB_ERRORS[fault as keyof typeof DYNAMODB_ERRORS];
    const body = JSON.stringify({ __type: error.type, message: error.message });
    res.writeHead(error.status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
    });
    res.end(body);
    return error.status;
  }
  const error = S3_ERRORS[fault as keyof typeof S3_ERRORS];
  const headers = { 'x-amz-request-id': requestId, 'x-amz-id-2': requestId };
  if (info.method === 'HEAD') {
    // S3 answers HEAD errors with the status only; the SDK names them from the status (NotFound, ...).
    res.writeHead(error.status, headers);
    res.end();
    return error.status;
  }
  const resource = info.key === undefined ? '' : `<Key>${escapeXml(info.key)}</Key>`;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${error.message}</Message>` +
    `${resource}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
  res.writeHead(error.status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  return error.status;
}

function escapeXml(text: string): string {
  // Control characters are not allowed in XML 1.0, even as references; S3 keys may hold them, so they are dropped.
  const printable = [...text].filter(
    (c) => c.charCodeAt(0) >= 0x20 || c === '\t' || c === '\n' || c === '\r',
  );
  return printable.join('').replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
