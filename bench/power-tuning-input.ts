/**
 * Writes the execution input of AWS Lambda Power Tuning for a deployed stage's processor: the function ARN (from
 * the stack's FunctionName output), the memory sizes to try, and a payload that makes the function do its real
 * work. The payload is one SQS batch of S3 notifications for sample PNG objects this tool uploads to the stage's
 * bucket, with the ETags S3 returned, so every tuning invocation makes the requests of a real create: one ranged
 * GetObject and one conditional PutItem (after the first, the write loses as a duplicate, which costs the same).
 * See docs/performance.md for the whole procedure.
 */
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { COMMON_HELP, type Io, numberOption, parseToolArgs, runTool, ToolError } from '../tools/lib/cli.ts';
import { clientConfig, resolveOutputs, stageContext } from '../tools/lib/targets.ts';
import { objectEventMessages, PNG_BYTES, sequencer } from './lib/s3-events.ts';

export const POWER_TUNING_INPUT_HELP = `Usage: npm run --silent power-tuning-input -- --stage <name> [options] > input.json

Uploads sample objects to the stage's bucket and prints the AWS Lambda Power Tuning state machine input for the
stage's processor function (JSON on stdout; progress on stderr). Start the state machine with that input.

Options:
  --objects <n>             sample objects, one SQS message each: the payload's batch size (default 10)
  --num <n>                 invocations per memory size (default 50)
  --power-values <list>     memory sizes in MB, comma-separated (default 256,512,1024,1536,1769)
  --strategy <s>            cost | speed | balanced (default balanced)
  --bucket <name>           bucket instead of the stack output
  --queue-url <url>         ingest queue URL instead of the stack output (only names the payload's source)
  --function-arn <arn>      function ARN instead of looking up the stack's FunctionName
${COMMON_HELP}`;

/** Memory sizes worth comparing: the stages' 256 and 512 MB, and up to one full vCPU (1,769 MB). */
export const DEFAULT_POWER_VALUES = [256, 512, 1024, 1536, 1769] as const;
const STRATEGIES = ['cost', 'speed', 'balanced'] as const;

/** The state machine's execution input (see the tool's README-INPUT-OUTPUT.md for every field). */
export interface PowerTuningInput {
  readonly lambdaARN: string;
  readonly powerValues: readonly number[];
  readonly num: number;
  readonly strategy: (typeof STRATEGIES)[number];
  /** Sequential invocations: parallel ones would race on the same items and add throttling to the figures. */
  readonly parallelInvocation: false;
  readonly payload: unknown;
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` -> `arn:aws:sqs:<region>:<account>:<name>`. */
export function queueArnFromUrl(queueUrl: string, region: string): string {
  const [account, name] = new URL(queueUrl).pathname.split('/').filter(Boolean);
  if (!account || !name) throw new ToolError(`queue URL "${queueUrl}" does not end in /<account>/<name>`, 2);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

export async function powerTuningInput(argv: readonly string[], io: Io): Promise<number> {
  const args = parseToolArgs(argv, {
    objects: { type: 'string' },
    num: { type: 'string' },
    'power-values': { type: 'string' },
    strategy: { type: 'string' },
    bucket: { type: 'string' },
    'queue-url': { type: 'string' },
    'function-arn': { type: 'string' },
  });
  if (args.help) {
    io.out(POWER_TUNING_INPUT_HELP);
    return 0;
  }
  const objects = numberOption('objects', args.objects, 10);
  const num = numberOption('num', args.num, 50);
  if (!Number.isInteger(objects) || !Number.isInteger(num) || num < 5) {
    throw new ToolError('--objects must be a whole number, and --num a whole number of at least 5', 2);
  }
  const powerValues = args['power-values']?.split(',').map((v) => Number(v.trim())) ?? [
    ...DEFAULT_POWER_VALUES,
  ];
  if (powerValues.some((v) => !Number.isInteger(v) || v < 128 || v > 10240)) {
    throw new ToolError(
      `--power-values "${args['power-values']}": memory sizes are whole MB in 128..10240`,
      2,
    );
  }
  const strategy = (args.strategy ?? 'balanced') as PowerTuningInput['strategy'];
  if (!STRATEGIES.includes(strategy))
    throw new ToolError(`--strategy must be one of ${STRATEGIES.join(', ')}`, 2);

  const context = stageContext({ stage: args.stage, region: args.region, endpoint: args.endpoint });
  const names = await resolveOutputs(context, ['bucketName', 'ingestQueueUrl', 'functionName'], {
    ...(args.bucket ? { bucketName: args.bucket } : {}),
    ...(args['queue-url'] ? { ingestQueueUrl: args['queue-url'] } : {}),
    // A given ARN makes the stack's function name unnecessary.
    ...(args['function-arn'] ? { functionName: args['function-arn'] } : {}),
  });
  const lambdaARN =
    args['function-arn'] ??
    (
      await new LambdaClient(clientConfig(context.target, 'lambda')).send(
        new GetFunctionConfigurationCommand({ FunctionName: names.functionName }),
      )
    ).FunctionArn;
  if (!lambdaARN) throw new ToolError(`function ${names.functionName} has no ARN`);

  const prefix = `power-tuning/${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const keys = Array.from({ length: objects }, (_, i) => `${prefix}/sample-${i}.png`);
  if (args['dry-run']) {
    io.progress(
      `dry run: would upload ${objects} objects to s3://${names.bucketName}/${prefix}/ for ${lambdaARN}`,
    );
    return 0;
  }
  io.progress(`uploading ${objects} sample objects to s3://${names.bucketName}/${prefix}/`);
  const s3 = new S3Client(clientConfig(context.target, 's3'));
  const uploaded = await Promise.all(
    keys.map(async (key) => {
      const { ETag } = await s3.send(
        new PutObjectCommand({
          Bucket: names.bucketName,
          Key: key,
          Body: PNG_BYTES,
          ContentType: 'image/png',
        }),
      );
      return { key, size: PNG_BYTES.length, eTag: (ETag ?? '').replace(/"/g, '') };
    }),
  );
  const payload = objectEventMessages(
    uploaded.map((object) => ({
      bucket: names.bucketName,
      key: object.key,
      sequencer: sequencer(1),
      object,
    })),
    { region: context.target.region, queueArn: queueArnFromUrl(names.ingestQueueUrl, context.target.region) },
  );
  const input: PowerTuningInput = {
    lambdaARN,
    powerValues,
    num,
    strategy,
    parallelInvocation: false,
    payload,
  };
  io.out(JSON.stringify(input, null, 2));
  return 0;
}

if (import.meta.main) await runTool(powerTuningInput);
