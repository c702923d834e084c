/**
 * The Lambda entry module itself: configuration read from the environment at cold start (and refused with the
 * variable's name when wrong), clients pointed at S3/DynamoDB-compatible servers by the SDK's standard variables.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createBucket,
  createObjectTable,
  dynamodbClientConfig,
  type LocalAws,
  localAwsEnvironment,
  s3ClientConfig,
  startLocalAws,
} from '../../../devkit/aws-servers.ts';
import { created, lambdaContext, notificationBody, sqsEvent, sqsMessage } from './support/events.ts';
import { type CapturedOutput, captureOutput } from './support/output.ts';

const TABLE = 'objects-entry';
const BUCKET = 'uploads-bucket';
let aws: LocalAws;
let output: CapturedOutput;

beforeAll(async () => {
  output = captureOutput();
  aws = await startLocalAws();
  await createBucket(aws.s3Endpoint, BUCKET);
  await createObjectTable(aws.dynamodbEndpoint, TABLE);
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});
afterAll(async () => {
  await aws.close();
  output.restore();
});

function stubProcessorEnvironment(overrides: Record<string, string> = {}) {
  const env = {
    ...localAwsEnvironment(aws),
    TABLE_NAME: TABLE,
    MAX_OBJECT_BYTES: '1048576',
    ALLOWED_CONTENT_TYPES: 'text/plain',
    PROCESSING_CONCURRENCY: '2',
    POWERTOOLS_SERVICE_NAME: 'entry-test',
    POWERTOOLS_METRICS_NAMESPACE: 'EntryTest',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    STAGE_NAME: 'local',
    ...overrides,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}

describe('handler.ts', () => {
  it('processes a batch against the servers named by AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB', async () => {
    stubProcessorEnvironment();
    const { handler } = await import('../src/handler.ts');
    const s3 = new S3Client(s3ClientConfig(aws));
    const dynamodb = new DynamoDBClient(dynamodbClientConfig(aws));
    try {
      const put = await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'notes/a b.txt', Body: 'hi', ContentType: 'text/plain' }),
      );
      const eTag = (put.ETag ?? '').replaceAll('"', '');

      const response = await handler(
        sqsEvent(sqsMessage(notificationBody(created('notes/a b.txt', 2, eTag, '01')))),
        lambdaContext('req-entry'),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: TABLE, Key: { objectKey: { S: 'notes/a b.txt' } } }),
      );
      expect(Item?.status).toEqual({ S: 'PROCESSED' });
      expect(output.logs('Object PROCESSED').at(-1)).toMatchObject({
        service: 'entry-test',
        stage: 'local',
        function_request_id: 'req-entry',
      });
    } finally {
      s3.destroy();
      dynamodb.destroy();
    }
  });

  it('fails to load, naming the variable, when the environment is invalid', async () => {
    stubProcessorEnvironment({ MAX_OBJECT_BYTES: 'lots' });
    await expect(import('../src/handler.ts')).rejects.toThrow(/MAX_OBJECT_BYTES is "lots"/);
  });
});
