/**
 * Every SDK client the repository builds outside the handler gives up on a hung attempt and retries it, instead of
 * waiting forever: the operator tools and the drift check, the local servers' clients (tests, the local
 * environment, benchmarks), and the integration harness and its stage lookup. Each is pointed at a server that
 * accepts requests and never answers; the control, a client without the setting, is still waiting when all of them
 * have failed, so this test fails if the setting goes.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dynamodbClientConfig, LOCAL_HTTP_TIMEOUTS, s3ClientConfig } from '../devkit/aws-servers.ts';
import { IntegHarness } from '../integ/lib/harness.ts';
import { INTEG_HTTP_TIMEOUTS, stageLookupClients } from '../integ/lib/target.ts';
import { HTTP_TIMEOUTS } from '../services/processor/src/clients.ts';
import { type HungServer, startHungServer } from '../services/processor/test/support/hung-server.ts';
import { main as driftCheck } from '../tools/drift-check.ts';
import { EXIT, explainAwsError } from '../tools/lib/cli.ts';
import { clientConfig, LOOPBACK_CREDENTIALS, TOOL_HTTP_TIMEOUTS } from '../tools/lib/targets.ts';

/** Short enough for a test; the defaults are checked below to be finite. */
const SHORT = { connectionMs: 200, requestMs: 200 } as const;
/** The SDK's default attempts for a service (3; DynamoDB's is 4 in this SDK), which none of these clients changes. */
async function defaultAttempts(
  Client: new (config: { region: string }) => { config: { maxAttempts(): Promise<number> }; destroy(): void },
) {
  return withClient(new Client({ region: REGION }), (c) => c.config.maxAttempts());
}
/** The most attempts any of them makes. */
const MAX_ATTEMPTS = 4;
const REGION = 'eu-west-1';

let hung: HungServer;
beforeAll(async () => {
  hung = await startHungServer();
});
afterAll(() => hung?.close());

/** `call` on a new client, which is destroyed after it whatever the outcome. */
async function withClient<C extends { destroy(): void }, T>(
  client: C,
  call: (c: C) => Promise<T>,
): Promise<T> {
  try {
    return await call(client);
  } finally {
    client.destroy();
  }
}

/** `call` with the SDK's standard variables pointing every service at `endpoint`, with throwaway keys. */
async function withEndpointEnv<T>(endpoint: string, call: () => Promise<T>): Promise<T> {
  vi.stubEnv('AWS_ENDPOINT_URL', endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOOPBACK_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOOPBACK_CREDENTIALS.secretAccessKey);
  try {
    return await call();
  } finally {
    vi.unstubAllEnvs();
  }
}

/** DescribeStacks through a client configured as the operator tools configure theirs (loopback: throwaway keys). */
const describeStackAsTools = (endpoint: string) =>
  withClient(
    new CloudFormationClient(
      clientConfig({ region: REGION, endpoints: { cloudformation: endpoint } }, 'cloudformation', SHORT),
    ),
    (c) => c.send(new DescribeStacksCommand({ StackName: 's' })),
  );

/** One call through each client factory, with `SHORT` timeouts, against the hung server. */
const cases: ReadonlyArray<
  readonly [
    string,
    typeof S3Client | typeof DynamoDBClient | typeof CloudFormationClient,
    (endpoint: string) => Promise<unknown>,
  ]
> = [
  ['operator tools (tools/lib/targets.ts clientConfig)', CloudFormationClient, describeStackAsTools],
  [
    'local S3 server (devkit s3ClientConfig)',
    S3Client,
    (endpoint) =>
      withClient(new S3Client(s3ClientConfig({ s3Endpoint: endpoint, region: REGION }, SHORT)), (c) =>
        c.send(new HeadBucketCommand({ Bucket: 'b' })),
      ),
  ],
  [
    'local DynamoDB server (devkit dynamodbClientConfig)',
    DynamoDBClient,
    (endpoint) =>
      withClient(
        new DynamoDBClient(dynamodbClientConfig({ dynamodbEndpoint: endpoint, region: REGION }, SHORT)),
        (c) => c.send(new DescribeTableCommand({ TableName: 't' })),
      ),
  ],
  [
    'integration harness (integ/lib/harness.ts), whose first call is an S3 upload',
    S3Client,
    (endpoint) =>
      new IntegHarness(
        {
          kind: 'local',
          description: 'hung server',
          stage: 'dev',
          bucket: 'b',
          table: 't',
          region: REGION,
          s3Endpoint: endpoint,
          dynamodbEndpoint: endpoint,
          maxObjectBytes: 1024,
          keyPrefix: '',
          keySuffix: '',
          pollTimeoutMs: 0,
        },
        SHORT,
      ).put('k', new Uint8Array([1])),
  ],
  [
    "the stage lookup of the integration tests' target (integ/lib/target.ts)",
    CloudFormationClient,
    (endpoint) =>
      withEndpointEnv(endpoint, () =>
        withClient(stageLookupClients(SHORT).cloudFormation(REGION), (c) =>
          c.send(new DescribeStacksCommand({ StackName: 's' })),
        ),
      ),
  ],
  [
    "the pipeline's drift check (tools/drift-check.ts), whose first call is DescribeStacks",
    CloudFormationClient,
    (endpoint) =>
      withEndpointEnv(endpoint, () =>
        driftCheck(
          ['--stack-name', 's', '--region', REGION],
          { out: () => {}, progress: () => {} },
          undefined,
          SHORT,
        ),
      ),
  ],
];

describe('SDK clients against a server that never answers', () => {
  it.each(cases)(
    '%s: fails with a TimeoutError after each attempt times out',
    async (_name, Client, call) => {
      const attempts = await defaultAttempts(Client);
      const before = hung.requests();
      await expect(call(hung.endpoint)).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(hung.requests() - before).toBe(attempts);
      expect(attempts).toBeLessThanOrEqual(MAX_ATTEMPTS);
    },
    10_000, // a client that waits forever fails here, not at the suite's 60 s
  );

  it('an operator tool reports the hung endpoint in one line, with the limit and the attempts, exit code 4', async () => {
    const error = await describeStackAsTools(hung.endpoint).catch((e: unknown) => e);
    const explained = explainAwsError(error);
    expect(explained?.exitCode).toBe(EXIT.unreachable);
    expect(explained?.message).toMatch(
      /^no answer from the AWS endpoint in time on any of 3 attempts \(a request has exceeded the configured 200 ms requestTimeout\.\): check the network/,
    );
  }, 10_000);

  it('control: a client without the setting is still waiting after every one of them would have failed', async () => {
    const { requestHandler: _dropped, ...withoutTimeouts } = s3ClientConfig({
      s3Endpoint: hung.endpoint,
      region: REGION,
    });
    const client = new S3Client({ ...withoutTimeouts, maxAttempts: 1 });
    try {
      const outcome = await Promise.race([
        client.send(new HeadBucketCommand({ Bucket: 'b' })).then(
          () => 'answered',
          (error: Error) => error.name,
        ),
        new Promise((resolve) =>
          setTimeout(() => resolve('still waiting'), MAX_ATTEMPTS * SHORT.requestMs * 3),
        ),
      ]);
      expect(outcome).toBe('still waiting');
    } finally {
      client.destroy();
    }
  });

  it('defaults: every attempt has a finite limit, and a hung call fails within 100 s', () => {
    for (const timeouts of [TOOL_HTTP_TIMEOUTS, LOCAL_HTTP_TIMEOUTS, INTEG_HTTP_TIMEOUTS, HTTP_TIMEOUTS]) {
      expect(timeouts.connectionMs).toBeGreaterThan(0);
      expect(timeouts.requestMs).toBeGreaterThan(0);
      expect(MAX_ATTEMPTS * (timeouts.connectionMs + timeouts.requestMs)).toBeLessThanOrEqual(100_000);
    }
  });
});
