import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBucket,
  LOCAL_AWS_CREDENTIALS,
  type LocalAws,
  startLocalAws,
} from '../../devkit/aws-servers.ts';
import { OUTPUT_KEYS, PIPELINE_ACTIONS } from '../../lib/config/names.ts';
import { ASSET_PUBLISHER } from '../../lib/pipeline/asset-publishing.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../local/environment.ts';
import { copyRepository } from '../support/repo-copy.ts';
import {
  assumableRoles,
  type CodeBuildAction,
  commandsOf,
  type PipelineAssembly,
  readPipelineAssembly,
  roleArnOutput,
  type StackArtifact,
  stackArtifacts,
} from './rehearsal/assembly.ts';
import { checkCommand, type Repository, resolveVariables, runShell } from './rehearsal/commands.ts';
import { type DriftScenario, startCloudFormationStandIn, startStsStandIn } from './rehearsal/standins.ts';

/**
 * A rehearsal of the delivery pipeline: `cdk synth` runs as the Synth action runs it (in a checkout whose cdk.json
 * holds real-looking accounts, inside "CodeBuild"), and then every CodeBuild action of the synthesized pipeline
 * runs its real buildspec, taken from the cloud assembly, command by command, as far as offline allows:
 * - every command must resolve against the repository (npm scripts, binaries, files, the lockfile's versions);
 * - commands that install from the registry are checked against package-lock.json and not run (the test runs on
 *   what `npm ci` installed from it);
 * - the rest run, against loopback stand-ins where AWS is needed: s3rver for the asset buckets, the local
 *   environment for the post-deploy tests, STS and CloudFormation stand-ins (test/pipeline/rehearsal/standins.ts)
 *   reached through the SDK's AWS_ENDPOINT_URL_* variables.
 * What only the first real run can show is listed in docs/pipeline-rehearsal.md.
 */

const ACCOUNTS = {
  toolingAccount: '123456789012',
  devAccount: '210987654321',
  stagingAccount: '310987654321',
  prodAccount: '410987654321',
};
const PIPELINE_TEMPLATE = 'ProcessorPipeline.template.json';

let copy: string;
let repo: Repository;
let assembly: PipelineAssembly;
let stacks: StackArtifact[];
let pipelineRegion: string;
let sts: Awaited<ReturnType<typeof startStsStandIn>>;
let cloudFormation: Awaited<ReturnType<typeof startCloudFormationStandIn>>;
const synthCommand = 'npx cdk synth';

/** What CodeBuild puts in every build's environment, plus the stand-ins' endpoints. */
function codeBuildEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CODEBUILD_BUILD_ID: 'rehearsal:00000000-0000-0000-0000-000000000000',
    CODEBUILD_SRC_DIR: copy,
    NO_COLOR: '1',
    AWS_REGION: pipelineRegion,
    AWS_DEFAULT_REGION: pipelineRegion,
    // The action role's own credentials; roles it assumes come from the STS stand-in.
    AWS_ACCESS_KEY_ID: 'AKIAREHEARSALCODEBUILD',
    AWS_SECRET_ACCESS_KEY: 'rehearsal',
    AWS_ENDPOINT_URL_STS: sts.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
    ...extra,
  };
}

beforeAll(async () => {
  copy = copyRepository('rehearsal-', ACCOUNTS);
  repo = { root: copy };
  sts = await startStsStandIn(LOCAL_AWS_CREDENTIALS);
  cloudFormation = await startCloudFormationStandIn();
  pipelineRegion = JSON.parse(readFileSync(path.join(copy, 'cdk.json'), 'utf8')).context.toolingRegion;
  // The Synth action's last command, run as CodeBuild runs it (checked against the synthesized buildspec below).
  const synth = await runShell(synthCommand, { cwd: copy, env: codeBuildEnv(), repo, timeoutMs: 180_000 });
  if (synth.code !== 0) throw new Error(`${synthCommand} failed in the rehearsal checkout:\n${synth.stderr}`);
  const dir = path.join(copy, 'cdk.out');
  assembly = readPipelineAssembly(dir, PIPELINE_TEMPLATE, {
    account: ACCOUNTS.toolingAccount,
    region: pipelineRegion,
  });
  stacks = stackArtifacts(dir);
}, 240_000);

afterAll(async () => {
  await sts?.close();
  await cloudFormation?.close();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

const actionsOf = (predicate: (a: CodeBuildAction) => boolean) => assembly.actions.filter(predicate);
const isAssets = (a: CodeBuildAction) => a.stage === 'Assets';
const isDriftCheck = (a: CodeBuildAction) => a.action.split('.').at(-1) === PIPELINE_ACTIONS.driftCheck;
const isPostDeployTest = (a: CodeBuildAction) => a.action === 'IntegrationTests' || a.action === 'SmokeTest';
const isReview = (a: CodeBuildAction) => a.action.endsWith(`.${PIPELINE_ACTIONS.reviewChangeSet}`);

/** Static checks of every command of an action; returns the problems and which commands may run. */
function checkAction(action: CodeBuildAction, cwd: string) {
  const installed = new Set<string>();
  const checked = commandsOf(action.buildSpec).map(({ phase, command }) => ({
    phase,
    command,
    ...checkCommand(command, repo, installed, cwd),
  }));
  return {
    problems: checked.flatMap((c) =>
      c.problems.map((p) => `${action.stage}/${action.action}: ${c.command}: ${p}`),
    ),
    runnable: checked.filter((c) => c.disposition.run).map((c) => c.command),
  };
}

/**
 * Runs the runnable commands of an action as CodeBuild runs a version 0.2 buildspec: in one shell, in order,
 * stopping at the first failure; then reads the variables the buildspec exports, as CodeBuild does at the end.
 */
async function runAction(action: CodeBuildAction, cwd: string, env: Record<string, string>) {
  const { problems, runnable } = checkAction(action, cwd);
  const exported = ((action.buildSpec.env as { 'exported-variables'?: string[] } | undefined)?.[
    'exported-variables'
  ] ?? []) as string[];
  const script = [
    'set -e',
    ...runnable.flatMap((command, i) => [`echo "::command ${i}" >&2`, command]),
    ...exported.map((name) => `printf '::export ${name}=%s\\n' "\${${name}:-}"`),
  ].join('\n');
  const result = await runShell(script, { cwd, env, repo, timeoutMs: 240_000 });
  const output = `${result.stdout}\n${result.stderr}`;
  const reached = [...result.stderr.matchAll(/::command (\d+)/g)].map((m) => Number(m[1]));
  const failed = result.code === 0 ? undefined : runnable[reached.at(-1) ?? 0];
  const variables = Object.fromEntries(
    [...result.stdout.matchAll(/^::export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
  return { problems, code: result.code, failed, output, variables };
}

describe('pipeline rehearsal: every CodeBuild action runs what the repository provides', () => {
  it('has a rehearsal for every CodeBuild action of the synthesized pipeline', () => {
    const rehearsed = (a: CodeBuildAction) =>
      (a.stage === 'Build' && a.action === 'Synth') ||
      (a.stage === 'UpdatePipeline' && a.action === 'SelfMutate') ||
      isAssets(a) ||
      isDriftCheck(a) ||
      isReview(a) ||
      isPostDeployTest(a);
    expect(assembly.actions.filter((a) => !rehearsed(a)).map((a) => `${a.stage}/${a.action}`)).toEqual([]);
    expect(assembly.actions.length).toBeGreaterThanOrEqual(9);
  });

  it('Synth: runs the gates the repository defines, and the synth this rehearsal ran', async () => {
    const [synth] = actionsOf((a) => a.stage === 'Build' && a.action === 'Synth');
    if (!synth) throw new Error('no Synth action');
    const commands = commandsOf(synth.buildSpec).map((c) => c.command);
    expect(commands.at(-1)).toBe(synthCommand);
    const { problems, runnable } = checkAction(synth, copy);
    expect(problems).toEqual([]);
    // The gates are this very test run (npm test) and CI's lint and typecheck; the Node check runs here.
    const nodeCheck = runnable.find((c) => c.startsWith('node_modules/.bin/node'));
    if (!nodeCheck) throw new Error('the Synth action no longer checks the Node version');
    expect((await runShell(nodeCheck, { cwd: copy, env: codeBuildEnv(), repo })).code).toBe(0);
  });

  it('UpdatePipeline: installs the lockfile CLI, which reads the embedded assembly and finds the pipeline stack', async () => {
    const [selfMutate] = actionsOf((a) => a.stage === 'UpdatePipeline');
    if (!selfMutate) throw new Error('no SelfMutate action');
    const { problems, runnable } = checkAction(selfMutate, assembly.dir);
    expect(problems).toEqual([]);
    const [deploy] = runnable;
    const parsed = /^cdk -a (\S+) deploy (\S+)((?: --[\w-]+(?:=\S+)?)*)$/.exec(deploy ?? '');
    if (!parsed) throw new Error(`unexpected self-mutation command: ${deploy}`);
    const [, app = '', stackSelector = '', flags = ''] = parsed;
    // `deploy` needs CloudFormation; `ls` proves the same CLI reads the same assembly and resolves the selector.
    const listed = await runShell(`cdk -a ${app} ls ${stackSelector}`, {
      cwd: assembly.dir,
      env: codeBuildEnv(),
      repo,
    });
    expect(listed.stderr).not.toMatch(/error/i);
    // The CLI lists the stack by its construct path and, in parentheses, its CloudFormation name.
    expect(listed.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${stackSelector}( \\(|$)`)),
    ]);
    const help = await runShell('cdk deploy --help', { cwd: assembly.dir, env: codeBuildEnv(), repo });
    for (const flag of flags.trim().split(/\s+/).filter(Boolean)) {
      expect(help.stdout, `cdk deploy ${flag}`).toContain(flag.split('=')[0]);
    }
  });

  describe('Assets', () => {
    let aws: LocalAws;
    beforeAll(async () => {
      aws = await startLocalAws({ region: pipelineRegion });
    });
    afterAll(async () => aws?.close());

    it('publishes every asset of every stage with the bundled publisher, through the file-publishing roles only', async () => {
      const assets = actionsOf(isAssets);
      expect(assets.length).toBeGreaterThan(0);
      const destinations = assetDestinations(assembly.dir);
      // The actions publish exactly the assets the stages need: none forgotten, none unknown.
      const selectors = assets.flatMap((a) =>
        commandsOf(a.buildSpec).flatMap(({ command }) =>
          [...command.matchAll(/ publish "([^"]+)"/g)].map((m) => m[1]),
        ),
      );
      expect(selectors.sort()).toEqual(destinations.map((d) => d.selector).sort());
      for (const bucket of new Set(destinations.map((d) => d.bucketName)))
        await createBucket(aws.s3Endpoint, bucket);
      sts.calls.length = 0;

      for (const action of assets) {
        const install = commandsOf(action.buildSpec).filter((c) => c.phase === 'install');
        expect(install.map((c) => c.command).join('\n')).toContain(ASSET_PUBLISHER);
        const result = await runAction(
          action,
          assembly.dir,
          codeBuildEnv({ AWS_ENDPOINT_URL_S3: aws.s3Endpoint }),
        );
        expect(result.problems).toEqual([]);
        expect(result.code, `${result.failed}\n${result.output}`).toBe(0);
      }

      // Every destination of every manifest is in its bucket.
      const s3 = new S3Client({
        endpoint: aws.s3Endpoint,
        forcePathStyle: true,
        region: pipelineRegion,
        credentials: LOCAL_AWS_CREDENTIALS,
      });
      for (const d of destinations) {
        const head = await s3
          .send(new HeadObjectCommand({ Bucket: d.bucketName, Key: d.objectKey }))
          .catch(async (error) => {
            const listed = await s3.send(new ListObjectsV2Command({ Bucket: d.bucketName }));
            const keys = listed.Contents?.map((c) => c.Key) ?? [];
            throw new Error(`${d.bucketName}/${d.objectKey}: ${error}; the bucket holds ${keys.join(', ')}`);
          });
        expect(head.ContentLength).toBeGreaterThan(0);
      }
      s3.destroy();
      // The publisher assumed exactly the roles the manifests name, and the action's role may assume each of them.
      const assumed = new Set(
        sts.calls.filter((c) => c.action === 'AssumeRole').map((c) => c.params.RoleArn),
      );
      expect([...assumed].sort()).toEqual([...new Set(destinations.map((d) => d.assumeRoleArn))].sort());
      const allowed = assets.flatMap((a) => assumableRoles(a.roleStatements));
      for (const role of assumed) expect(allowed).toContain(role);
      for (const role of assumed) expect(role).toMatch(/:role\/cdk-hnb659fds-file-publishing-role-/);
    });
  });

  it('DriftCheck: each stage checks its own stack, in its region, as its lookup role, for every outcome', async () => {
    const checks = actionsOf(isDriftCheck);
    expect(checks.map((c) => c.stage)).toEqual(['Dev', 'Staging', 'Prod']);
    const scenarios: Record<DriftScenario, number> = { 'not-deployed': 0, 'in-sync': 0, drifted: 1 };
    const outcomes = Object.entries(scenarios) as [DriftScenario, number][];
    for (const [i, action] of checks.entries()) {
      // Each stage meets one outcome, so every action runs and every outcome is seen once.
      const [scenario, expectedCode] = outcomes[i % outcomes.length] as [DriftScenario, number];
      cloudFormation.setScenario(scenario);
      cloudFormation.calls.length = 0;
      sts.calls.length = 0;
      const result = await runAction(action, copy, codeBuildEnv());
      expect(result.problems).toEqual([]);
      expect(result.code, `${action.stage} ${scenario}: ${result.output}`).toBe(expectedCode);
      expect(result.output).toMatch(scenario === 'drifted' ? /DRIFTED: stack/ : /OK: /);

      const stack = stackOfStage(action.stage);
      const named = cloudFormation.calls.filter((c) => c.params.StackName !== undefined);
      expect(named.length).toBeGreaterThan(0);
      expect(new Set(named.map((c) => c.params.StackName))).toEqual(new Set([stack.stackName]));
      expect(new Set(cloudFormation.calls.map((c) => c.signedRegion))).toEqual(new Set([stack.region]));
      const [assumeRole] = sts.calls.filter((c) => c.action === 'AssumeRole');
      expect(assumeRole?.params.RoleArn).toBe(
        `arn:aws:iam::${stack.account}:role/cdk-hnb659fds-lookup-role-${stack.account}-${stack.region}`,
      );
      expect(assumableRoles(action.roleStatements)).toEqual([assumeRole?.params.RoleArn]);
    }
  });

  describe('change-set review', () => {
    let aws: LocalAws;
    beforeAll(async () => {
      aws = await startLocalAws({ region: pipelineRegion });
    });
    afterAll(async () => aws?.close());

    it('reads the change set as the lookup role, uploads the rendering and exports what the approval shows', async () => {
      const reviews = actionsOf(isReview);
      expect(reviews.map((r) => r.stage)).toEqual(['Prod']);
      const [review] = reviews as [CodeBuildAction];
      const stack = stackOfStage(review.stage);
      // The step writes into the pipeline's own artifact bucket, with its key: the template says so.
      const bucketId = logicalIdOf('AWS::S3::Bucket', 'PipelineArtifactsBucket');
      expect(review.env.REVIEW_BUCKET).toBe(`<ref:${bucketId}>`);
      expect(review.env.REVIEW_KEY_ARN).toBe(
        `<getatt:${logicalIdOf('AWS::KMS::Key', 'PipelineArtifactsBucketEncryptionKey')}.Arn>`,
      );
      const bucket = 'rehearsal-artifacts';
      await createBucket(aws.s3Endpoint, bucket);
      const env = {
        ...review.env,
        REVIEW_BUCKET: bucket,
        REVIEW_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/rehearsal',
        PIPELINE_EXECUTION_ID: resolveVariables(review.env.PIPELINE_EXECUTION_ID ?? '', (ns, name) =>
          ns === 'codepipeline' && name === 'PipelineExecutionId' ? 'rehearsal-execution' : undefined,
        ),
      };
      cloudFormation.calls.length = 0;
      sts.calls.length = 0;
      const result = await runAction(
        review,
        copy,
        codeBuildEnv({
          ...env,
          AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
        }),
      );
      expect(result.problems).toEqual([]);
      expect(result.code, `${result.failed}\n${result.output}`).toBe(0);

      expect(sts.calls.filter((c) => c.action === 'AssumeRole').map((c) => c.params.RoleArn)).toEqual([
        `arn:aws:iam::${stack.account}:role/cdk-hnb659fds-lookup-role-${stack.account}-${stack.region}`,
      ]);
      const described = cloudFormation.calls.filter((c) => c.action === 'DescribeChangeSet');
      expect(described.map((c) => [c.params.StackName, c.params.ChangeSetName, c.signedRegion])).toEqual([
        [stack.stackName, 'PipelineChange', stack.region],
      ]);
      // What the approval action reads: the summary in its comment, the review link.
      expect(result.variables.SUMMARY).toMatch(/^prod: .*1 modified/);
      expect(result.variables.REVIEW_URL).toBe(
        `https://s3.console.aws.amazon.com/s3/object/${bucket}?region=${pipelineRegion}&prefix=${encodeURIComponent('change-reviews/prod/rehearsal-execution/change-set.md')}`,
      );
      const s3 = new S3Client({
        endpoint: aws.s3Endpoint,
        forcePathStyle: true,
        region: pipelineRegion,
        credentials: LOCAL_AWS_CREDENTIALS,
      });
      const head = await s3.send(
        new HeadObjectCommand({
          Bucket: bucket,
          Key: 'change-reviews/prod/rehearsal-execution/change-set.md',
        }),
      );
      expect(head.ContentLength).toBeGreaterThan(0);
      s3.destroy();
    });
  });

  describe('post-deploy tests', () => {
    // Dev runs the full suite and prod the smoke test: the two commands there are. Staging's action is checked to
    // be dev's, with its own stage's variables (running the same suite a third time would prove nothing new).
    it("Staging: runs exactly what dev runs, with the staging stack's variables and role", () => {
      const [dev, staging] = ['Dev', 'Staging'].map(
        (name) => actionsOf((a) => a.stage === name && isPostDeployTest(a))[0],
      );
      if (!dev || !staging) throw new Error('no post-deploy test action in dev or staging');
      expect(commandsOf(staging.buildSpec)).toEqual(commandsOf(dev.buildSpec));
      expect(Object.keys(staging.env).sort()).toEqual(Object.keys(dev.env).sort());
      expect(staging.env.INTEG_STAGE).toBe('staging');
      const stack = stackOfStage('Staging');
      const fake = {
        info: { bucket: 'b', table: 't', s3Endpoint: 'x', dynamodbEndpoint: 'y' },
      } as LocalEnvironment;
      const env = postDeployEnv(staging, stack, fake);
      expect(assumableRoles(staging.roleStatements)).toEqual([env.INTEG_ROLE_ARN]);
      expect(env.INTEG_ROLE_ARN).toContain(`:${stack.account}:role/`);
    });

    it.each(['Dev', 'Prod'])(
      '%s: run against the local environment with exactly the variables the action passes',
      async (stageName) => {
        const [action] = actionsOf((a) => a.stage === stageName && isPostDeployTest(a));
        if (!action) throw new Error(`no post-deploy test action in ${stageName}`);
        const stack = stackOfStage(stageName);
        const stage = action.env.INTEG_STAGE ?? '';
        let local: LocalEnvironment | undefined;
        try {
          local = await startLocalEnvironment({ stage });
          const env = postDeployEnv(action, stack, local);
          sts.calls.length = 0;
          const result = await runAction(action, copy, codeBuildEnv(env));
          expect(result.problems).toEqual([]);
          expect(result.code, `${result.failed}\n${result.output}`).toBe(0);
          expect(result.output).toMatch(/Tests\s+\d+ passed/);
          // The tests ran as the stage's integration-test role, the one role the action may assume.
          const assumed = [
            ...new Set(sts.calls.filter((c) => c.action === 'AssumeRole').map((c) => c.params.RoleArn)),
          ];
          expect(assumed).toEqual([env.INTEG_ROLE_ARN]);
          expect(assumableRoles(action.roleStatements)).toEqual(assumed);
        } finally {
          await local?.close();
        }
      },
      180_000,
    );
  });
});

/** The logical ID of the pipeline template's one resource of a type whose ID starts with a prefix. */
function logicalIdOf(type: string, prefix: string): string {
  const ids = Object.entries(assembly.template.Resources)
    .filter(([id, r]) => r.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
}

/** The stack a pipeline stage deploys (its variable namespace is the stack artifact's id). */
function stackOfStage(stageName: string): StackArtifact {
  const prefix = `ProcessorPipeline${stageName}`;
  const found = stacks.filter((s) => s.artifactId.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one stack for stage ${stageName}, found ${found.length}`);
  return found[0] as StackArtifact;
}

/**
 * The action's environment with CodePipeline's variables resolved the way the stage's outputs would resolve
 * them, but pointing at the local environment: bucket and table of the local stage, the role the stack outputs.
 */
function postDeployEnv(
  action: CodeBuildAction,
  stack: StackArtifact,
  local: LocalEnvironment,
): Record<string, string> {
  const roleArn = roleArnOutput(stack, OUTPUT_KEYS.integTestRoleArn);
  const values: Record<string, string> = {
    [OUTPUT_KEYS.bucketName]: local.info.bucket,
    [OUTPUT_KEYS.tableName]: local.info.table,
    [OUTPUT_KEYS.integTestRoleArn]: roleArn,
  };
  const lookup = (namespace: string, name: string) => {
    const target = stacks.find((s) => s.artifactId === namespace);
    if (!target?.outputKeys.includes(name)) return undefined;
    return values[name];
  };
  const resolved = Object.fromEntries(
    Object.entries(action.env).map(([k, v]) => [k, resolveVariables(v, lookup)]),
  );
  return {
    ...resolved,
    AWS_ENDPOINT_URL_S3: local.info.s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: local.info.dynamodbEndpoint,
  };
}

interface AssetDestination {
  /** `<asset id>:<destination id>`, the selector the publisher takes. */
  readonly selector: string;
  readonly bucketName: string;
  readonly objectKey: string;
  readonly assumeRoleArn: string;
}

/**
 * Every file destination of the stage assemblies' asset manifests, without the stack templates (the
 * CloudFormation actions read those from the pipeline artifact) and without the pipeline stack's own assets
 * (self-mutation's `cdk deploy` publishes them).
 */
function assetDestinations(dir: string, nested = false): AssetDestination[] {
  const found: AssetDestination[] = [];
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { file?: string; directoryName?: string } }>;
  };
  for (const artifact of Object.values(manifest.artifacts)) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      found.push(...assetDestinations(path.join(dir, artifact.properties.directoryName), true));
    }
    if (nested && artifact.type === 'cdk:asset-manifest' && artifact.properties?.file) {
      const assets = JSON.parse(readFileSync(path.join(dir, artifact.properties.file), 'utf8')) as {
        files?: Record<
          string,
          {
            source: { path: string };
            destinations: Record<string, Omit<AssetDestination, 'selector'>>;
          }
        >;
      };
      for (const [assetId, file] of Object.entries(assets.files ?? {})) {
        if (file.source.path.endsWith('.template.json')) continue;
        for (const [destinationId, d] of Object.entries(file.destinations)) {
          found.push({
            selector: `${assetId}:${destinationId}`,
            bucketName: d.bucketName,
            objectKey: d.objectKey,
            assumeRoleArn: d.assumeRoleArn.replace(/\$\{AWS::Partition\}/g, 'aws'),
          });
        }
      }
    }
  }
  return found;
}

describe('pipeline rehearsal: fails when a buildspec drifts from the repository', () => {
  /** A copy of the first action matching `predicate`, with one command rewritten. */
  function mutated(predicate: (a: CodeBuildAction) => boolean, from: RegExp, to: string): CodeBuildAction {
    const action = actionsOf(predicate)[0];
    if (!action) throw new Error('no such action to mutate');
    const spec = JSON.parse(JSON.stringify(action.buildSpec)) as CodeBuildAction['buildSpec'];
    let replaced = 0;
    for (const phase of Object.values(spec.phases ?? {})) {
      const commands = phase?.commands as string[] | undefined;
      commands?.forEach((c, i) => {
        if (from.test(c)) {
          commands[i] = c.replace(from, to);
          replaced++;
        }
      });
    }
    if (replaced === 0) throw new Error(`no command matches ${from}`);
    return { ...action, buildSpec: spec };
  }

  it('a script that does not exist', () => {
    const action = mutated(isDriftCheck, /npm run drift-check/, 'npm run drift-chek');
    expect(checkAction(action, copy).problems.join('\n')).toContain('npm script "drift-chek" does not exist');
  });

  it('a flag the command does not accept', async () => {
    const action = mutated(isDriftCheck, /--stack-name /, '--stack ');
    cloudFormation.setScenario('in-sync');
    const result = await runAction(action, copy, codeBuildEnv());
    expect(result.problems).toEqual([]);
    expect(result.code).toBe(2);
    expect(result.output).toContain("Unknown option '--stack'");
  });

  it('a tool version the lockfile does not pin, or a tool it does not have', () => {
    const older = mutated((a) => a.stage === 'UpdatePipeline', /aws-cdk@\S+/, 'aws-cdk@2.1000.0');
    expect(checkAction(older, assembly.dir).problems.join('\n')).toMatch(
      /installs aws-cdk@2\.1000\.0; package-lock\.json pins aws-cdk@\d/,
    );
    const foreign = mutated((a) => a.stage === 'UpdatePipeline', /aws-cdk@\S+/, 'cdk-assets@4.7.3');
    expect(checkAction(foreign, assembly.dir).problems.join('\n')).toContain(
      'installs cdk-assets@4.7.3, which package-lock.json does not pin',
    );
    const npx = mutated((a) => a.stage === 'Build', /npx cdk synth/, 'npx cdk-assets ls');
    expect(checkAction(npx, copy).problems.join('\n')).toContain('npx cdk-assets: no such binary');
  });

  it('a variable that names no output of the stage, or a variable the tests do not read', async () => {
    const [action] = actionsOf(isPostDeployTest);
    if (!action) throw new Error('no post-deploy test action');
    const stack = stackOfStage(action.stage);
    const badOutput = {
      ...action,
      env: { ...action.env, INTEG_BUCKET_NAME: `#{${stack.artifactId}.Bucket}` },
    };
    const fake = {
      info: { bucket: 'b', table: 't', s3Endpoint: 'x', dynamodbEndpoint: 'y' },
    } as LocalEnvironment;
    expect(() => postDeployEnv(badOutput, stack, fake)).toThrow(`#{${stack.artifactId}.Bucket}`);

    // Renamed variable: the runner no longer finds the bucket and looks for a stack instead, which fails.
    const env = postDeployEnv(action, stack, fake);
    const { INTEG_BUCKET_NAME: bucket, ...rest } = env;
    cloudFormation.setScenario('not-deployed');
    const result = await runAction(action, copy, codeBuildEnv({ ...rest, INTEG_BUCKET: bucket ?? '' }));
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/not found|does not exist/);
  });
});
