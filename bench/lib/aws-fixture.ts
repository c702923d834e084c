import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type AwsProxy, startAwsProxy } from '../../devkit/aws-proxy.ts';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  localAwsEnvironment,
  s3ClientConfig,
  startLocalAws,
} from '../../devkit/aws-servers.ts';
import { processorEnvironment } from '../../lib/config/processor-environment.ts';
import { projectStage } from '../../lib/config/resolve.ts';

/** An object the fixture put into the bucket, with what an S3 event announces about it. */
export interface SeededObject {
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
}

/**
 * Local S3 and DynamoDB (s3rver, dynalite) with a counting, latency-adding proxy in front of each. The handler
 * under test talks only to the proxies; the fixture's own set-up traffic (seeding objects, reading items back)
 * goes straight to the servers, so the proxies count the handler's requests and nothing else.
 */
export interface AwsFixture {
  readonly bucket: string;
  readonly table: string;
  /** Table of the Powertools idempotency peer (bench/reference): partition key `id`, as its persistence layer expects. */
  readonly idempotencyTable: string;
  /** s3rver and dynalite themselves, without the proxies (a stand-in records from them). */
  readonly emulators: { readonly s3Endpoint: string; readonly dynamodbEndpoint: string };
  readonly s3Proxy: AwsProxy;
  readonly dynamodbProxy: AwsProxy;
  /** The processor's environment for the given stage settings, pointed at the proxies. */
  handlerEnvironment(overrides?: Record<string, string>): Record<string, string>;
  /** Puts objects directly into s3rver (not counted). */
  putObjects(keys: readonly string[], body: Uint8Array, contentType: string): Promise<SeededObject[]>;
  deleteObjects(keys: readonly string[]): Promise<void>;
  /** Reads an item directly from dynalite (not counted). */
  item(key: string): Promise<Record<string, string> | undefined>;
  /** Sets the latency both proxies add to every request. */
  setLatency(ms: number): void;
  /** Zeroes both proxies' counts. */
  resetCounts(): void;
  /** Requests per operation since the last reset, S3 and DynamoDB together. */
  counts(): Record<string, number>;
  close(): Promise<void>;
}

/** Starts the servers, the proxies, the bucket and the table. The stage supplies the processor's settings. */
export async function startAwsFixture(stageName = 'prod'): Promise<AwsFixture> {
  const stage = projectStage(stageName, { sandboxAccount: 'optional' });
  const bucket = 'bench-uploads';
  const table = 'bench-objects';
  const idempotencyTable = 'bench-idempotency';
  let aws: LocalAws | undefined;
  const proxies: AwsProxy[] = [];
  try {
    aws = await startLocalAws();
    await createBucket(aws.s3Endpoint, bucket);
    await createObjectTable(aws.dynamodbEndpoint, table);
    const dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
    await dynamodb.send(
      new CreateTableCommand({
        TableName: idempotencyTable,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await waitUntilTableExists(
      { client: dynamodb, maxWaitTime: 30, minDelay: 0.02, maxDelay: 0.5 },
      { TableName: idempotencyTable },
    );
    const s3Proxy = await startAwsProxy({ service: 's3', upstream: aws.s3Endpoint });
    proxies.push(s3Proxy);
    const dynamodbProxy = await startAwsProxy({ service: 'dynamodb', upstream: aws.dynamodbEndpoint });
    proxies.push(dynamodbProxy);
    const s3 = new S3Client(s3ClientConfig(aws));
    const local = aws;

    return {
      bucket,
      table,
      idempotencyTable,
      emulators: { s3Endpoint: local.s3Endpoint, dynamodbEndpoint: local.dynamodbEndpoint },
      s3Proxy,
      dynamodbProxy,
      handlerEnvironment: (overrides = {}) => ({
        ...processorEnvironment(stage, table),
        ...localAwsEnvironment({
          s3Endpoint: s3Proxy.endpoint,
          dynamodbEndpoint: dynamodbProxy.endpoint,
          region: local.region,
        }),
        ...overrides,
      }),
      async putObjects(keys, body, contentType) {
        const seeded: SeededObject[] = [];
        // Bounded so that seeding a large batch does not open hundreds of sockets at once.
        for (let i = 0; i < keys.length; i += 25) {
          const chunk = keys.slice(i, i + 25);
          const results = await Promise.all(
            chunk.map((key) =>
              s3.send(
                new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
              ),
            ),
          );
          results.forEach((r, j) => {
            seeded.push({
              key: chunk[j] as string,
              size: body.length,
              eTag: (r.ETag ?? '').replace(/"/g, ''),
            });
          });
        }
        return seeded;
      },
      async deleteObjects(keys) {
        await Promise.all(keys.map((key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))));
      },
      async item(key) {
        const { Item } = await dynamodb.send(
          new GetItemCommand({ TableName: table, Key: { objectKey: { S: key } }, ConsistentRead: true }),
        );
        if (!Item) return undefined;
        return Object.fromEntries(
          Object.entries(Item).map(([name, value]) => [name, value.S ?? value.N ?? '']),
        );
      },
      setLatency(ms) {
        s3Proxy.setLatency(ms);
        dynamodbProxy.setLatency(ms);
      },
      resetCounts() {
        s3Proxy.reset();
        dynamodbProxy.reset();
      },
      counts: () => ({ ...s3Proxy.counts(), ...dynamodbProxy.counts() }),
      async close() {
        s3.destroy();
        dynamodb.destroy();
        await Promise.all(proxies.map((p) => p.stop()));
        await local.close();
      },
    };
  } catch (error) {
    await Promise.all(proxies.map((p) => p.stop()));
    await aws?.close();
    throw error;
  }
}
