/**
 * The floor of this job's CPU and latency: the least any handler of it does, with the AWS SDK as it comes. Per SQS
 * message it parses the body, makes one ranged GetObject (the first bytes) and one conditional PutItem (one item
 * per object, newer sequencers win), every record of the batch at once. No validation of the event beyond
 * JSON.parse, no content check, no logs, no metrics, no concurrency bound, no Powertools; default SDK settings
 * (only path-style addressing, which a local endpoint needs). Bundled with the processor's esbuild options, so it
 * runs the same SDK code the processor does, as the SDK configures it by default.
 *
 * `SDK_CANDIDATE` (read once, at load) applies ONE SDK setting on top of the defaults, so the benchmark can
 * measure what each setting the processor might change saves, on a handler that does nothing else.
 */
import { DynamoDBClient, type DynamoDBClientConfig, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createClients } from '../../services/processor/src/clients.ts';

/** SDK settings the benchmark measures one at a time (bench/sdk-candidates.ts says what each one is). */
export const SDK_CANDIDATES = [
  'checksums-when-required',
  'account-id-endpoint-disabled',
  'fixed-endpoints',
  'keep-alive-sockets',
  'cache-middleware',
  'request-timeouts',
  'disable-s3-express-session-auth',
] as const;
export type SdkCandidate = (typeof SDK_CANDIDATES)[number];

/** `SDK_CANDIDATE` value that builds the clients with services/processor/src/clients.ts instead. */
export const PROCESSOR_CLIENTS = 'processor-clients';
/** `SDK_CANDIDATE` value of a second handler with default settings: how far two identical handlers scatter. */
export const CONTROL = 'control';

function candidateConfig(candidate: string | undefined): {
  readonly s3: S3ClientConfig;
  readonly dynamodb: DynamoDBClientConfig;
} {
  switch (candidate) {
    case undefined:
    case '':
    case CONTROL:
      return { s3: {}, dynamodb: {} };
    case 'checksums-when-required':
      return {
        s3: { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' },
        dynamodb: {},
      };
    case 'account-id-endpoint-disabled':
      return { s3: {}, dynamodb: { accountIdEndpointMode: 'disabled' } };
    case 'fixed-endpoints': {
      // What the rule sets resolve to here (path-style S3 on a custom endpoint), computed without them. The S3
      // auth scheme is the one S3's rules return: SigV4 without double-encoding the path.
      const region = process.env.AWS_REGION ?? 'eu-west-1';
      const s3Base = process.env.AWS_ENDPOINT_URL_S3 ?? `https://s3.${region}.amazonaws.com`;
      const dynamodbUrl = new URL(
        process.env.AWS_ENDPOINT_URL_DYNAMODB ?? `https://dynamodb.${region}.amazonaws.com`,
      );
      const authSchemes = [
        {
          name: 'sigv4' as const,
          signingName: 's3',
          signingRegion: region,
          disableDoubleEncoding: true,
          properties: {},
        },
      ];
      const s3Urls = new Map<string, URL>();
      return {
        s3: {
          endpointProvider: (params: { Bucket?: string }) => {
            const bucket = params.Bucket ?? '';
            const url = s3Urls.get(bucket) ?? new URL(`${s3Base}/${bucket}`);
            s3Urls.set(bucket, url);
            return { url, properties: { authSchemes } };
          },
        },
        dynamodb: { endpointProvider: () => ({ url: dynamodbUrl }) },
      };
    }
    case 'request-timeouts': {
      const requestHandler = { connectionTimeout: 2_000, requestTimeout: 3_000, throwOnRequestTimeout: true };
      return { s3: { requestHandler }, dynamodb: { requestHandler } };
    }
    case 'disable-s3-express-session-auth':
      return { s3: { disableS3ExpressSessionAuth: true }, dynamodb: {} };
    case 'cache-middleware':
      return { s3: { cacheMiddleware: true }, dynamodb: { cacheMiddleware: true } };
    case 'keep-alive-sockets': {
      const requestHandler = { httpAgent: { keepAlive: true, maxSockets: 100 } };
      return { s3: { requestHandler }, dynamodb: { requestHandler } };
    }
    default:
      throw new Error(
        `SDK_CANDIDATE is "${candidate}"; expected one of ${[...SDK_CANDIDATES, PROCESSOR_CLIENTS, CONTROL].join(', ')}`,
      );
  }
}

function createFloorClients(candidate: string | undefined): { s3: S3Client; dynamodb: DynamoDBClient } {
  // Every setting the processor's own clients apply at once: what they save together.
  if (candidate === PROCESSOR_CLIENTS) {
    return createClients({
      s3Endpoint: process.env.AWS_ENDPOINT_URL_S3,
      dynamodbEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
    });
  }
  const config = candidateConfig(candidate);
  return {
    s3: new S3Client({
      ...config.s3,
      ...(process.env.AWS_ENDPOINT_URL_S3 !== undefined && { forcePathStyle: true }),
    }),
    dynamodb: new DynamoDBClient(config.dynamodb),
  };
}

const { s3, dynamodb } = createFloorClients(process.env.SDK_CANDIDATE);
const tableName = process.env.TABLE_NAME;

interface S3Notification {
  readonly Records: readonly {
    readonly eventName: string;
    readonly eventTime: string;
    readonly s3: {
      readonly bucket: { readonly name: string };
      readonly object: { readonly key: string; readonly size: number; readonly sequencer: string };
    };
  }[];
}

async function processRecord(message: SQSRecord): Promise<void> {
  const notification = JSON.parse(message.body) as S3Notification;
  for (const record of notification.Records) {
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    const object = await s3.send(
      new GetObjectCommand({ Bucket: record.s3.bucket.name, Key: key, Range: 'bytes=0-4095' }),
    );
    await object.Body?.transformToByteArray();
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          objectKey: { S: key },
          bucket: { S: record.s3.bucket.name },
          status: { S: 'PROCESSED' },
          sequencer: { S: record.s3.object.sequencer },
          eventName: { S: record.eventName },
          eventTime: { S: record.eventTime },
          size: { N: String(record.s3.object.size) },
          eTag: { S: object.ETag ?? '' },
          contentType: { S: object.ContentType ?? '' },
          processedAt: { S: new Date().toISOString() },
        },
        ConditionExpression: 'attribute_not_exists(objectKey) OR sequencer < :sequencer',
        ExpressionAttributeValues: { ':sequencer': { S: record.s3.object.sequencer } },
      }),
    );
  }
}

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const settled = await Promise.allSettled(event.Records.map(processRecord));
  return {
    batchItemFailures: event.Records.flatMap((message, i) =>
      settled[i]?.status === 'rejected' ? [{ itemIdentifier: message.messageId }] : [],
    ),
  };
}
