import { createHash, createHmac } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, createObjectTable, type LocalAws, startLocalAws } from '../../devkit/aws-servers.ts';

/**
 * s3rver's two corrected differences from S3 (devkit/s3rver-internals.ts): any credentials, through the SDK and
 * through requests signed the way the AWS CLI signs them; and whole, consistent objects under fast overwrites.
 */

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ region: 'eu-west-1' });
  await createBucket(aws.s3Endpoint, 'creds');
  await createObjectTable(aws.dynamodbEndpoint, 'creds-objects');
});
afterAll(async () => {
  await aws?.close();
});

/** Credentials a developer's shell may carry: LocalStack's convention, an IAM user's, an SSO session's. */
const OTHER_CREDENTIALS = [
  { accessKeyId: 'test', secretAccessKey: 'test' },
  { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  { accessKeyId: 'ASIAXXXXXXXXXXXXXXXX', secretAccessKey: 'secret', sessionToken: 'token/with+odd=chars' },
];

describe('any well-formed credentials', () => {
  it.each(OTHER_CREDENTIALS)(
    'are accepted by the SDK on both endpoints ($accessKeyId)',
    async (credentials) => {
      const s3 = new S3Client({
        endpoint: aws.s3Endpoint,
        forcePathStyle: true,
        region: aws.region,
        credentials,
      });
      const dynamodb = new DynamoDBClient({
        endpoint: aws.dynamodbEndpoint,
        region: aws.region,
        credentials,
      });
      try {
        const key = `sdk/${credentials.accessKeyId}.txt`;
        await s3.send(new PutObjectCommand({ Bucket: 'creds', Key: key, Body: 'hello' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'creds', Key: key }));
        expect(await got.Body?.transformToString()).toBe('hello');
        const listed = await s3.send(new ListObjectsCommand({ Bucket: 'creds', Prefix: 'sdk/' }));
        expect(listed.Contents?.map((o) => o.Key)).toContain(key);
        await dynamodb.send(
          new PutItemCommand({ TableName: 'creds-objects', Item: { objectKey: { S: key } } }),
        );
        const { Item } = await dynamodb.send(
          new GetItemCommand({ TableName: 'creds-objects', Key: { objectKey: { S: key } } }),
        );
        expect(Item?.objectKey?.S).toBe(key);
      } finally {
        s3.destroy();
        dynamodb.destroy();
      }
    },
  );

  const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

  /**
   * An HTTP request signed with SigV4 in the Authorization header, as botocore (AWS CLI v1 and v2) signs it:
   * host, x-amz-date and x-amz-content-sha256 (plus the request's own headers) signed, the payload hashed.
   * Written out (the algorithm of the AWS SigV4 reference) rather than taken from @smithy/signature-v4: declaring
   * that as a dev dependency would mark a component the function ships as build-only in the SBOM gate, and a
   * signer independent of the SDK's is the better witness for requests that do not come from the SDK.
   */
  async function sigV4Fetch(
    service: 's3' | 'dynamodb',
    url: URL,
    init: { method: string; headers?: Record<string, string>; body?: string },
  ): Promise<Response> {
    const body = init.body ?? '';
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      host: url.host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': sha256(body),
      ...Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
    const names = Object.keys(headers).sort();
    const canonical = [
      init.method,
      url.pathname
        .split('/')
        .map((s) => encodeURIComponent(decodeURIComponent(s)))
        .join('/'),
      [...url.searchParams]
        .sort()
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&'),
      ...names.map((n) => `${n}:${headers[n]?.trim()}`),
      '',
      names.join(';'),
      headers['x-amz-content-sha256'],
    ].join('\n');
    const scope = `${day}/${aws.region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    // The signing key, from a secret the server has never seen.
    let key = hmac('AWS4anything', day);
    for (const part of [aws.region, service, 'aws4_request']) key = hmac(key, part);
    const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
    const { host: _host, ...sent } = headers;
    return fetch(url, {
      method: init.method,
      headers: {
        ...sent,
        authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
      },
      ...(init.method === 'GET' ? {} : { body }),
    });
  }

  it('are accepted in requests signed as the AWS CLI signs them (SigV4 header)', async () => {
    const object = new URL(`${aws.s3Endpoint}/creds/cli/v4.txt`);
    const put = await sigV4Fetch('s3', object, { method: 'PUT', body: 'from the cli' });
    expect(put.status).toBe(200);
    const get = await sigV4Fetch('s3', object, { method: 'GET' });
    expect([get.status, await get.text()]).toEqual([200, 'from the cli']);

    const scan = await sigV4Fetch('dynamodb', new URL(`${aws.dynamodbEndpoint}/`), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.DescribeTable',
      },
      body: JSON.stringify({ TableName: 'creds-objects' }),
    });
    expect(scan.status).toBe(200);
    expect(((await scan.json()) as { Table: { TableName: string } }).Table.TableName).toBe('creds-objects');
  });

  it('are accepted in SigV2 requests and presigned URLs (what AWS CLI v1 `s3 presign` issues)', async () => {
    // SigV2: HMAC-SHA1 over the verb, MD5, type, date and resource, with the caller's secret (not s3rver's).
    const date = new Date().toUTCString();
    const resource = '/creds/cli/v2.txt';
    const sign = (stringToSign: string) =>
      createHmac('sha1', 'not-s3rvers').update(stringToSign).digest('base64');
    const put = await fetch(`${aws.s3Endpoint}${resource}`, {
      method: 'PUT',
      headers: {
        date,
        'content-type': 'text/plain',
        authorization: `AWS test:${sign(`PUT\n\ntext/plain\n${date}\n${resource}`)}`,
      },
      body: 'v2',
    });
    expect(put.status).toBe(200);
    const expires = Math.floor(Date.now() / 1000) + 300;
    const query = new URLSearchParams({
      AWSAccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      Expires: String(expires),
      Signature: sign(`GET\n\n\n${expires}\n${resource}`),
    });
    const presigned = await fetch(`${aws.s3Endpoint}${resource}?${query}`);
    expect([presigned.status, await presigned.text()]).toEqual([200, 'v2']);
  });
});

describe('CopyObject', () => {
  it.each(['a#b.txt', 'a?b.txt', 'a+b.txt', 'a&b=c,d;e:f@g$.txt', 'a b%c.txt', 'dir/é€.txt'])(
    'copies from a key with reserved characters (%s), as S3 does',
    async (key) => {
      const s3 = new S3Client({
        endpoint: aws.s3Endpoint,
        forcePathStyle: true,
        region: aws.region,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await s3.send(new PutObjectCommand({ Bucket: 'creds', Key: `copy/${key}`, Body: key }));
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'creds',
          Key: `copied/${key}`,
          CopySource: `creds/${encodeURIComponent(`copy/${key}`)}`,
        }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: 'creds', Key: `copied/${key}` }));
      expect(await got.Body?.transformToString()).toBe(key);
      s3.destroy();
    },
  );
});

describe('fast overwrites of one key', () => {
  /** Each version is SIZE bytes of one value, so a read shows which version it got and whether it is whole. */
  const SIZE = 256 * 1024;
  const version = (n: number) => Buffer.alloc(SIZE, n);
  const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

  it('serve one whole version to every read, as S3 does (no reset connection, no torn or mislabelled body)', async () => {
    await createBucket(aws.s3Endpoint, 'overwrites');
    // No SDK retries: a read that failed once must show, not be hidden by a second attempt.
    const s3 = new S3Client({
      endpoint: aws.s3Endpoint,
      forcePathStyle: true,
      region: aws.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const Bucket = 'overwrites';
    const Key = 'hot.bin';
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: version(0) }));
    const problems: string[] = [];
    let writing = true;
    let reads = 0;
    const writer = async (offset: number) => {
      for (let i = 1; i <= 20; i++)
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: version(offset + i) }));
    };
    const reader = async (ranged: boolean) => {
      while (writing && reads < 2_000) {
        reads++;
        try {
          const got = await s3.send(
            new GetObjectCommand({ Bucket, Key, ...(ranged ? { Range: 'bytes=0-65535' } : {}) }),
          );
          const body = await (
            got.Body as { transformToByteArray(): Promise<Uint8Array> }
          ).transformToByteArray();
          const value = body[0] ?? -1;
          if (body.length !== (ranged ? 65_536 : SIZE)) problems.push(`length ${body.length}`);
          else if (body.some((b) => b !== value)) problems.push('a body mixing two versions');
          else if (got.ETag !== `"${md5(version(value))}"`)
            problems.push(`ETag ${got.ETag} not of version ${value}`);
        } catch (error) {
          problems.push(`${(error as Error).name} ${(error as { code?: string }).code ?? ''}`.trim());
        }
      }
    };
    const readers = [reader(true), reader(false), reader(false)];
    await Promise.all([writer(0), writer(100)]);
    writing = false;
    await Promise.all(readers);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    s3.destroy();

    expect(reads).toBeGreaterThan(20);
    expect(problems).toEqual([]);
    expect(head.ContentLength).toBe(SIZE);
    // No staged upload is ever listed as an object.
    const listing = await fetch(`${aws.s3Endpoint}/overwrites`).then((r) => r.text());
    expect(listing.match(/<Key>/g)).toHaveLength(1);
  });
});
