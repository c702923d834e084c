/**
 * What every integration test needs against either target: clients, a unique key prefix for the run, uploads
 * that are tracked for cleanup, and a bounded wait for the item an upload should produce.
 */
import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_AWS_CREDENTIALS } from '../../devkit/aws-servers.ts';
import { integTestKeyPrefix } from '../../lib/app-stack/integ-test-role.ts';
import { abandoningHungRequests, type HttpTimeouts } from '../../services/processor/src/clients.ts';
import { INTEG_HTTP_TIMEOUTS, type IntegTarget, roleCredentials } from './target.ts';

/** The item as the tests read it: strings and numbers, by attribute name. */
export type Item = Readonly<Record<string, string | number>>;

export interface UploadResult {
  readonly key: string;
  /** ETag as S3 returned it, without quotes: what the item's `eTag` must equal. */
  readonly eTag: string;
}

const POLL_INTERVAL_MS = 250;

export class IntegHarness {
  readonly target: IntegTarget;
  /**
   * `<stage key prefix>integ-tests/<run-id>/`: nothing outside it is touched, so runs never collide, and the
   * objects raise notifications under the stage's key filter like any upload.
   */
  readonly prefix: string;
  private readonly s3: S3Client;
  private readonly dynamodb: DynamoDBClient;
  private readonly uploaded = new Set<string>();

  constructor(target: IntegTarget, timeouts: HttpTimeouts = INTEG_HTTP_TIMEOUTS) {
    this.target = target;
    const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
    this.prefix = `${integTestKeyPrefix(target.keyPrefix)}${runId}/`;
    const credentials =
      target.kind === 'local' ? LOCAL_AWS_CREDENTIALS : roleCredentials(target, `integ-${runId}`);
    const common = {
      region: target.region,
      requestHandler: abandoningHungRequests(timeouts),
      ...(credentials && { credentials }),
    };
    this.s3 = new S3Client({
      ...common,
      ...(target.s3Endpoint && { endpoint: target.s3Endpoint, forcePathStyle: true }),
    });
    this.dynamodb = new DynamoDBClient({
      ...common,
      ...(target.dynamodbEndpoint && { endpoint: target.dynamodbEndpoint }),
    });
  }

  /** A test object's key: under the run's prefix, ending with the stage's key suffix filter (if any). */
  key(name: string): string {
    return `${this.prefix}${name}${this.target.keySuffix}`;
  }

  async put(key: string, body: Uint8Array, contentType?: string): Promise<UploadResult> {
    this.uploaded.add(key);
    const response = await this.s3.send(
      new PutObjectCommand({
        Bucket: this.target.bucket,
        Key: key,
        Body: body,
        ...(contentType !== undefined && { ContentType: contentType }),
      }),
    );
    return { key, eTag: (response.ETag ?? '').replaceAll('"', '') };
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.target.bucket, Key: key }));
  }

  async item(key: string): Promise<Item | undefined> {
    const { Item: raw } = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.target.table,
        Key: { objectKey: { S: key } },
        ConsistentRead: true,
      }),
    );
    return raw === undefined ? undefined : plain(raw);
  }

  /**
   * Polls the item of `key` until `until` accepts it, at most the target's poll timeout. On timeout the error
   * shows the last item seen, which is usually the whole diagnosis.
   */
  async waitForItem(key: string, until: (item: Item) => boolean, what: string): Promise<Item> {
    const deadline = Date.now() + this.target.pollTimeoutMs;
    let last: Item | undefined;
    for (;;) {
      last = await this.item(key);
      if (last !== undefined && until(last)) return last;
      if (Date.now() >= deadline) {
        throw new Error(
          `no item for ${JSON.stringify(key)} ${what} within ${this.target.pollTimeoutMs} ms on ${this.target.description}; last seen: ${JSON.stringify(last) ?? 'none'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  /**
   * Deletes every object this run uploaded, waits until each item says DELETED (so no work of this run is still in
   * flight), then deletes those items: a run leaves nothing behind in the bucket or the table. The test role may
   * delete items only under `integ-tests/`. Each key is cleaned on its own, so one that never reads DELETED does
   * not leave the other keys' items behind; the failures are then thrown together, naming their keys.
   */
  async cleanUp(): Promise<void> {
    const results = await Promise.allSettled(
      [...this.uploaded].map(async (key) => {
        await this.delete(key);
        await this.waitForItem(key, (i) => i.status === 'DELETED', 'marked DELETED');
        await this.dynamodb.send(
          new DeleteItemCommand({ TableName: this.target.table, Key: { objectKey: { S: key } } }),
        );
        this.uploaded.delete(key);
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `cleanup left ${failures.length} key(s) behind: ${failures.map((e) => e.message).join('; ')}`,
      );
    }
  }

  destroy(): void {
    this.s3.destroy();
    this.dynamodb.destroy();
  }
}

function plain(item: Record<string, AttributeValue>): Item {
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value.S !== undefined) out[name] = value.S;
    else if (value.N !== undefined) out[name] = Number(value.N);
  }
  return out;
}

/** Smallest valid PNG (1x1, transparent). */
export const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f5b3a90000000049454e44ae426082',
  'hex',
);
/** Start of a JPEG (SOI + JFIF APP0); detection needs only the signature. */
export const JPEG = Buffer.concat([
  Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
  randomBytes(64),
  Buffer.from('ffd9', 'hex'),
]);
/** An empty ZIP archive (end-of-central-directory record only): a type no stage allows. */
export const ZIP = Buffer.from('504b0506000000000000000000000000000000000000', 'hex');
