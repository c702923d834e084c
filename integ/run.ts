/**
 * `npm run integ`: resolves the target, then runs the integration project of vitest against it.
 *   npm run integ -- --target local      attach to a running `npm start`, else start a local environment
 *   npm run integ -- --stage <name>      a deployed stage (the pipeline's post-deploy step runs this)
 *   --smoke                              only the allowed-object case (the prod smoke test)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../devkit/aws-servers.ts';
import { ConfigError } from '../lib/config/app-config.ts';
import type { ReadyInfo } from '../local/environment.ts';
import { listReadyFiles } from '../local/start.ts';
import {
  type IntegTarget,
  IntegTargetError,
  localTarget,
  resolveStageTarget,
  type StageLookupClients,
  targetToEnv,
} from './lib/target.ts';

export const INTEG_USAGE = `Usage: npm run integ -- (--target local | --stage <name>) [--smoke]

  --target local   attach to a running \`npm start\` (the newest, found through the ready files they
                   publish), else start a local environment for this run only
  --stage <name>   a deployed stage: bucket, table and role from INTEG_BUCKET_NAME, INTEG_TABLE_NAME and
                   INTEG_ROLE_ARN (set by the pipeline), else from the stage's CloudFormation outputs; every test
                   call runs as the stage's integration-test role
  --smoke          run only the allowed-object case
  -h, --help       this text
Exit codes: vitest's (0 every test passed, 1 a test failed); 2 usage, or no target to test.`;

/** The command the runner hands to vitest, and the environment it adds. */
export interface IntegPlan {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** One line for the person running it: what is being tested. */
  readonly announcement: string;
}

export interface PlanDependencies {
  /** What the running `npm start`s published, newest first (each its own file). */
  readonly readReadyFiles: () => Promise<readonly ReadyInfo[]>;
  /** Whether a local environment answers at these endpoints with its bucket. */
  readonly isAlive: (info: ReadyInfo) => Promise<boolean>;
  readonly stageClients?: StageLookupClients;
}

/** Decides what to run; throws IntegTargetError / ConfigError with a message for the person running it. */
export async function planInteg(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  deps: PlanDependencies,
): Promise<IntegPlan | 'help'> {
  let values: { target?: string; stage?: string; smoke?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        stage: { type: 'string' },
        smoke: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new IntegTargetError((error as Error).message);
  }
  if (values.help) return 'help';
  if (values.target !== undefined && values.stage !== undefined) {
    throw new IntegTargetError('give either --target local or --stage <name>, not both');
  }
  if (values.target !== undefined && values.target !== 'local') {
    throw new IntegTargetError(
      `--target is "${values.target}"; the only target is "local" (use --stage for AWS)`,
    );
  }
  if (values.target === undefined && values.stage === undefined) {
    throw new IntegTargetError('say what to test: --target local or --stage <name>');
  }

  const args = ['run', '--project', 'integ', ...(values.smoke ? ['--testNamePattern', '\\[smoke\\]'] : [])];
  if (values.stage !== undefined) {
    const target = await resolveStageTarget(values.stage, env, deps.stageClients);
    return { args, env: targetToEnv(target), announcement: announce(target, values.smoke) };
  }
  const published = await deps.readReadyFiles();
  for (const [i, running] of published.entries()) {
    if (!(await deps.isAlive(running))) continue;
    const target = localTarget(running);
    const others = published.length - i - 1;
    const note = others > 0 ? `; ${others} older one(s) also published` : '';
    return {
      args,
      env: targetToEnv(target),
      announcement: `${announce(target, values.smoke)} (attached${note})`,
    };
  }
  // Nothing to attach to: the integration project's global setup starts a local environment for this run.
  return {
    args,
    env: {},
    announcement: `integration tests${values.smoke ? ' (smoke)' : ''}: a new local environment`,
  };
}

function announce(target: IntegTarget, smoke: boolean | undefined): string {
  const where = target.s3Endpoint ? ` at ${target.s3Endpoint}` : ` in ${target.region}`;
  return `integration tests${smoke ? ' (smoke)' : ''}: ${target.description}, bucket ${target.bucket}${where}`;
}

const productionDeps = (env: NodeJS.ProcessEnv): PlanDependencies => ({
  readReadyFiles: () => listReadyFiles(env),
  isAlive: async (info) => {
    // A file left by an environment that was killed: its process is gone (a reused pid still fails HeadBucket).
    const { pid } = info as ReadyInfo & { pid?: number };
    if (pid !== undefined && !processExists(pid)) return false;
    const s3 = new S3Client({ ...s3ClientConfig(info), maxAttempts: 1 });
    try {
      await s3.send(new HeadBucketCommand({ Bucket: info.bucket }), {
        abortSignal: AbortSignal.timeout(2_000),
      });
      return true;
    } catch {
      return false;
    } finally {
      s3.destroy();
    }
  },
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

if (import.meta.main) {
  let plan: IntegPlan | 'help';
  try {
    plan = await planInteg(process.argv.slice(2), process.env, productionDeps(process.env));
  } catch (error) {
    if (!(error instanceof IntegTargetError || error instanceof ConfigError)) throw error;
    process.stderr.write(`npm run integ: ${error.message}\n`);
    process.exit(2);
  }
  if (plan === 'help') {
    process.stdout.write(`${INTEG_USAGE}\n`);
    process.exit(0);
  }
  process.stdout.write(`${plan.announcement}\n`);
  const child = spawn(process.execPath, [VITEST, ...plan.args], {
    stdio: 'inherit',
    env: { ...process.env, ...plan.env },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
