/** The SDK clients as the handler builds them: retry policy, endpoints, timeouts. Loopback only. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it, vi } from 'vitest';
import { createClients, DYNAMODB_MAX_ATTEMPTS, HTTP_TIMEOUTS, S3_MAX_ATTEMPTS } from '../src/clients.ts';
import { startHungServer } from './support/hung-server.ts';

describe('SDK clients', () => {
  it('configure retries explicitly, whatever AWS_MAX_ATTEMPTS / AWS_RETRY_MODE say', async () => {
    vi.stubEnv('AWS_MAX_ATTEMPTS', '1');
    vi.stubEnv('AWS_RETRY_MODE', 'adaptive');
    const { s3, dynamodb } = createClients({});
    try {
      expect(await s3.config.maxAttempts()).toBe(S3_MAX_ATTEMPTS);
      expect(await dynamodb.config.maxAttempts()).toBe(DYNAMODB_MAX_ATTEMPTS);
      expect(await s3.config.retryStrategy()).toMatchObject({ mode: 'standard' });
      expect(await dynamodb.config.retryStrategy()).toMatchObject({ mode: 'standard' });
    } finally {
      s3.destroy();
      dynamodb.destroy();
      vi.unstubAllEnvs();
    }
  });

  it('use path-style addressing and the given endpoints for S3- and DynamoDB-compatible servers', async () => {
    const { s3, dynamodb } = createClients({
      s3Endpoint: 'http://127.0.0.1:4568',
      dynamodbEndpoint: 'http://127.0.0.1:4567',
    });
    try {
      expect(s3.config.forcePathStyle).toBe(true);
      expect((await s3.config.endpoint?.())?.port).toBe(4568);
      expect((await dynamodb.config.endpoint?.())?.port).toBe(4567);
    } finally {
      s3.destroy();
      dynamodb.destroy();
    }
  });

  it('skip the SDK work this job does not need: per-send middleware resolution and response checksums', async () => {
    const { s3, dynamodb } = createClients({});
    try {
      expect(s3.config.cacheMiddleware).toBe(true);
      expect(dynamodb.config.cacheMiddleware).toBe(true);
      expect(await s3.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await s3.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    } finally {
      s3.destroy();
      dynamodb.destroy();
    }
  });

  it('send the ranged GET without asking S3 for a checksum, and still read the bytes and headers', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(206, {
        'content-type': 'image/png',
        'content-range': 'bytes 0-3/10',
        etag: '"abc"',
        'content-length': 4,
      });
      res.end('\x89PNG');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const { s3, dynamodb } = createClients({ s3Endpoint: endpoint });
    try {
      // Twice: the second send runs on the cached middleware stack and must behave the same.
      for (const key of ['a', 'b']) {
        const response = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: key, Range: 'bytes=0-3' }));
        expect(await response.Body?.transformToByteArray()).toHaveLength(4);
        expect(response).toMatchObject({ ETag: '"abc"', ContentRange: 'bytes 0-3/10' });
      }
      expect(seen).toHaveLength(2);
      for (const headers of seen) {
        expect(headers['x-amz-checksum-mode']).toBeUndefined();
        expect(headers.range).toBe('bytes=0-3');
      }
    } finally {
      s3.destroy();
      dynamodb.destroy();
      vi.unstubAllEnvs();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('abandon an attempt that hangs after the request timeout and retry it, instead of waiting forever', async () => {
    const hung = await startHungServer();
    const { endpoint } = hung;
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const { s3, dynamodb } = createClients({ s3Endpoint: endpoint }, { connectionMs: 200, requestMs: 200 });
    try {
      await expect(
        s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k', Range: 'bytes=0-9' })),
      ).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(hung.requests()).toBe(S3_MAX_ATTEMPTS);
      expect(HTTP_TIMEOUTS.requestMs * (S3_MAX_ATTEMPTS + DYNAMODB_MAX_ATTEMPTS)).toBeLessThan(30_000);
    } finally {
      s3.destroy();
      dynamodb.destroy();
      vi.unstubAllEnvs();
      await hung.close();
    }
  });
});
