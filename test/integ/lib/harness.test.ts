/**
 * The harness's cleanup, with the SDK mocked: one key whose item never reads DELETED must not leave the other
 * keys' items behind, and the failure must still reach the test run.
 */
import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IntegHarness } from '../../../integ/lib/harness.ts';
import type { IntegTarget } from '../../../integ/lib/target.ts';

const s3 = mockClient(S3Client);
const dynamodb = mockClient(DynamoDBClient);

const target: IntegTarget = {
  kind: 'local',
  description: 'mocked target',
  stage: 'dev',
  bucket: 'bucket-under-test',
  table: 'table-under-test',
  region: 'eu-west-1',
  s3Endpoint: 'http://127.0.0.1:1',
  dynamodbEndpoint: 'http://127.0.0.1:1',
  maxObjectBytes: 1024,
  keyPrefix: '',
  keySuffix: '',
  // One read per key: the stuck key fails at once instead of after a poll interval.
  pollTimeoutMs: 0,
};

afterEach(() => {
  s3.reset();
  dynamodb.reset();
});
afterAll(() => {
  s3.restore();
  dynamodb.restore();
});

describe('IntegHarness.key', () => {
  it("names test objects under the stage's key prefix and with its suffix, so their uploads are processed", () => {
    const harness = new IntegHarness({ ...target, keyPrefix: 'uploads/', keySuffix: '.png' });
    const key = harness.key('a b.png');
    expect(key.startsWith('uploads/integ-tests/')).toBe(true);
    expect(key.endsWith('/a b.png.png')).toBe(true);
    expect(key.startsWith(harness.prefix)).toBe(true);
    harness.destroy();
  });

  it('names them under integ-tests/ when the stage has no key filter', () => {
    const harness = new IntegHarness(target);
    expect(harness.key('x')).toMatch(/^integ-tests\/[^/]+\/x$/);
    harness.destroy();
  });
});

describe('IntegHarness.cleanUp', () => {
  it('deletes the items of every key that reached DELETED even when another key never does, then fails naming it', async () => {
    const harness = new IntegHarness(target);
    const done = harness.key('done.txt');
    const stuck = harness.key('stuck.txt');
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    s3.on(DeleteObjectCommand).resolves({});
    dynamodb
      .on(GetItemCommand, { Key: { objectKey: { S: done } } })
      .resolves({ Item: { objectKey: { S: done }, status: { S: 'DELETED' } } })
      .on(GetItemCommand, { Key: { objectKey: { S: stuck } } })
      .resolves({ Item: { objectKey: { S: stuck }, status: { S: 'PROCESSED' } } });
    dynamodb.on(DeleteItemCommand).resolves({});
    try {
      await harness.put(stuck, Buffer.from('a'));
      await harness.put(done, Buffer.from('b'));

      await expect(harness.cleanUp()).rejects.toThrow(/stuck\.txt/);

      const deletedItems = dynamodb
        .commandCalls(DeleteItemCommand)
        .map((call) => call.args[0].input.Key?.objectKey?.S);
      expect(deletedItems).toEqual([done]);
      expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(2);
    } finally {
      harness.destroy();
    }
  });
});
