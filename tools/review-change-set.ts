/**
 * The change-set review before a stage's manual approval: reads the change set the stage's Prepare action just
 * created, renders it for the approver (change-set.md), keeps the raw pages for the record (change-set.json),
 * prints the one-line summary for the approval comment, and fails (exit 3) when a stateful resource would be
 * replaced or removed without a reviewed allowance in the stage's configuration. See docs/change-review.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CloudFormationClient, type CloudFormationClientConfig } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { readChangeSet } from './lib/change-set-read.ts';
import { OVERRIDE_DOC, renderMarkdown, renderSummary, staleWarning } from './lib/change-set-render.ts';
import { applyStatefulGuard, KIND_LABELS, reviewChangeSet } from './lib/change-set-review.ts';
import {
  type Clock,
  type Io,
  numberOption,
  parseToolArgs,
  runTool,
  systemClock,
  ToolError,
} from './lib/cli.ts';
import { clientConfig, stageContext } from './lib/targets.ts';

/** The change set CDK Pipelines' Prepare action creates (and its Deploy action executes). */
export const DEFAULT_CHANGE_SET_NAME = 'PipelineChange';
/** Exit code when the stateful-replacement guard stops the change set; distinct from errors (1) and usage (2). */
export const EXIT_BLOCKED = 3;
export const FILES = {
  markdown: 'change-set.md',
  json: 'change-set.json',
  summary: 'summary.txt',
  /** With --upload: the console URL of the uploaded rendering, for the approval's review link. */
  reviewUrl: 'review-url.txt',
} as const;

export const REVIEW_HELP = `Usage: npm run review-change-set -- --stage <name> [options]

Reads the stage stack's change set (DescribeChangeSet with property values, every page), renders it for the
approver and applies the stateful-replacement guard: a change set that would replace (or may replace) or remove
a DynamoDB table, S3 bucket, SQS queue, KMS key, log group or backup vault fails unless the stage's
changeReview.allowStatefulChanges (lib/config/app-config.ts) lists its logical ID. Read-only in the stage account.

stdout: the one-line summary, then the paths written and the review URL (or, without --out, the rendering).
stderr: progress, the allowances in use, and a warning for each allowance that matches no replacement or removal.

Options:
  --stack-name <name>       stack whose change set to read (default: the stage's processor stack, as cdk synth
                            names it)
  --change-set-name <name>  change set to read (default: ${DEFAULT_CHANGE_SET_NAME}, CDK Pipelines' Prepare action)
  --role-arn <arn>          read as this role (assumed with STS; the pipeline passes the stage account's CDK
                            bootstrap lookup role); default: the caller's own credentials
  --wait-seconds <n>        how long to wait while CloudFormation is still creating the change set (default 120)
  --out <dir>               write ${FILES.markdown}, ${FILES.json} (the raw pages) and ${FILES.summary} there
                            (and ${FILES.reviewUrl} with --upload)
  --upload s3://<bucket>/<prefix>
                            put ${FILES.markdown} and ${FILES.json} under the prefix, with the caller's own
                            credentials (not --role-arn), and print the S3 console URL of the rendering
  --kms-key-id <key>        encrypt the uploads with this KMS key (SSE-KMS); default: the bucket's encryption
  --upload-region <region>  region of the upload bucket (default: AWS_REGION, i.e. the build's, else --region)
  --json                    print one JSON object (summary, verdict, counts, files, URL) instead of lines
  --stage <name>            stage (dev, staging, prod): its region, stack name and allowances, resolved from
                            cdk.json and the environment exactly as \`cdk synth\` resolves them
  --region <region>         region of the stage stack (default: the stage's region)
  --endpoint <svc>=<url>    send one service's calls elsewhere (cloudformation, sts, s3); repeatable
  --dry-run                 read and render, but upload nothing
  -h, --help                this text

Exit codes: 0 reviewed (no changes, or nothing stateful replaced or removed beyond the allowances);
1 the change set could not be read or the upload failed; 2 usage or configuration error;
${EXIT_BLOCKED} blocked by the stateful-replacement guard (the rendering is still written and uploaded).`;

export interface ReviewDeps {
  readonly sts?: (config: STSClientConfig) => STSClient;
  readonly cloudFormation?: (config: CloudFormationClientConfig) => CloudFormationClient;
  readonly s3?: (config: S3ClientConfig) => S3Client;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
  /** How --stage is resolved. @default stageContext (the configuration resolver cdk synth uses) */
  readonly resolveStage?: typeof stageContext;
}

const ROLE_ARN_RE = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export async function reviewChangeSetCli(
  argv: readonly string[],
  io: Io,
  deps: ReviewDeps = {},
): Promise<number> {
  const args = parseToolArgs(argv, {
    'stack-name': { type: 'string' },
    'change-set-name': { type: 'string' },
    'role-arn': { type: 'string' },
    'wait-seconds': { type: 'string' },
    out: { type: 'string' },
    upload: { type: 'string' },
    'kms-key-id': { type: 'string' },
    'upload-region': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (args.help) {
    io.out(REVIEW_HELP);
    return 0;
  }
  const env = deps.env ?? process.env;
  const context = (deps.resolveStage ?? stageContext)({ ...args, env });
  const { stage, target } = context;
  const stackName = args['stack-name'] ?? context.stackName;
  const changeSetName = args['change-set-name'] ?? DEFAULT_CHANGE_SET_NAME;
  const waitSeconds = numberOption('wait-seconds', args['wait-seconds'], 120);
  const roleArn = args['role-arn'];
  if (roleArn !== undefined && !ROLE_ARN_RE.test(roleArn)) {
    throw new ToolError(`--role-arn is "${roleArn}"; expected arn:aws:iam::<account>:role/<name>`, 2);
  }
  const upload = args.upload === undefined ? undefined : parseS3Url(args.upload);
  if (args['kms-key-id'] !== undefined && upload === undefined) {
    throw new ToolError('--kms-key-id encrypts the upload: give --upload s3://<bucket>/<prefix> too', 2);
  }
  const clock = deps.clock ?? systemClock;

  let credentials: CloudFormationClientConfig['credentials'];
  if (roleArn !== undefined) {
    io.progress(`assuming ${roleArn} (read-only)`);
    credentials = await assumeRole(
      (deps.sts ?? ((c) => new STSClient(c)))(clientConfig(target, 'sts')),
      roleArn,
    );
  }
  const cfn = (deps.cloudFormation ?? ((c) => new CloudFormationClient(c)))({
    ...clientConfig(target, 'cloudformation'),
    ...(credentials === undefined ? {} : { credentials }),
  });
  io.progress(`reading change set ${changeSetName} of ${stackName} in ${target.region}`);
  const pages = await readChangeSet(
    cfn,
    { stackName, changeSetName, region: target.region },
    { clock, progress: io.progress, timeoutMs: waitSeconds * 1000 },
  );

  const review = reviewChangeSet(pages);
  const allowances = stage.changeReview.allowStatefulChanges;
  const guard = applyStatefulGuard(review, allowances);
  const renderInput = {
    stage: stage.stageName,
    region: target.region,
    review,
    guard,
    allowances,
    reviewEnabled: stage.changeReview.enabled,
  };
  const summary = renderSummary(renderInput);
  const markdown = renderMarkdown(renderInput);
  const record = `${JSON.stringify(pages, null, 2)}\n`;

  for (const { change, allowance } of guard.allowed) {
    io.progress(
      `allowance: ${change.logicalId} (${change.resourceType}) may be ${KIND_LABELS[change.kind]}: "${allowance.reason}"`,
    );
  }
  for (const stale of guard.stale) io.progress(staleWarning(stage.stageName, stale));

  const files: Record<string, string> = {};
  if (args.out !== undefined) {
    await mkdir(args.out, { recursive: true });
    for (const [name, text] of [
      [FILES.markdown, markdown],
      [FILES.json, record],
      [FILES.summary, `${summary}\n`],
    ] as const) {
      const path = join(args.out, name);
      await writeFile(path, text);
      files[name] = path;
    }
  }

  let reviewUrl: string | undefined;
  if (upload !== undefined) {
    const uploadRegion = args['upload-region'] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? target.region;
    const markdownKey = objectKey(upload.prefix, FILES.markdown);
    reviewUrl = consoleUrl(upload.bucket, markdownKey, uploadRegion);
    if (args.out !== undefined) {
      const path = join(args.out, FILES.reviewUrl);
      await writeFile(path, `${reviewUrl}\n`);
      files[FILES.reviewUrl] = path;
    }
    if (args['dry-run']) {
      io.progress(
        `dry run: would put ${FILES.markdown} and ${FILES.json} under s3://${upload.bucket}/${upload.prefix}`,
      );
    } else {
      const s3 = (deps.s3 ?? ((c) => new S3Client(c)))(
        clientConfig({ region: uploadRegion, endpoints: target.endpoints }, 's3'),
      );
      const kmsKeyId = args['kms-key-id'];
      for (const [name, body, contentType] of [
        [FILES.markdown, markdown, 'text/markdown; charset=utf-8'],
        [FILES.json, record, 'application/json'],
      ] as const) {
        await s3.send(
          new PutObjectCommand({
            Bucket: upload.bucket,
            Key: objectKey(upload.prefix, name),
            Body: body,
            ContentType: contentType,
            ...(kmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }),
          }),
        );
      }
      io.progress(`uploaded to s3://${upload.bucket}/${markdownKey}`);
    }
  }

  if (args.json) {
    io.out(
      JSON.stringify({
        stage: stage.stageName,
        stackName,
        changeSetName,
        summary,
        verdict: guard.passed ? 'passed' : 'blocked',
        noChanges: review.noChanges,
        counts: Object.fromEntries(
          Object.keys(KIND_LABELS).map((kind) => [
            kind,
            review.changes.filter((c) => c.kind === kind).length,
          ]),
        ),
        blocked: guard.blocked.map((c) => c.logicalId),
        allowed: guard.allowed.map((a) => a.change.logicalId),
        stale: guard.stale.map((s) => s.allowance.logicalId),
        files,
        ...(reviewUrl === undefined ? {} : { reviewUrl }),
      }),
    );
  } else {
    io.out(summary);
    for (const path of Object.values(files)) io.out(`wrote ${path}`);
    if (reviewUrl !== undefined) io.out(`review URL: ${reviewUrl}`);
    if (args.out === undefined) io.out(`\n${markdown}`);
  }

  if (!guard.passed) {
    io.progress(
      `error: stage ${stage.stageName}: the change set would replace or remove ${guard.blocked
        .map((c) => `${c.logicalId} (${KIND_LABELS[c.kind]})`)
        .join(
          ', ',
        )} without an allowance; allow it in changeReview.allowStatefulChanges (${OVERRIDE_DOC}) or keep the resource`,
    );
    return EXIT_BLOCKED;
  }
  return 0;
}

async function assumeRole(sts: STSClient, roleArn: string) {
  const { Credentials: c } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: 'pipeline-change-set-review',
      DurationSeconds: 900,
    }),
  );
  if (!c?.AccessKeyId || !c.SecretAccessKey)
    throw new ToolError(`AssumeRole ${roleArn} returned no credentials`);
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    ...(c.SessionToken === undefined ? {} : { sessionToken: c.SessionToken }),
  };
}

/** `s3://bucket/some/prefix/` -> bucket and prefix without slashes at either end. */
export function parseS3Url(raw: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(raw);
  if (!match?.[1]) throw new ToolError(`--upload is "${raw}"; expected s3://<bucket>/<prefix>`, 2);
  return { bucket: match[1], prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

function objectKey(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** The object's page in the S3 console, where an approver with access to the tooling account opens it. */
export function consoleUrl(bucket: string, key: string, region: string): string {
  return `https://s3.console.aws.amazon.com/s3/object/${bucket}?region=${region}&prefix=${encodeURIComponent(key)}`;
}

if (import.meta.main) await runTool(reviewChangeSetCli);
