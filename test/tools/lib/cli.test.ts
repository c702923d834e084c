import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { abandoningHungRequests } from '../../../services/processor/src/clients.ts';
import {
  argsOrExit,
  EXIT,
  explainAwsError,
  integerOption,
  numberOption,
  parseCommandArgs,
  parseToolArgs,
  ToolError,
} from '../../../tools/lib/cli.ts';
import {
  clientConfig,
  parseEndpoints,
  stageContext,
  TOOL_HTTP_TIMEOUTS,
} from '../../../tools/lib/targets.ts';

describe('tool command lines', () => {
  it('reject unknown flags and bad numbers as usage errors (exit 2)', () => {
    const unknown = () => parseToolArgs(['--stage', 'dev', '--colour'], {});
    expect(unknown).toThrow(ToolError);
    expect(unknown).toThrow(/--colour.*see --help/);
    expect(() => numberOption('rate', 'fast', 1)).toThrow('--rate is "fast"; must be a positive number');
    const caught = (() => {
      try {
        numberOption('rate', '-1', 1);
      } catch (error) {
        return error;
      }
    })();
    expect(caught).toBeInstanceOf(ToolError);
    expect((caught as ToolError).exitCode).toBe(2);
  });

  it("take the region from --region, else where cdk synth puts the stage (never the shell's AWS_REGION)", () => {
    expect(stageContext({ stage: 'prod', env: {} }).target.region).toBe('eu-west-1');
    // The operator's default region says nothing about where the pipeline deployed the stage.
    expect(stageContext({ stage: 'prod', env: { AWS_REGION: 'us-east-2' } }).target.region).toBe('eu-west-1');
    // The settings bin/ reads move the stage, and the tools follow.
    expect(stageContext({ stage: 'prod', env: { PROD_REGION: 'us-east-2' } }).target.region).toBe(
      'us-east-2',
    );
    expect(stageContext({ stage: 'prod', env: { TOOLING_REGION: 'eu-central-1' } }).target.region).toBe(
      'eu-central-1',
    );
    expect(
      stageContext({ stage: 'prod', region: 'ap-south-1', env: { AWS_REGION: 'us-east-2' } }).target.region,
    ).toBe('ap-south-1');
    expect(stageContext({ stage: 'prod', env: {} }).stackName).toBe('s3-object-processor-prod-processor');
    expect(stageContext({ stage: 'prod', env: { PROJECT_NAME: 'files' } }).stackName).toBe(
      'files-prod-processor',
    );
    expect(() => stageContext({ env: {} })).toThrow('--stage is required');
    expect(() => stageContext({ stage: 'qa', env: {} })).toThrow('unknown stage "qa"; known stages: dev');
    expect(() => stageContext({ stage: 'dev', env: { DEV_ACCOUNT: '12' } })).toThrow(
      /account is "12".*DEV_ACCOUNT/,
    );
  });

  it('point one service at an emulator, with throwaway credentials only on loopback', () => {
    const endpoints = parseEndpoints(['s3=http://127.0.0.1:4569', 'dynamodb=https://dynamodb.example.com']);
    const target = { region: 'eu-west-1', endpoints };
    // Every client also abandons hung attempts (test/sdk-clients.test.ts shows it against a server).
    const requestHandler = abandoningHungRequests(TOOL_HTTP_TIMEOUTS);
    expect(clientConfig(target, 's3')).toEqual({
      region: 'eu-west-1',
      requestHandler,
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    expect(clientConfig(target, 'dynamodb')).toEqual({
      region: 'eu-west-1',
      requestHandler,
      endpoint: 'https://dynamodb.example.com',
    });
    expect(clientConfig(target, 'sqs')).toEqual({ region: 'eu-west-1', requestHandler });
    // One URL without a service is every other service's endpoint (the local environment's API port).
    const local = parseEndpoints(['http://127.0.0.1:4569', 's3=http://127.0.0.1:4568']);
    expect(local).toMatchObject({
      s3: 'http://127.0.0.1:4568',
      sqs: 'http://127.0.0.1:4569',
      cloudformation: 'http://127.0.0.1:4569',
      logs: 'http://127.0.0.1:4569',
    });
    expect(() => parseEndpoints(['http://a', 'http://b'])).toThrow('only one --endpoint may omit');
    expect(() => parseEndpoints(['kinesis=http://x'])).toThrow('service one of s3, sqs');
    expect(() => parseEndpoints(['s3=not a url'])).toThrow('is not a URL');
  });

  it('explain missing and expired credentials in one actionable line, and leave other errors alone', () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(explainAwsError(noCredentials)?.message).toMatch(/^no AWS credentials found: set AWS_PROFILE/);
    const expired = Object.assign(new Error('The security token included in the request is expired'), {
      name: 'ExpiredTokenException',
    });
    expect(explainAwsError(expired)?.message).toMatch(/expired/);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 9,
    });
    expect(explainAwsError(refused)?.message).toMatch(
      /^could not reach 127\.0\.0\.1:9 \(ECONNREFUSED\): check the network, the region and any --endpoint/,
    );
    expect(explainAwsError(new TypeError('x is undefined'))).toBeUndefined();
  });
});

describe('integer options', () => {
  it.each([['0.5'], ['2.5'], ['1e3'], ['0'], ['-3'], [''], ['ten']])(
    'reject %j as a usage error naming the flag',
    (raw) => {
      const parse = () => integerOption('page-size', raw, 1000, 1000);
      expect(parse).toThrow(`--page-size is "${raw}"; must be a whole number in 1..1000`);
      expect(parse).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
    },
  );

  it('accept whole numbers within the bound, and the default when absent', () => {
    expect(integerOption('limit', '25', Number.POSITIVE_INFINITY)).toBe(25);
    expect(integerOption('limit', undefined, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(() => integerOption('page-size', '1001', 1000, 1000)).toThrow('in 1..1000');
    expect(() => numberOption('minutes', '', 60)).toThrow('must be a positive number');
  });
});

describe('command lines of commands without a stage (a benchmark, a generator)', () => {
  it('take their own options and -h/--help, none of the stage options', () => {
    expect(parseCommandArgs(['--check', '-h'], { check: { type: 'boolean' } })).toEqual({
      check: true,
      help: true,
    });
    for (const argv of [['--stage', 'dev'], ['--dry-run'], ['stray']]) {
      const parse = () => parseCommandArgs(argv, { check: { type: 'boolean' } });
      expect(parse).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
      expect(parse).toThrow(/see --help$/);
    }
  });

  /** argsOrExit with the exit and the output recorded: the exit throws, as process.exit never returns. */
  function run<T>(read: () => T | 'help') {
    const out: string[] = [];
    const err: string[] = [];
    const exit = (code: number): never => {
      throw Object.assign(new Error('exit'), { code });
    };
    try {
      const args = argsOrExit(read, 'Usage: x', exit, {
        out: (l) => out.push(l),
        progress: (l) => err.push(l),
      });
      return { args, out, err };
    } catch (error) {
      return { code: (error as { code?: number }).code, out, err };
    }
  }

  it('answer help with the usage and exit 0, a wrong flag with one line and its exit code, before any work', () => {
    expect(run(() => 'help')).toEqual({ code: 0, out: ['Usage: x'], err: [] });
    expect(run(() => parseCommandArgs(['--colour'], {}))).toEqual({
      code: EXIT.usage,
      out: [],
      err: [expect.stringMatching(/^error: Unknown option '--colour'; see --help$/)],
    });
    expect(run(() => ({ runs: 3 }))).toEqual({ args: { runs: 3 }, out: [], err: [] });
    // A bug is not a usage error: it is thrown on, not turned into an exit.
    const bug = () => {
      throw new TypeError('x is undefined');
    };
    expect(() => argsOrExit(bug, 'Usage: x', () => undefined as never)).toThrow(TypeError);
  });
});

/** What a failed call really throws, from the SDK against a local address; each is explained in one line. */
async function sdkFailure(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('the call did not fail');
}

describe('tool failures: one line each, with a distinct exit code', () => {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const get = new GetItemCommand({ TableName: 't', Key: { objectKey: { S: 'k' } } });

  it('a refused connection, an unknown host, a missing table and an unsupported operation', async () => {
    // Port 9 (discard) has no listener on loopback; `.invalid` never resolves (RFC 2606).
    const refused = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'eu-west-1',
      credentials,
      maxAttempts: 1,
    });
    const unknownHost = new DynamoDBClient({
      endpoint: 'http://no-such-host.invalid:4567',
      region: 'eu-west-1',
      credentials,
      maxAttempts: 1,
    });
    const failures = {
      refused: await sdkFailure(() => refused.send(get)),
      unknownHost: await sdkFailure(() => unknownHost.send(get)),
      missingTable: Object.assign(new Error('Requested resource not found'), {
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 400 },
        $fault: 'client',
      }),
      unsupported: Object.assign(new Error('the local environment does not implement SQS PurgeQueue'), {
        name: 'UnsupportedOperation',
        $metadata: { httpStatusCode: 400 },
        $fault: 'client',
      }),
    };
    refused.destroy();
    unknownHost.destroy();
    const explained = Object.fromEntries(
      Object.entries(failures).map(([kind, error]) => [kind, explainAwsError(error)]),
    );
    expect(explained.refused).toMatchObject({ exitCode: EXIT.unreachable });
    expect(explained.refused?.message).toMatch(/^could not reach 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    expect(explained.unknownHost).toMatchObject({ exitCode: EXIT.unknownHost });
    expect(explained.unknownHost?.message).toMatch(
      /^unknown host no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN)\)/,
    );
    expect(explained.missingTable).toMatchObject({ exitCode: EXIT.notFound });
    expect(explained.missingTable?.message).toMatch(/^not found \(ResourceNotFoundException\)/);
    expect(explained.unsupported).toMatchObject({ exitCode: EXIT.unsupported });
    expect(explained.unsupported?.message).toMatch(/does not support this operation.*PurgeQueue/);
    const codes = Object.values(explained).map((e) => e?.exitCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of Object.values(explained)) expect(e?.message).not.toContain('\n');
  });

  it('an SQS operation the endpoint answers as unknown is "unsupported", from the real client', async () => {
    const { createServer } = await import('node:http');
    // What SQS's JSON protocol answers for an operation a server does not know.
    const server = createServer((_req, res) => {
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': 'AWS.SimpleQueueService.UnsupportedOperation;Sender',
      });
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#UnsupportedOperation', message: 'not here' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const sqs = new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'eu-west-1', credentials });
    const error = await sdkFailure(() => sqs.send(new StartMessageMoveTaskCommand({ SourceArn: 'arn:x' })));
    sqs.destroy();
    server.close();
    expect(explainAwsError(error)).toMatchObject({ exitCode: EXIT.unsupported });
  });
});

describe('runTool', () => {
  const STATUS = fileURLToPath(new URL('../../../tools/status.ts', import.meta.url));

  it('exits quietly when its output is piped to a reader that stopped (`| head`)', () => {
    // `true` exits without reading, before the tool writes: every write then fails with EPIPE, as after `head`.
    const result = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${STATUS}" --help | true; echo "exit \${PIPESTATUS[0]}"`],
      { encoding: 'utf8' },
    );
    expect(result.stdout.trim()).toBe('exit 0');
    expect(result.stderr).toBe('');
  });

  it('prints one line and the unreachable exit code for an endpoint nothing listens on', () => {
    const result = spawnSync(
      process.execPath,
      [STATUS, '--stage', 'dev', '--endpoint', 'http://127.0.0.1:9'],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: could not reach 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    expect(result.status).toBe(EXIT.unreachable);
  });
});
