/**
 * An HTTP proxy in front of a DynamoDB-compatible server that answers chosen requests with DynamoDB errors, so
 * that the real SDK client (with the processor's retry configuration) meets throttling and server faults.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** HTTP status: 400 for throttling, 500 for an internal error. */
  readonly status: number;
  /** DynamoDB error type, e.g. `ProvisionedThroughputExceededException`. */
  readonly type: string;
  /** How many matching requests fail before the proxy lets them through. @default Infinity */
  readonly times?: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Makes writes (PutItem/UpdateItem) of this object key fail. */
  failWrites(objectKey: string, fault: Fault): void;
  /** Requests seen for an object key, faulted or forwarded. */
  requestsFor(objectKey: string): number;
  close(): Promise<void>;
}

const body = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults = new Map<string, { fault: Fault; remaining: number }>();
  const seen = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const payload = await body(req);
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const parsed = JSON.parse(payload.toString('utf8') || '{}') as {
      Item?: { objectKey?: { S?: string } };
      Key?: { objectKey?: { S?: string } };
    };
    const key = parsed.Item?.objectKey?.S ?? parsed.Key?.objectKey?.S;
    if (key !== undefined) seen.set(key, (seen.get(key) ?? 0) + 1);
    const rule = key === undefined ? undefined : faults.get(key);
    if (rule !== undefined && rule.remaining > 0 && (operation === 'PutItem' || operation === 'UpdateItem')) {
      rule.remaining -= 1;
      res.writeHead(rule.fault.status, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(
        JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${rule.fault.type}`,
          message: 'injected',
        }),
      );
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).flatMap(([k, v]) =>
        typeof v === 'string' && k !== 'host' ? [[k, v]] : [],
      ),
    );
    const upstream = await fetch(`${target}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      body: payload,
    });
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failWrites: (objectKey, fault) =>
      faults.set(objectKey, { fault, remaining: fault.times ?? Number.POSITIVE_INFINITY }),
    requestsFor: (objectKey) => seen.get(objectKey) ?? 0,
    close: async () => {
      const closing = new Promise<void>((resolve, reject) =>
        server.close((e) => (e ? reject(e) : resolve())),
      );
      server.closeAllConnections();
      await closing;
    },
  };
}
