// The cold-start floor for any handler that talks to both S3 and DynamoDB: it constructs the two SDK clients at
// module scope, as the processor does, and nothing else. Bundled with the processor's own esbuild options, the
// difference between the two bundles is what the processor's code and its other dependencies cost.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';

const s3 = new S3Client({});
const dynamodb = new DynamoDBClient({});

/** Keeps both clients reachable so the bundler cannot drop them as dead code. */
export const handler = async (): Promise<{ batchItemFailures: [] }> => {
  void s3;
  void dynamodb;
  return { batchItemFailures: [] };
};
